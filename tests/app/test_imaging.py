"""Mask overlays that show on any image, and the masked-region outline for per-patch maps.

Pure numpy: no window is opened.
"""

from __future__ import annotations

import numpy as np
import pytest

from mae_desktop.app.imaging import (
    MASK_STYLES,
    cell_luminance,
    composite_over,
    mask_outline,
    mask_overlay,
)
from mae_desktop.engine.masks import random_mask

# Contrast: the mean absolute difference, over pixels and RGB channels (0-255), between a
# masked patch and a visible patch of the same uniform image once the overlay is blended
# over it. 40 is about a sixth of the range: a whole-patch shift of that size, or strong
# lines over part of it, is plain to see at a glance; the dark tint over black, the case
# users could not see, scores about 16.
MIN_CONTRAST = 40.0
BACKGROUNDS = {"black": 0, "grey": 128, "white": 255}
SIZES = [(16, (14, 14)), (14, (16, 16))]  # patch, grid


def _half_mask(grid):
    mask = np.zeros(grid, bool)
    mask[:, ::2] = True
    return mask


def _contrast(style, level, patch, grid, luma=True):
    image = np.full((grid[0] * patch, grid[1] * patch, 3), level, np.uint8)
    mask = _half_mask(grid)
    cell_luma = cell_luminance(image / 255.0, patch) if luma else None
    shown = composite_over(image, mask_overlay(mask, patch, style, cell_luma))
    cells = shown.astype(np.float64).reshape(grid[0], patch, grid[1], patch, 3)
    cells = cells.transpose(0, 2, 1, 3, 4)
    visible = cells[~mask]
    assert (visible == visible[0]).all()  # every visible patch looks the same
    return float(np.abs(cells[mask] - visible[0]).mean())


@pytest.mark.parametrize(("patch", "grid"), SIZES)
@pytest.mark.parametrize("background", BACKGROUNDS)
@pytest.mark.parametrize("style", MASK_STYLES)
def test_masked_patches_stand_out_on_any_background(style, background, patch, grid):
    contrast = _contrast(style, BACKGROUNDS[background], patch, grid)
    if style == "tint" and background == "black":
        assert contrast < MIN_CONTRAST  # the dark tint over black: what users reported
    else:
        assert contrast >= MIN_CONTRAST, (style, background, contrast)


def test_auto_shows_where_the_dark_tint_does_not():
    assert _contrast("tint", 0, 16, (14, 14)) < MIN_CONTRAST / 2
    assert _contrast("auto", 0, 16, (14, 14)) >= 2 * MIN_CONTRAST
    # patches of a real image are tinted away from their own brightness
    image = np.zeros((64, 64, 3))
    image[:, 32:] = 1.0  # dark left half, white right half
    mask = np.ones((4, 4), bool)
    over = mask_overlay(mask, 16, "auto", cell_luminance(image, 16))
    left, right = over[:, :32, :3].astype(float), over[:, 32:, :3].astype(float)
    assert left.mean() > 128 > right.mean()


@pytest.mark.parametrize("background", BACKGROUNDS)
def test_auto_without_luminance_still_shows(background):
    """With no luminance given (as if every patch were mid-grey) masks still show."""
    assert _contrast("auto", BACKGROUNDS[background], 16, (14, 14), luma=False) >= MIN_CONTRAST


def test_cell_luminance():
    image = np.zeros((32, 48, 3))
    image[:16, 16:32] = 1.0
    image[16:, :16] = (1.0, 0.0, 0.0)
    luma = cell_luminance(image, 16)
    assert luma.shape == (2, 3)
    assert luma[0, 1] == pytest.approx(1.0) and luma[0, 0] == 0.0
    assert 0.1 < luma[1, 0] < 0.4  # red is darker than white
    assert cell_luminance(np.full((40, 40, 3), 0.5), 16).shape == (2, 2)  # ragged edge cut


