"""No non-finite result is ever shown or written as a success: normalisation constants are
checked as the float32 the pass uses, and a pass that gives NaN or infinity is an error
naming the likely cause (CLI: one line, exit 1, nothing written)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from mae_desktop import cli
from mae_desktop.engine import save_checkpoint
from mae_desktop.engine.config import MAEConfig, parse_input_norm
from mae_desktop.engine.errors import MAEError
from mae_desktop.engine.model import MAEModel, init_weights
from mae_desktop.engine.session import ModelSession
from mae_desktop.training.train import PRESETS

SAMPLE = Path(__file__).resolve().parents[2] / "mae_desktop/resources/samples/chelsea.png"


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_error(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("mae-desktop: note:")]
    assert len(lines) == 1 and lines[0].startswith("mae-desktop: error: "), err
    assert "internal error" not in err and "Traceback" not in err
    return lines[0].removeprefix("mae-desktop: error: ")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = MAEModel(MAEConfig(**PRESETS["test"], norm_pix_loss=False))
    init_weights(model)
    return save_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny.safetensors", model)


@pytest.fixture(scope="module")
def huge(tiny, tmp_path_factory) -> Path:
    """The same model with finite weights far too large for float32 activations."""
    sd = load_file(str(tiny))
    from safetensors import safe_open

    with safe_open(str(tiny), framework="pt") as f:
        meta = f.metadata()
    scaled = {k: (v * 1e30 if k.endswith("weight") and v.ndim >= 2 else v) for k, v in sd.items()}
    assert all(torch.isfinite(v).all() for v in scaled.values())
    path = tmp_path_factory.mktemp("huge") / "huge.safetensors"
    save_file(scaled, str(path), metadata=meta)
    return path


@pytest.mark.parametrize("spec", ["0.5:1e-40", "0.5:1e-45", "0.5:1e-5", "1e39:0.5", "0.5:1e5"])
def test_input_norm_outside_float32_sense_is_refused_before_anything_runs(
    tiny, tmp_path, capsys, spec
):
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as exited:  # a bad option value: a usage error
        cli.main(
            [
                str(a)
                for a in [
                    "reconstruct",
                    SAMPLE,
                    "--checkpoint",
                    tiny,
                    "--input-norm",
                    spec,
                    "--out",
                    out,
                ]
            ]
        )
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "input normalisation" in err and ("std must be" in err or "mean must be" in err)
    assert "Traceback" not in err and not out.exists()
    with pytest.raises(ValueError, match="must be"):
        parse_input_norm(spec)


@pytest.mark.parametrize("dtype", ["fp32", "int8", "auto"])
def test_overflowing_weights_exit_1_and_write_nothing(huge, tmp_path, capsys, dtype):
    out = tmp_path / "o"
    code, _, err = run(
        ["reconstruct", SAMPLE, "--checkpoint", huge, "--dtype", dtype, "--out", out], capsys
    )
    assert code == 1, err
    line = one_error(err)
    assert "huge.safetensors gave a non-finite" in line and "NaN or infinity" in line
    assert "weights" in line or "overflowed" in line
    assert not (out / "metrics.json").exists() and not (out / "reconstruction.png").exists()


def test_a_hugging_face_std_of_1e_45_is_refused_naming_the_file(hf_pair, tmp_path, capsys):
    folder = tmp_path / "hf"
    shutil.copytree(hf_pair[1], folder)
    (folder / "preprocessor_config.json").write_text(
        json.dumps({"image_mean": [0.5, 0.5, 0.5], "image_std": [1e-45, 0.5, 0.5]})
    )
    code, _, err = run(["info", folder], capsys)
    assert code == 1
    line = one_error(err)
    assert "std" in line and "from 0.0001 to 10000" in line


def test_our_metadata_with_a_tiny_std_is_refused(tiny, tmp_path, capsys):
    from safetensors import safe_open

    with safe_open(str(tiny), framework="pt") as f:
        meta = json.loads(f.metadata()["mae_desktop"])
    meta["config"]["std"] = [1e-30, 1e-30, 1e-30]
    path = tmp_path / "bad.safetensors"
    save_file(load_file(str(tiny)), str(path), metadata={"mae_desktop": json.dumps(meta)})
    code, _, err = run(["info", path], capsys)
    assert code == 1 and "std" in one_error(err)


def test_the_engine_never_returns_a_non_finite_reconstruction(huge):
    import numpy as np

    session = ModelSession.open(huge, "cpu", "fp32")
    image = np.full((*session.config.image_size, 3), 0.5, np.float32)
    mask = np.zeros(session.config.grid_size, bool)
    mask[0, 0] = True
    for call in (
        lambda: session.analyse(image, mask),
        lambda: session.reconstruct(image, mask),
        lambda: session.predict(image, mask),
        lambda: session.attention(image, mask, query="mean"),
    ):
        with pytest.raises(MAEError, match="non-finite"):
            call()


@pytest.mark.parametrize("spec", ["0.5:1e-4", "0.5:1e4", "1e4:0.5", "-1e4:1", "0:0.00011"])
def test_the_edges_of_the_ranges_are_accepted(spec):
    mean, std = parse_input_norm(spec)  # the message says "from 0.0001 to 10000"
    assert min(std) > 0 and all(abs(m) <= 1e4 for m in mean)
