"""Only the image formats we name are decoded, by content, and never by an external
program; high-bit-depth scans convert exactly and without full-size float64 temporaries."""

from __future__ import annotations

import subprocess
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from mae_desktop.engine.errors import MAEError
from mae_desktop.engine.images import read_image

EPS = b"""%!PS-Adobe-3.0 EPSF-3.0
%%BoundingBox: 0 0 8 8
%%EndComments
{ } loop
showpage
%%EOF
"""


@pytest.fixture
def no_programs(monkeypatch):
    """Any attempt to start a program (Ghostscript) fails the test."""
    started = []

    def refuse(*args, **kwargs):
        started.append(args)
        raise AssertionError(f"an external program was started: {args[:1]}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    return started


def _rgb() -> Image.Image:
    """A smooth picture (lossy codecs keep it close) with a little texture."""
    y, x = np.mgrid[0:24, 0:32]
    rgb = np.stack([x * 8, y * 10, (x + y) * 4], axis=-1) % 256
    return Image.fromarray(rgb.astype(np.uint8))


@pytest.mark.parametrize(
    ("fmt", "lossless"),
    [
        ("PNG", True),
        ("JPEG", False),
        ("BMP", True),
        ("GIF", False),
        ("TIFF", True),
        ("WEBP", False),
        ("PPM", True),
    ],
)
def test_each_named_format_opens_by_content_whatever_its_name(tmp_path, fmt, lossless):
    img = _rgb()
    path = tmp_path / "photo.wrongname"  # the name says nothing: the content decides
    img.save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    got = np.asarray(read_image(path), dtype=np.int16)
    want = np.asarray(img, dtype=np.int16)
    assert got.shape == want.shape
    if lossless or fmt == "WEBP":
        assert np.array_equal(got, want)
    else:  # lossy or palette formats: the same picture, near enough
        assert np.abs(got - want).mean() < 12


def test_greyscale_pgm_opens(tmp_path):
    grey = np.arange(8 * 8, dtype=np.uint8).reshape(8, 8) * 3
    Image.fromarray(grey).save(tmp_path / "g.pgm")
    assert np.array_equal(np.asarray(read_image(tmp_path / "g.pgm"))[..., 1], grey)


def test_postscript_named_png_is_refused_without_running_anything(tmp_path, no_programs):
    path = tmp_path / "innocent.png"
    path.write_bytes(EPS)  # an infinite loop, if Ghostscript ever ran it
    with pytest.raises(MAEError, match=r"innocent\.png: not an image of a kind .* reads"):
        read_image(path)
    assert no_programs == []


@pytest.mark.parametrize("fmt", ["ICO", "TGA", "PCX", "SGI", "DDS"])
def test_formats_we_do_not_name_are_refused_even_when_pillow_could(tmp_path, fmt):
    path = tmp_path / "picture.png"
    try:
        _rgb().save(path, format=fmt)
    except (KeyError, OSError, ValueError):
        pytest.skip(f"this Pillow cannot write {fmt}")
    assert Image.open(path).format == fmt  # Pillow alone would read it
    with pytest.raises(MAEError, match="PNG, JPEG, BMP, GIF, TIFF, WEBP, PPM"):
        read_image(path)


def test_16_bit_greyscale_is_scaled_exactly_across_row_blocks(tmp_path):
    rng = np.random.default_rng(3)
    values = rng.integers(0, 65536, (1100, 7), dtype=np.uint16)  # over two 512-row blocks
    values[0, :3] = [0, 65535, 128]
    Image.fromarray(values).save(tmp_path / "scan.png")  # a 16-bit greyscale PNG
    got = np.asarray(read_image(tmp_path / "scan.png"))
    # by hand: 16 bits to 8 is v * 255 / 65535 = v / 257, rounded (never a tie)
    want = np.floor(values.astype(np.float64) / 257.0 + 0.5).astype(np.uint8)
    assert np.array_equal(got[..., 0], want)
    assert np.array_equal(got[..., 0], got[..., 2])
    assert list(got[0, :3, 0]) == [0, 255, 0]


def test_a_large_16_bit_scan_needs_no_full_size_float64_copy(tmp_path):
    rows, cols = 4000, 1000
    values = (np.arange(rows * cols, dtype=np.uint32) % 65536).astype(np.uint16)
    Image.fromarray(values.reshape(rows, cols)).save(tmp_path / "big.png", compress_level=1)
    tracemalloc.start()
    try:
        read_image(tmp_path / "big.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_float64_copy = rows * cols * 8
    assert peak < one_float64_copy, f"peak {peak / 1e6:.0f} MB"
