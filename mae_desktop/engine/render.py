"""Heatmaps and overlays as RGB arrays (matplotlib's colormaps, imported only when a map is
drawn; the app uses pyqtgraph's)."""

from __future__ import annotations

import functools

import numpy as np

from .patches import upsample_grid

NAN_RGB = (0.18, 0.18, 0.18)


def unit_range(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale finite values by their min/max to [0, 1] -> (scaled float (h, w), finite bool
    (h, w)); NaN cells scale to 0 and are marked not finite (shared by every colormap)."""
    finite = np.isfinite(values)
    lo = float(values[finite].min()) if finite.any() else 0.0
    hi = float(values[finite].max()) if finite.any() else 1.0
    t = np.clip((np.nan_to_num(values, nan=lo) - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    return t, finite


def colorize(values: np.ndarray, cmap: str = "inferno") -> np.ndarray:
    """(h, w) floats -> float32 (h, w, 3) RGB in [0, 1]: matplotlib's colormap (256 levels,
    as the window's) over the finite min/max; NaN cells get NAN_RGB."""
    t, finite = unit_range(values)
    rgb = _table(cmap)[np.floor(t * 255 + 0.5).astype(np.int64)]  # the nearest level
    rgb[~finite] = NAN_RGB
    return rgb


@functools.lru_cache(maxsize=8)
def _table(cmap: str) -> np.ndarray:
    """The colormap's 256 levels as a float32 (256, 3) table (integers index matplotlib's
    own table); matplotlib is imported here, not at start-up."""
    import matplotlib

    levels = matplotlib.colormaps[cmap].resampled(256)
    table = levels(np.arange(256))[:, :3].astype(np.float32)
    table.setflags(write=False)
    return table


def heatmap(grid_values: np.ndarray, patch: int, cmap: str = "inferno") -> np.ndarray:
    """Per-patch values (gh, gw) -> float32 (gh*patch, gw*patch, 3) image, nearest."""
    return upsample_grid(colorize(grid_values, cmap), patch)


def overlay(
    image: np.ndarray,
    grid_values: np.ndarray,
    patch: int,
    alpha: float = 0.6,
    cmap: str = "inferno",
) -> np.ndarray:
    """Blend a per-patch heatmap over the image; absent (NaN) cells show the image dimmed."""
    heat = heatmap(grid_values, patch, cmap)
    out = (1.0 - alpha) * image + alpha * heat
    absent = upsample_grid(~np.isfinite(grid_values), patch)
    out[absent] = 0.35 * image[absent]
    return out.astype(np.float32)
