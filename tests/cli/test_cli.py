"""The command line: outputs, arrays, exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mae_desktop import cli
from mae_desktop.engine import masks


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_reconstruct_writes_every_output(hf_pair, photo, tmp_path, capsys):
    _, folder = hf_pair
    out = tmp_path / "out"
    code, stdout, err = run(
        [
            "reconstruct",
            photo,
            "--checkpoint",
            folder,
            "--out",
            out,
            "--mask-ratio",
            "0.5",
            "--seed",
            "3",
            "--save-arrays",
        ],
        capsys,
    )
    assert code == 0, err
    for name in ("original", "masked", "reconstruction", "composite", "error", "attention"):
        with Image.open(out / f"{name}.png") as im:
            assert im.size == (64, 64)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["masked_patches"] == 8 and metrics["mask_ratio"] == 0.5
    assert metrics["seed"] == 3 and metrics["device"] == "cpu" and metrics["dtype"] == "fp32"
    assert metrics["norm_pix_mode"] == "plain" and metrics["target"] == "pixel"
    assert len(metrics["checkpoint_sha256"]) == 64
    for key in ("loss_target_space", "masked_mse", "masked_psnr_db", "latency_ms"):
        assert isinstance(metrics[key], float)
    rec = np.load(out / "reconstruction.npy")
    assert rec.shape == (64, 64, 3) and rec.dtype == np.float32
    assert np.load(out / "composite.npy").shape == (64, 64, 3)
    mask = np.load(out / "mask.npy")
    assert mask.dtype == bool and (mask == masks.random_mask((4, 4), 0.5, 3)).all()
    att = np.load(out / "attention.npy")
    assert att.shape == (2, 4, 4, 4) and (np.isnan(att) == mask[None, None]).all()
    assert "masked PSNR" in stdout


def test_mask_file_and_several_images(hf_pair, photo, tmp_path, capsys):
    _, folder = hf_pair
    m = masks.center_mask((4, 4), 0.25)
    masks.save_mask(tmp_path / "m.png", m)
    other = tmp_path / "sub" / "photo.png"
    other.parent.mkdir()
    other.write_bytes(photo.read_bytes())
    out = tmp_path / "many"
    code, _, err = run(
        [
            "reconstruct",
            photo,
            other,
            "--checkpoint",
            folder,
            "--mask",
            tmp_path / "m.png",
            "--out",
            out,
            "--save-arrays",
        ],
        capsys,
    )
    assert code == 0, err
    assert (np.load(out / "photo" / "mask.npy") == m).all()
    assert (out / "photo-2" / "composite.png").is_file()
    assert json.loads((out / "photo" / "metrics.json").read_text())["mask_file"].endswith("m.png")


@pytest.mark.parametrize("mode", masks.MASK_MODES)
def test_mask_modes(hf_pair, photo, tmp_path, capsys, mode):
    code, _, err = run(
        [
            "reconstruct",
            photo,
            "--checkpoint",
            hf_pair[1],
            "--mask-mode",
            mode,
            "--out",
            tmp_path / mode,
        ],
        capsys,
    )
    assert code == 0, err


def test_info(hf_pair, capsys):
    code, out, _ = run(["info", hf_pair[1]], capsys)
    assert code == 0
    assert "Hugging Face ViTMAE" in out and "decoder" in out and "parameters" in out
    code, out, _ = run(["info", hf_pair[1], "--json"], capsys)
    info = json.loads(out)
    assert info["decoder"] is True and info["target"] == "pixels"


@pytest.mark.parametrize(
    "case", ["bad-image", "bad-checkpoint", "missing-checkpoint", "bad-mask", "norm-pix-mode"]
)
def test_bad_input_is_one_line_and_exit_1(hf_pair, photo, tmp_path, capsys, case):
    (tmp_path / "junk.jpg").write_text("not an image")
    (tmp_path / "junk.pth").write_bytes(b"garbage")
    np.save(tmp_path / "m.npy", np.zeros((3, 3), bool))
    ckpt = hf_pair[1]
    argv = {
        "bad-image": ["reconstruct", tmp_path / "junk.jpg", "--checkpoint", ckpt],
        "bad-checkpoint": ["reconstruct", photo, "--checkpoint", tmp_path / "junk.pth"],
        "missing-checkpoint": ["info", tmp_path / "nothing.pth"],
        "bad-mask": ["reconstruct", photo, "--checkpoint", ckpt, "--mask", tmp_path / "m.npy"],
        "norm-pix-mode": ["reconstruct", photo, "--checkpoint", ckpt, "--norm-pix", "gt-stats"],
    }[case]
    if argv[0] == "reconstruct":
        argv += ["--out", tmp_path / "o"]
    code, _, err = run(argv, capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mae-desktop: error: ")
    assert "Traceback" not in err


def test_usage_errors_exit_2(photo, capsys):
    for argv in (
        ["reconstruct", photo],
        ["reconstruct", photo, "--out", "o", "--mask-ratio", "1.5"],
        ["reconstruct", photo, "--out", "o", "--mask", "m.npy", "--mask-ratio", "0.5"],
        ["frobnicate"],
    ):
        with pytest.raises(SystemExit) as exc:
            cli.main([str(a) for a in argv])
        assert exc.value.code == 2
    capsys.readouterr()


def test_no_default_model_is_a_clear_error(photo, tmp_path, monkeypatch, capsys):
    import mae_desktop.paths as paths

    monkeypatch.setattr(paths, "default_model_candidates", lambda: [tmp_path / "none"])
    code, _, err = run(["reconstruct", photo, "--out", tmp_path / "o"], capsys)
    assert code == 1 and "no bundled default model" in err and "--checkpoint" in err


def test_subprocess_exit_code_and_no_traceback(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"garbage")
    result = subprocess.run(
        [sys.executable, "-m", "mae_desktop", "info", str(tmp_path / "junk.pth")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip() == "mae-desktop: error: cannot read junk.pth: not a PyTorch "
        "checkpoint"
    )
    debug = subprocess.run(
        [sys.executable, "main.py", "--debug", "info", str(tmp_path / "junk.pth")],
        capture_output=True,
        text=True,
        cwd=str(__import__("pathlib").Path(__file__).parents[2]),
    )
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_bundled_default_model_reconstructs_a_sample(tmp_path, capsys):
    from mae_desktop.paths import default_model, package_resources

    assert default_model() is not None, "the bundled model is missing from models/"
    sample = package_resources() / "samples" / "astronaut.png"
    code, _out, err = run(["reconstruct", sample, "--out", tmp_path], capsys)
    assert code == 0, err
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["checkpoint_format"] == "mae-desktop" and metrics["masked_patches"] == 147
    # better than the baselines on this photo and mask: mean-colour fill 10.2 dB, OpenCV's
    # Telea inpainting 11.0 dB
    assert metrics["masked_psnr_db"] > 11.0


def test_metrics_json_holds_the_numbers_of_the_reconstruction(hf_pair, photo, tmp_path, capsys):
    """metrics.json's numbers, recomputed by hand from the same model, image and mask:
    masked MSE over the masked pixels of the clipped prediction, PSNR = 10 log10(1 / MSE)."""
    import math

    from mae_desktop.engine import ModelSession

    _, folder = hf_pair
    argv = ["reconstruct", photo, "--checkpoint", folder, "--out", tmp_path]
    code, _, err = run([*argv, "--mask-mode", "center", "--mask-ratio", "0.25"], capsys)
    assert code == 0, err
    got = json.loads((tmp_path / "metrics.json").read_text())
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True  # the centred box of a quarter of the grid
    session = ModelSession.open(folder, "cpu")
    image = session.load_image(photo)
    rec = session.reconstruct(image, mask)
    hidden = np.repeat(np.repeat(mask, 16, 0), 16, 1)
    mse = float(((np.clip(rec.prediction, 0, 1) - image)[hidden] ** 2).mean())
    assert got["masked_patches"] == 4 and got["num_patches"] == 16
    assert got["mask_ratio"] == 0.25 and got["mask_mode"] == "center"
    assert got["masked_mse"] == pytest.approx(mse, rel=1e-4)
    assert got["masked_psnr_db"] == pytest.approx(10 * math.log10(1 / mse), rel=1e-4)
    assert got["loss_target_space"] == pytest.approx(rec.loss, rel=1e-4)
    assert got["norm_pix_mode"] == "plain" and got["uses_ground_truth"] is False
