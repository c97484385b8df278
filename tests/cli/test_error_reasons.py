"""Every error has its reason: the one line names the file and the real cause (a link loop
is not "not found", float8 weights are not "tensors that do not fit", deep JSON is not
"invalid JSON" or a RecursionError), and the precision cache never blocks or breaks a run."""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from mae_desktop import cli
from mae_desktop.core.launch_files import SESSION, kind_of
from mae_desktop.engine import save_checkpoint
from mae_desktop.engine.config import MAEConfig
from mae_desktop.engine.model import MAEModel, init_weights
from mae_desktop.session_file import MAX_SESSION_BYTES, Session, read_session
from mae_desktop.training.train import PRESETS

SAMPLE = Path(__file__).resolve().parents[2] / "mae_desktop/resources/samples/chelsea.png"


def one_error(argv, capsys) -> str:
    code = cli.main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("mae-desktop: error: ")]
    assert code == 1 and len(lines) == 1, err
    assert "internal error" not in err and "Traceback" not in err
    return lines[0].removeprefix("mae-desktop: error: ")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = MAEModel(MAEConfig(**PRESETS["test"], norm_pix_loss=False))
    init_weights(model)
    return save_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny.safetensors", model)


def _with_metadata(tiny: Path, dest: Path, text: str) -> Path:
    save_file(load_file(str(tiny)), str(dest), metadata={"mae_desktop": text})
    return dest


@pytest.mark.parametrize("depth", [100, 980, 5000])
def test_deep_but_valid_json_metadata_is_refused_with_its_depth(tiny, tmp_path, capsys, depth):
    with safe_open(str(tiny), framework="pt") as f:
        meta = json.loads(f.metadata()["mae_desktop"])
    text = json.dumps(meta)[:-1] + ', "provenance": ' + "[" * depth + "]" * depth + "}"
    path = _with_metadata(tiny, tmp_path / "deep.safetensors", text)
    line = one_error(["info", path], capsys)
    assert line.startswith("deep.safetensors: the MAE Desktop metadata is nested")
    assert "at most 64" in line or "more than 64" in line
    assert "not valid JSON" not in line


def test_deep_json_in_a_hugging_face_config_is_refused(hf_pair, tmp_path, capsys):
    folder = tmp_path / "hf"
    shutil.copytree(hf_pair[1], folder)
    config = json.loads((folder / "config.json").read_text())
    text = json.dumps(config)[:-1] + ', "x": ' + "[" * 3000 + "]" * 3000 + "}"
    (folder / "config.json").write_text(text)
    line = one_error(["info", folder], capsys)
    assert "config.json is nested too deeply" in line


def test_invalid_json_says_where(tiny, tmp_path, capsys):
    path = _with_metadata(tiny, tmp_path / "bad.safetensors", '{"config": {"depth": 1,}')
    line = one_error(["info", path], capsys)
    assert "is not valid JSON" in line and "line 1, column" in line


def test_float8_weights_are_named_as_such(tiny, tmp_path, capsys):
    with safe_open(str(tiny), framework="pt") as f:
        meta = f.metadata()
    sd = {
        k: v.to(torch.float8_e4m3fn) if v.is_floating_point() else v
        for k, v in load_file(str(tiny)).items()
    }
    save_file(sd, str(tmp_path / "f8.safetensors"), metadata=meta)
    line = one_error(["info", tmp_path / "f8.safetensors"], capsys)
    assert "is float8_e4m3fn; weights must be float32, float16, bfloat16 or float64" in line
    assert "do not fit together" not in line


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_a_symbolic_link_loop_is_not_reported_as_missing(tiny, tmp_path, capsys):
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    for argv in (
        ["info", tmp_path / "a"],
        ["reconstruct", SAMPLE, "--checkpoint", tmp_path / "a", "--out", tmp_path / "o"],
        ["reconstruct", tmp_path / "a", "--checkpoint", tiny, "--out", tmp_path / "o"],
    ):
        line = one_error(argv, capsys)
        assert "symbolic links" in line and "not found" not in line, argv


def test_training_on_one_image_says_it_needs_two(tmp_path, capsys):
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(SAMPLE, folder / "only.png")
    line = one_error(
        ["train", folder, "--preset", "test", "--steps", "1", "--out", tmp_path / "run"], capsys
    )
    assert "has 1 image: training needs at least 2" in line


def _session_bytes() -> bytes:
    return Session(None, None, np.zeros((4, 4), bool)).to_json().encode("utf-8")


def test_a_session_with_a_byte_order_mark_opens(tmp_path):
    path = tmp_path / "notepad.json"
    path.write_bytes(codecs.BOM_UTF8 + _session_bytes())
    assert kind_of(path).kind == SESSION
    assert read_session(path).mask.shape == (4, 4)
    bare = tmp_path / "notepad-session"  # no .json: told by its content
    bare.write_bytes(codecs.BOM_UTF8 + _session_bytes())
    assert kind_of(bare).kind == SESSION


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\xff\xfe{\x00}\x00", "not UTF-8 text"),
        (b'{"format": "mae-desktop-session", ', "not valid JSON"),
        (b'{"format": "something else"}', "not an MAE Desktop session"),
        (None, "too large for a session file"),
    ],
)
def test_a_bad_session_on_the_command_line_gets_its_own_reason(tmp_path, content, reason):
    path = tmp_path / "s.json"
    path.write_bytes(content if content is not None else b" " * (MAX_SESSION_BYTES + 1))
    found = kind_of(path)
    assert found.kind is None and reason in found.problem


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_as_the_precision_cache_does_not_block_auto(tiny, tmp_path, capsys, monkeypatch):
    fifo = tmp_path / "precision.json"
    os.mkfifo(fifo)
    monkeypatch.setenv("MAE_DESKTOP_PRECISION_CACHE", str(fifo))
    done, had_to_unblock = threading.Event(), []

    def unblock():  # a regression blocks on open(): after 20 s it is let go, and fails
        while not done.wait(20):
            had_to_unblock.append(True)
            with contextlib.suppress(OSError):  # nobody is reading it
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    threading.Thread(target=unblock, daemon=True).start()
    code = cli.main(
        [
            "reconstruct",
            str(SAMPLE),
            "--checkpoint",
            str(tiny),
            "--dtype",
            "auto",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    done.set()
    assert code == 0, capsys.readouterr().err
    assert not had_to_unblock, "the run blocked opening the FIFO"
    assert (tmp_path / "o" / "metrics.json").is_file()


def test_a_damaged_precision_cache_means_measuring_again(tiny, tmp_path, capsys, monkeypatch):
    cache = tmp_path / "precision.json"
    cache.write_text('{"version": 1, "choices": ' + "[" * 5000 + "]" * 5000 + "}")
    monkeypatch.setenv("MAE_DESKTOP_PRECISION_CACHE", str(cache))
    for _ in range(2):  # the second run reads what the first wrote
        code = cli.main(
            [
                "reconstruct",
                str(SAMPLE),
                "--checkpoint",
                str(tiny),
                "--dtype",
                "auto",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        assert code == 0, capsys.readouterr().err
    assert json.loads(cache.read_text())["version"] == 1


def test_a_screenshot_name_of_another_kind_is_refused_before_the_window(tmp_path, capsys):
    line = one_error(["--screenshot", tmp_path / "shot.jpg"], capsys)
    assert "--screenshot writes a PNG image: give a .png name, not shot.jpg" in line
