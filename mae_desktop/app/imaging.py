"""numpy -> what pyqtgraph draws: uint8 images, mask overlays, colormapped heatmaps."""

from __future__ import annotations

import functools

import numpy as np
import pyqtgraph as pg

from ..engine.patches import upsample_grid
from ..engine.render import unit_range

COLORMAPS = ("inferno", "viridis", "magma", "plasma", "cividis", "turbo")
MASK_RGBA = (18, 18, 28, 185)  # masked patches: dark, most of the image hidden
GRID_RGBA = (255, 255, 255, 38)
ABSENT_RGBA = (90, 90, 100, 255)  # attention cells with no token (masked in the encoder)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float (H, W, 3) in [0, 1] (clipped) -> uint8 (H, W, 3)."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def mask_overlay(mask: np.ndarray, patch: int, grid_lines: bool = True) -> np.ndarray:
    """RGBA uint8 (H, W, 4): masked patches shaded, thin patch grid lines, the rest clear.
    (Drawn on every edit while painting: a cached grid, and the mask written through a
    (gh, gw, patch, patch) view instead of an upsampled boolean image.)"""
    gh, gw = mask.shape
    out = _grid_lines((gh, gw), patch, grid_lines).copy()
    cells = out.reshape(gh, patch, gw, patch, 4).transpose(0, 2, 1, 3, 4)
    cells[mask] = MASK_RGBA
    return out


@functools.lru_cache(maxsize=8)
def _grid_lines(grid: tuple[int, int], patch: int, lines: bool) -> np.ndarray:
    out = np.zeros((grid[0] * patch, grid[1] * patch, 4), np.uint8)
    if lines:
        out[::patch, :] = GRID_RGBA
        out[:, ::patch] = GRID_RGBA
    out.setflags(write=False)
    return out


def heatmap_rgba(
    values: np.ndarray, patch: int, cmap: str = "inferno", hatch: bool = True
) -> np.ndarray:
    """Per-patch values (gh, gw) -> RGBA uint8 (gh*patch, gw*patch, 4) with pyqtgraph's
    colormap; NaN cells (absent) are grey with a diagonal hatch, never a colour of the map."""
    lut = _lut(cmap)
    t, finite = unit_range(values)
    rgb = lut[np.round(t * 255).astype(np.int64)]
    rgba = np.concatenate([rgb, np.full((*values.shape, 1), 255, np.uint8)], axis=-1)
    rgba[~finite] = ABSENT_RGBA
    big = upsample_grid(rgba, patch)
    if hatch and not finite.all():
        stripes = _diagonals(big.shape[:2]) & upsample_grid(~finite, patch)
        big[stripes] = (40, 40, 48, 255)
    return big


@functools.lru_cache(maxsize=16)
def _lut(cmap: str) -> np.ndarray:
    """pyqtgraph's colormap as a uint8 (256, 3) table (cached: drawn per result)."""
    lut = pg.colormap.get(cmap).getLookupTable(nPts=256, alpha=False)
    lut.setflags(write=False)
    return lut


@functools.lru_cache(maxsize=8)
def _diagonals(shape: tuple[int, int]) -> np.ndarray:
    """Bool (H, W): a diagonal hatch, every 8th anti-diagonal (cached: drawn per result)."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    out = (xx + yy) % 8 == 0
    out.setflags(write=False)
    return out
