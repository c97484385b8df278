"""Hostile and broken inputs on the command line: one clear line, the right exit code (1 for
bad input, 2 for usage), never `internal error`, and never a result from a bad input."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from mae_desktop import cli
from mae_desktop.engine import save_checkpoint
from mae_desktop.engine.config import MAEConfig
from mae_desktop.engine.model import MAEModel, init_weights
from mae_desktop.training.train import PRESETS

ROOT = Path(__file__).resolve().parents[2]


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def usage(argv, capsys) -> str:
    """Run a command that must be a usage error (exit 2); its message."""
    with pytest.raises(SystemExit) as exited:
        cli.main([str(a) for a in argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    return err.strip().splitlines()[-1]


def one_error(err: str) -> str:
    """The single error line on stderr (and nothing else)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mae-desktop: error: "), err
    assert "internal error" not in err
    return lines[0].removeprefix("mae-desktop: error: ")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = MAEModel(MAEConfig(**PRESETS["test"], norm_pix_loss=False))
    init_weights(model)
    return save_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny.safetensors", model)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    from PIL import Image

    folder = tmp_path_factory.mktemp("photos")
    y, x = np.mgrid[0:40, 0:48]
    rgb = (np.stack([x / 47, y / 39, (x + y) / 86], -1) * 255).astype(np.uint8)
    for i in range(12):
        Image.fromarray(np.roll(rgb, i, 1)).save(folder / f"p{i:02}.png")
    return folder


def changed(tmp_path: Path, tiny: Path, name: str = "bad.safetensors", raw=None, **change):
    with safe_open(str(tiny), framework="pt") as f:
        meta = json.loads(f.metadata()["mae_desktop"])
    meta["config"].update(change)
    path = tmp_path / name
    text = raw if raw is not None else json.dumps(meta)
    save_file(load_file(str(tiny)), str(path), metadata={"mae_desktop": text})
    return path


# -- bad checkpoints: exit 1, one line ------------------------------------------------------------
@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("random bytes", "cannot read bad.pth: not a PyTorch checkpoint"),
        ("metadata list", "bad.safetensors: the MAE Desktop metadata is a JSON list"),
        ("depth string", "bad.safetensors: metadata depth is '6': expected a whole number"),
        ("patch 0", "bad.safetensors: metadata patch_size is 0: expected 1 to 32 pixels"),
        ("depth 100000", "bad.safetensors: metadata depth is 100000: at most 64 layers"),
    ],
)
def test_bad_checkpoints_are_one_clear_line(tmp_path, tiny, photos, capsys, case, message):
    if case == "random bytes":
        path = tmp_path / "bad.pth"
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif case == "metadata list":
        path = changed(tmp_path, tiny, raw="[1, 2]")
    elif case == "depth string":
        path = changed(tmp_path, tiny, depth="6")
    elif case == "patch 0":
        path = changed(tmp_path, tiny, patch_size=0)
    else:
        path = changed(tmp_path, tiny, depth=100000)
    for argv in (["info", path], ["evaluate", path, photos]):
        code, _, err = run(argv, capsys)
        assert code == 1 and message in one_error(err)


def test_one_dimensional_conv_weight(tmp_path, tiny, capsys):
    sd = load_file(str(tiny))
    sd.pop("patch_embed.weight")
    sd["patch_embed.proj.weight"] = torch.zeros(32)
    sd["patch_embed.proj.bias"] = sd.pop("patch_embed.bias")
    torch.save({"model": sd}, tmp_path / "conv.pth")
    code, _, err = run(["info", tmp_path / "conv.pth"], capsys)
    assert code == 1
    assert one_error(err) == (
        "conv.pth: tensor patch_embed.proj.weight has shape (32,); expected 4 dimensions"
    )


# -- usage errors: exit 2 -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reconstruct", "x.png", "--out", "o", "--seed", "-1"], "argument --seed: must be a"),
        (["evaluate", "c", "f", "--seed", "-1"], "argument --seed: must be a whole number"),
        (["train", "f", "--seed", "-1"], "argument --seed"),
        (["train", "f", "--steps", "-5"], "argument --steps: must be at least 1, got -5"),
        (["train", "f", "--steps", "0"], "argument --steps: must be at least 1, got 0"),
        (["train", "f", "--minutes", "-1"], "argument --minutes: must be a number above 0"),
        (["train", "f", "--minutes", "nan"], "argument --minutes: must be a number above 0"),
        (["train", "f", "--lr", "0"], "argument --lr: must be a number above 0"),
        (["train", "f", "--batch-size", "0"], "argument --batch-size: must be at least 1"),
        (["train", "f", "--warmup", "-1"], "argument --warmup: must be 0 or more"),
    ],
)
def test_out_of_range_options_are_usage_errors(capsys, argv, message):
    assert message in usage(argv, capsys)


