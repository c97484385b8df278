"""`reconstruct --figure`: where figures go, what they say, and bad arguments failing early."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from mae_desktop import cli


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def svg_text(path) -> str:
    root = ET.parse(path).getroot()
    return "\n".join("".join(el.itertext()) for el in root.iter() if el.tag.endswith("}text"))


@pytest.fixture
def no_model_load(monkeypatch):
    """Fail the test if the command gets as far as opening a model."""
    from mae_desktop.engine.session import ModelSession

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the arguments were checked")

    monkeypatch.setattr(ModelSession, "open", refuse)


def test_svg_figure_names_the_image_and_psnr(hf_pair, photo, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["reconstruct", photo, "--checkpoint", hf_pair[1], "--out", out]
    code, stdout, err = run([*argv, "--mask-ratio", "0.5", "--figure", "fig.svg"], capsys)
    assert code == 0, err
    text = svg_text(out / "fig.svg")
    metrics = json.loads((out / "metrics.json").read_text())
    psnr = f"masked PSNR {metrics['masked_psnr_db']:.2f} dB"
    assert "photo.png" in text and "vitmae" in text and psnr in text
    assert "Masked input (50% masked)" in text
    # one numbering: the figure and metrics.json name the same, 1-based, last layer
    attention = metrics["attention"]
    assert attention["layer"] == 2 and "from 1" in attention["numbering"]
    assert "encoder layer 2," in text
    assert f"figure {out / 'fig.svg'}" in stdout


def test_several_images_get_one_figure_each(hf_pair, photo, tmp_path, capsys):
    other = tmp_path / "sub" / "photo.png"
    other.parent.mkdir()
    other.write_bytes(photo.read_bytes())
    out = tmp_path / "many"
    argv = ["reconstruct", photo, other, "--checkpoint", hf_pair[1], "--out", out]
    code, _, err = run([*argv, "--figure", "figure.png", "--figure-scale", "2"], capsys)
    assert code == 0, err
    sizes = []
    for folder in ("photo", "photo-2"):
        with Image.open(out / folder / "figure.png") as im:
            sizes.append(im.size)
    assert sizes[0] == sizes[1] and sizes[0][0] > 1000  # scale 2: 200 dpi


def test_a_path_with_a_folder_is_used_as_is_for_one_image(hf_pair, photo, tmp_path, capsys):
    target = tmp_path / "figs" / "f.pdf"
    argv = ["reconstruct", photo, "--checkpoint", hf_pair[1], "--out", tmp_path / "o"]
    code, _, err = run([*argv, "--figure", target], capsys)
    assert code == 0, err
    assert target.read_bytes().startswith(b"%PDF")
    assert not (tmp_path / "o" / "f.pdf").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--figure", "fig.txt"], "'.txt' files (fig.txt); use .png, .svg or .pdf"),
        (["--figure", "fig.png", "--figure-scale", "0"], "figure scale must be in (0, 8]"),
    ],
)
def test_bad_figure_arguments_fail_before_the_model_loads(
    photo, tmp_path, capsys, no_model_load, extra, message
):
    out = tmp_path / "out"
    argv = ["reconstruct", photo, "--checkpoint", tmp_path / "missing.pth", "--out", out]
    code, stdout, err = run([*argv, *extra], capsys)
    assert code == 1 and stdout == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mae-desktop: error: ")
    assert message in err
    assert not out.exists()


def test_a_folder_in_the_path_with_several_images_is_refused(
    photo, tmp_path, capsys, no_model_load
):
    argv = ["reconstruct", photo, photo, "--out", tmp_path / "out", "--figure", "figs/f.svg"]
    code, _, err = run(argv, capsys)
    assert code == 1 and "give a file name only" in err and "2 images" in err
    assert not (tmp_path / "out").exists()