@pytest.mark.parametrize("style", MASK_STYLES)
def test_overlay_shape_dtype_and_defaults(style):
    mask = random_mask((14, 14), 0.75, 0)
    over = mask_overlay(mask, 16, style, np.full((14, 14), 0.3))
    assert over.shape == (224, 224, 4) and over.dtype == np.uint8
    assert over.flags.writeable
    # nothing masked: grid lines only, or nothing at all
    empty = mask_overlay(np.zeros((14, 14), bool), 16, style, grid_lines=False)
    assert not empty.any()
    assert mask_overlay(np.zeros((14, 14), bool), 16, style)[1:16, 1:16].sum() == 0
    # the style is in the masked patches only
    cells = over.reshape(14, 16, 14, 16, 4).transpose(0, 2, 1, 3, 4)
    assert (cells[mask][..., 3] > 0).any(axis=(1, 2)).all()
    assert (cells[~mask][:, 1:, 1:] == 0).all()


def test_old_call_still_works():
    mask = _half_mask((4, 4))
    assert (mask_overlay(mask, 16) == mask_overlay(mask, 16, "auto", None, True)).all()
    with pytest.raises(ValueError):
        mask_overlay(mask, 16, "stars")


def test_outline_style_leaves_the_inside_clear():
    over = mask_overlay(np.ones((2, 2), bool), 16, "outline", grid_lines=False)
    cell = over[:16, :16]
    assert (cell[2:-2, 2:-2] == 0).all()
    assert cell[0, 5, :3].min() > 200 and cell[1, 5, :3].max() < 50  # light out, dark in


def _boundary_reference(mask, patch, width):
    """Bool (H, W): the pixels mask_outline should draw, by a slow loop over patches."""
    gh, gw = mask.shape
    out = np.zeros((gh * patch, gw * patch), bool)
    for r in range(gh):
        for c in range(gw):
            if not mask[r, c]:
                continue
            cell = out[r * patch : (r + 1) * patch, c * patch : (c + 1) * patch]
            if r == 0 or not mask[r - 1, c]:
                cell[:width] = True
            if r == gh - 1 or not mask[r + 1, c]:
                cell[-width:] = True
            if c == 0 or not mask[r, c - 1]:
                cell[:, :width] = True
            if c == gw - 1 or not mask[r, c + 1]:
                cell[:, -width:] = True
    return out


def test_mask_outline_draws_only_boundaries():
    for seed in range(5):
        mask = random_mask((14, 14), 0.5, seed)
        out = mask_outline(mask, 16)
        assert out.shape == (224, 224, 4) and out.dtype == np.uint8
        drawn = out[..., 3] > 0
        assert (drawn == _boundary_reference(mask, 16, 2)).all()
        assert (out[drawn] == (255, 255, 255, 230)).all()
    # everything masked: only the image border
    full = mask_outline(np.ones((14, 14), bool), 16, (1, 2, 3, 4))[..., 3] > 0
    border = np.ones((224, 224), bool)
    border[2:-2, 2:-2] = False
    assert (full == border).all()
    # nothing masked: nothing drawn
    assert not mask_outline(np.zeros((14, 14), bool), 16).any()
    # one isolated patch: its square, in the given colour
    one = np.zeros((3, 3), bool)
    one[1, 1] = True
    ring = mask_outline(one, 14, (0, 255, 0, 255))
    assert (ring[..., 3] > 0).sum() == 14 * 14 - 10 * 10 and ring[14, 14, 1] == 255


def test_composite_over():
    image = np.full((2, 2, 3), 100, np.uint8)
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (200, 0, 50, 255)
    rgba[1, 1] = (200, 200, 200, 128)
    out = composite_over(image, rgba)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert (out[0, 0] == (200, 0, 50)).all() and (out[0, 1] == 100).all()
    assert (np.abs(out[1, 1].astype(int) - 150) <= 1).all()
    with pytest.raises(ValueError):
        composite_over(image, np.zeros((3, 2, 4), np.uint8))