# -- --out is checked before the model loads ------------------------------------------------------
@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("a-file", "output folder (--out) {d}/a-file is a file, not a folder"),
        ("a-file/sub", "cannot be created: {d}/a-file is a file, not a folder"),
        ("/proc/mae-desktop-test", "cannot write to output folder (--out) /proc/mae-desktop-test"),
    ],
)
def test_bad_out_is_found_before_the_model_loads(
    tmp_path, photo, capsys, monkeypatch, out, message
):
    from mae_desktop.engine import session

    def never(*_a, **_k):
        raise AssertionError("the model was loaded before --out was checked")

    monkeypatch.setattr(session.ModelSession, "open", never)
    (tmp_path / "a-file").write_text("x")
    target = out if out.startswith("/") else tmp_path / out
    code, _, err = run(["reconstruct", photo, "--checkpoint", "c", "--out", target], capsys)
    assert code == 1 and message.format(d=tmp_path) in one_error(err)


def test_train_out_and_export_are_checked(tmp_path, photos, capsys):
    (tmp_path / "a-file").write_text("x")
    argv = ["train", photos, "--preset", "test", "--steps", "1"]
    code, _, err = run([*argv, "--out", tmp_path / "a-file"], capsys)
    assert code == 1 and "run folder (--out)" in one_error(err)
    code, _, err = run([*argv, "--out", tmp_path / "run", "--export", tmp_path], capsys)
    assert code == 1 and "is a folder; give a file name" in one_error(err)


# -- strict metrics.json --------------------------------------------------------------------------
def test_metrics_json_is_strict_json_with_null_for_undefined(tmp_path, tiny, photo, capsys):
    np.save(tmp_path / "none.npy", np.zeros((4, 4), bool))  # nothing masked: no PSNR
    out = tmp_path / "out"
    argv = ["reconstruct", photo, "--checkpoint", tiny, "--out", out]
    code, _, err = run([*argv, "--mask", tmp_path / "none.npy"], capsys)
    assert code == 0, err

    def no_constants(name):
        raise AssertionError(f"metrics.json holds {name}")

    metrics = json.loads((out / "metrics.json").read_text(), parse_constant=no_constants)
    assert metrics["masked_psnr_db"] is None and metrics["masked_patches"] == 0


def test_empty_mask_is_an_error(tmp_path, tiny, photo, capsys):
    np.save(tmp_path / "empty.npy", np.zeros((0, 0), bool))
    argv = ["reconstruct", photo, "--checkpoint", tiny, "--out", tmp_path / "o"]
    code, _, err = run([*argv, "--mask", tmp_path / "empty.npy"], capsys)
    assert code == 1 and "mask empty.npy is empty (0x0)" in one_error(err)


# -- training -------------------------------------------------------------------------------------
class _Exploit:
    def __reduce__(self):
        return (os.system, ("true",))


def test_resume_from_a_pickle_is_one_line(tmp_path, photos, capsys):
    torch.save({"x": _Exploit()}, tmp_path / "evil.pt")
    argv = ["train", photos, "--preset", "test", "--steps", "1", "--out", tmp_path / "run"]
    code, _, err = run([*argv, "--resume", tmp_path / "evil.pt"], capsys)
    assert code == 1
    assert one_error(err).startswith("evil.pt is not a training state MAE Desktop wrote")
    assert "weights_only" not in err


def test_training_that_diverges_stops_with_an_error(tmp_path, photos, capsys):
    argv = ["train", photos, "--preset", "test", "--steps", "4", "--batch-size", "2"]
    argv += ["--lr", "1e30", "--warmup", "0", "--out", tmp_path / "run", "--device", "cpu"]
    code, _, err = run([*argv, "--amp", "off"], capsys)
    assert code == 1 and "training diverged at step" in err and "internal error" not in err
    assert (
        not (tmp_path / "run" / "history.json").exists()
        or "NaN" not in (tmp_path / "run" / "history.json").read_text()
    )


# -- in a child process: hangs and memory ---------------------------------------------------------
def _child(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """python -m mae_desktop argv, capped at 3 GB of address space, killed at timeout."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    return subprocess.run(
        [sys.executable, "-m", "mae_desktop", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=cap,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1"),
    )


def test_fifo_and_memory_cases_end_in_clear_errors(tmp_path, tiny, photo):
    """A FIFO checkpoint and image (a regression would block: the timeout fails the test) and
    a file declaring 100000 layers (a regression would allocate ~177 GB: the cap stops it)."""
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "pipe.png").symlink_to(tmp_path / "pipe")
    big = changed(tmp_path, tiny, "deep.safetensors", depth=100000)
    for argv, message in (
        (["info", tmp_path / "pipe"], "is a pipe (FIFO), not an ordinary file"),
        (["info", big], "deep.safetensors: metadata depth is 100000: at most 64 layers"),
        (
            ["reconstruct", tmp_path / "pipe.png", "--checkpoint", tiny, "--out", tmp_path / "o"],
            "is a pipe (FIFO)",
        ),
    ):
        done = _child(argv)
        assert done.returncode == 1 and message in one_error(done.stderr), done.stderr
