"""Publication figures: formats, scale, text kept as text, NaN cells, safe writes."""

from __future__ import annotations

import io
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from mae_desktop.engine.errors import MAEError
from mae_desktop.engine.figure import (
    NAN_GREY,
    FigureData,
    attention_label,
    build_figure,
    render_figure,
)

TITLES = ("Original", "Masked input (50% masked)", "Reconstruction", "Composite")
ERROR_LABEL = "Per-patch error (pixel MSE)"
NAN_CELL = (1, 2)  # (row, col) of the grid cell left without a value


@pytest.fixture
def data() -> FigureData:
    y, x = np.mgrid[0:64, 0:64]
    image = np.stack([x / 63, y / 63, np.full_like(x, 0.3, dtype=float)], -1).astype(np.float32)
    error = np.linspace(0.01, 0.05, 16, dtype=np.float32).reshape(4, 4)
    error[NAN_CELL] = np.nan
    attention = np.linspace(0.1, 0.4, 16, dtype=np.float32).reshape(4, 4)
    attention[NAN_CELL] = np.nan
    return FigureData(
        original=image,
        masked=image * 0.5,
        reconstruction=np.clip(image + 0.05, 0, 1),
        composite=image,
        error=error,
        attention=attention,
        patch=16,
        error_label=ERROR_LABEL,
        attention_label=attention_label("encoder", 12, "cls"),
        title="photo.png · tiny.safetensors",
        masked_psnr=12.94,
        mask_ratio=0.5,
    )


def svg_texts(path) -> list[str]:
    root = ET.parse(path).getroot()
    return ["".join(el.itertext()) for el in root.iter() if el.tag.endswith("}text")]


def as_number(text: str) -> float | None:
    try:
        return float(text.replace("\N{MINUS SIGN}", "-"))
    except ValueError:
        return None


def test_png_scale_sets_the_resolution(data, tmp_path):
    one = render_figure(data, tmp_path / "one.png")
    two = render_figure(data, tmp_path / "two.png", scale=2)
    with Image.open(one) as a, Image.open(two) as b:
        a.load()
        b.load()
        assert a.format == b.format == "PNG"
        assert b.size == (2 * a.size[0], 2 * a.size[1])
        assert a.size[0] > 6 * 64  # six panels, none shrunk below the image's own size


def test_svg_keeps_titles_and_colorbar_ticks_as_text(data, tmp_path):
    path = render_figure(data, tmp_path / "fig.svg")
    texts = svg_texts(path)
    joined = "\n".join(texts)
    for title in (*TITLES, ERROR_LABEL, "photo.png · tiny.safetensors", "masked PSNR 12.94 dB"):
        assert title in joined
    # the wrapped attention title: its words, 1-based layer number included
    assert "encoder layer 12" in joined and "mean of heads, CLS" in joined
    ticks = [v for v in map(as_number, texts) if v is not None]
    assert any(0.01 <= v <= 0.05 for v in ticks)  # the error bar's range
    assert any(0.1 <= v <= 0.4 for v in ticks)  # the attention bar's range
    assert b"<image" in path.read_bytes()  # panels stay rasters


def test_pdf_titles_are_extractable(data, tmp_path):
    pypdf = pytest.importorskip("pypdf")
    path = render_figure(data, tmp_path / "fig.pdf")
    page = pypdf.PdfReader(path).pages[0]
    text = page.extract_text()
    for title in (*TITLES, ERROR_LABEL, "masked PSNR 12.94 dB", "photo.png"):
        assert title in text
    fonts = [f.get_object()["/Subtype"] for f in page["/Resources"]["/Font"].values()]
    assert fonts and "/Type3" not in fonts  # TrueType outlines, not Type 3 glyph procedures


def test_psnr_none_and_custom_titles(data, tmp_path):
    custom = ("a", "b", "c", "d", "e", "f")
    path = render_figure(replace(data, masked_psnr=None, panel_titles=custom), tmp_path / "f.svg")
    texts = svg_texts(path)
    assert "masked PSNR n/a" in texts and set(custom) <= set(texts)
    with pytest.raises(MAEError, match="6 panels"):
        render_figure(replace(data, panel_titles=("a",)), tmp_path / "g.svg")


def test_without_attention_or_any_error_value(data, tmp_path):
    blank = replace(data, attention=None, error=np.full((4, 4), np.nan, np.float32))
    joined = "\n".join(svg_texts(render_figure(blank, tmp_path / "f.svg")))
    assert "(no attention map)" in joined and "(no values)" in joined


@pytest.mark.parametrize("name", ["fig.txt", "fig", "fig.jpeg"])
def test_bad_suffix_is_refused(data, tmp_path, name):
    with pytest.raises(MAEError, match=r"\.png, \.svg or \.pdf"):
        render_figure(data, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("scale", [0, -1, 8.5, math.nan])
def test_scale_out_of_range_is_refused(data, tmp_path, scale):
    with pytest.raises(MAEError, match="scale"):
        render_figure(data, tmp_path / "fig.png", scale=scale)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_path_names_it_and_leaves_nothing(data, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    target = blocker / "fig.png"  # its "folder" is a file: works even as root
    with pytest.raises(MAEError, match="a-file/fig.png"):
        render_figure(data, target)
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]


def test_a_failed_write_keeps_the_old_file(data, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    target = tmp_path / "fig.png"
    target.write_bytes(b"old")

    def half_then_fail(self, fh, **kwargs):
        fh.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", half_then_fail)
    with pytest.raises(MAEError, match="No space left"):
        render_figure(data, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


def test_nan_cells_are_grey(data, tmp_path):
    path = render_figure(data, tmp_path / "fig.png")
    with Image.open(path) as im:
        pixels = np.asarray(im.convert("RGB"), dtype=np.float32) / 255
    fig = build_figure(data)
    fig.savefig(io.BytesIO(), format="png")  # lays the figure out as render_figure does
    height = pixels.shape[0]

    def pixel(ax, row, col):
        x, y = ax.transData.transform((col * 16 + 8, row * 16 + 8))
        return pixels[int(height - y), int(x)]

    for ax in (fig.axes[4], fig.axes[5]):  # error, attention
        assert np.allclose(pixel(ax, *NAN_CELL), NAN_GREY, atol=0.02)
        finite = pixel(ax, 3, 3)  # the highest value: the colormap's bright end, not grey
        assert np.ptp(finite) > 0.3


def test_attention_label_counts_from_1():
    assert attention_label("encoder", 12, "cls") == (
        "Attention: encoder layer 12, mean of heads, CLS"
    )
    assert attention_label("decoder", 1, (0, 3), head=2) == (
        "Attention: decoder layer 1, head 2, query patch row 1, col 4"
    )


def test_importing_the_module_does_not_import_matplotlib():
    code = (
        "import sys, mae_desktop.engine.figure, mae_desktop.cli\n"
        "mae_desktop.cli.build_parser()\n"
        "sys.exit(1 if 'matplotlib' in sys.modules else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
