"""Mask files: what File > Save Mask writes, File > Open Mask (and `--mask`) reads back.

Any mask of any grid (non-square too) survives save_mask -> load_mask in every format
load_mask reads: .npy (the grid as bool, or 0/1 numbers), .png at patch resolution (one pixel
a cell, white = masked) and .png at image resolution (patch x patch pixels a cell). The
files are what other tools expect (checked with Pillow and numpy, not with load_mask). A
file of image-sized values is reduced by majority per patch (a tie is visible); a mask
whose size is neither the grid nor a whole number of equal patches of it is refused with
MAEError, and so are file types other than .npy and .png.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from mae_desktop.engine.errors import MAEError
from mae_desktop.engine.masks import load_mask, save_mask

SIDES = st.integers(1, 24)
MASKS = arrays(bool, st.tuples(SIDES, SIDES))
SUFFIXES = {"npy": (".npy", ".NPY"), "png": (".png", ".PNG", ".Png")}


def majority(values: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Each cell masked when more than half of its k x k pixels are (a tie stays visible),
    written as loops."""
    gh, gw = grid
    k = values.shape[0] // gh
    out = np.zeros(grid, dtype=bool)
    for r in range(gh):
        for c in range(gw):
            block = [bool(values[r * k + i, c * k + j]) for i in range(k) for j in range(k)]
            out[r, c] = 2 * sum(block) > len(block)
    return out


def fits(shape: tuple[int, int], grid: tuple[int, int]) -> bool:
    """The grid itself, or k x k pixels for every cell of it."""
    return any(shape == (k * grid[0], k * grid[1]) for k in range(1, shape[0] + 1))


@settings(max_examples=80, deadline=None)
@given(mask=MASKS, suffix=st.sampled_from(SUFFIXES["npy"] + SUFFIXES["png"]))
def test_any_mask_survives_at_patch_resolution(mask: np.ndarray, suffix: str):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"mask{suffix}"
        save_mask(path, mask)
        if suffix.lower() == ".npy":
            raw = np.load(path)
            assert raw.dtype == bool and np.array_equal(raw, mask)
        else:
            with Image.open(path) as im:
                pixels = np.asarray(im.convert("L"))
            assert np.array_equal(pixels, np.where(mask, 255, 0))  # white = masked
        got = load_mask(path, mask.shape)
    assert got.dtype == bool and np.array_equal(got, mask)


@settings(max_examples=60, deadline=None)
@given(
    mask=arrays(bool, st.tuples(st.integers(1, 10), st.integers(1, 10))),
    patch=st.integers(1, 8),
    suffix=st.sampled_from(SUFFIXES["png"]),
)
def test_any_mask_survives_at_image_resolution(mask: np.ndarray, patch: int, suffix: str):
    gh, gw = mask.shape
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"mask{suffix}"
        save_mask(path, mask, patch=patch)
        with Image.open(path) as im:
            assert im.size == (gw * patch, gh * patch)
            pixels = np.asarray(im.convert("L"))
        for r in range(gh):
            for c in range(gw):
                cell = pixels[r * patch : (r + 1) * patch, c * patch : (c + 1) * patch]
                assert (cell == (255 if mask[r, c] else 0)).all()
        got = load_mask(path, mask.shape)
    assert got.dtype == bool and np.array_equal(got, mask)


@settings(max_examples=40, deadline=None)
@given(
    mask=MASKS,
    dtype=st.sampled_from((np.uint8, np.int8, np.int64, np.float32, np.float64)),
)
def test_a_npy_of_zeros_and_ones_reads_as_the_mask(mask: np.ndarray, dtype):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mask.npy"
        np.save(path, mask.astype(dtype))
        assert np.array_equal(load_mask(path, mask.shape), mask)


@settings(max_examples=120, deadline=None)
@given(
    values=arrays(bool, st.tuples(SIDES, SIDES)),
    grid=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    kind=st.sampled_from(("npy", "png")),
)
@example(values=np.eye(4, 6, dtype=bool), grid=(2, 2), kind="npy")  # 2 x 3 pixels a cell
@example(values=np.eye(4, 4, dtype=bool), grid=(2, 2), kind="png")  # every cell a tie
@example(values=np.ones((6, 4), bool), grid=(4, 6), kind="npy")  # transposed
def test_a_mask_on_another_grid_is_reduced_or_refused(values: np.ndarray, grid, kind: str):
    """A file of H x W values opened for a grid: read by majority when it is k x k pixels a
    cell, refused (MAEError) otherwise."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"mask.{kind}"
        if kind == "npy":
            np.save(path, values)
        else:
            Image.fromarray(np.where(values, 255, 0).astype(np.uint8)).save(path)
        if fits(values.shape, grid):
            got = load_mask(path, grid)
            assert got.shape == grid and np.array_equal(got, majority(values, grid))
        else:
            with pytest.raises(MAEError):
                load_mask(path, grid)


@pytest.mark.parametrize("suffix", [".bmp", ".jpg", ".txt", ""])
def test_other_file_types_are_refused(tmp_path, suffix):
    mask = np.eye(3, dtype=bool)
    with pytest.raises(MAEError):
        save_mask(tmp_path / f"mask{suffix}", mask)
    (tmp_path / f"other{suffix}").write_bytes(b"\x89PNG not really")
    with pytest.raises(MAEError):
        load_mask(tmp_path / f"other{suffix}", (3, 3))
