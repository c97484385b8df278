"""Heatmaps and overlays as RGB arrays (numpy only; the app uses pyqtgraph's colormaps)."""

from __future__ import annotations

import numpy as np

from .patches import upsample_grid

# Nine samples of matplotlib's perceptually uniform maps, interpolated linearly.
_ANCHORS = {
    "inferno": [
        (0.001, 0.000, 0.014),
        (0.087, 0.045, 0.224),
        (0.258, 0.039, 0.406),
        (0.416, 0.090, 0.433),
        (0.578, 0.148, 0.404),
        (0.735, 0.216, 0.330),
        (0.865, 0.317, 0.226),
        (0.954, 0.469, 0.099),
        (0.988, 0.998, 0.645),
    ],
    "viridis": [
        (0.267, 0.005, 0.329),
        (0.283, 0.141, 0.458),
        (0.254, 0.265, 0.530),
        (0.207, 0.372, 0.553),
        (0.164, 0.471, 0.558),
        (0.128, 0.567, 0.551),
        (0.135, 0.659, 0.518),
        (0.478, 0.821, 0.318),
        (0.993, 0.906, 0.144),
    ],
}
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
    """(h, w) floats -> float32 (h, w, 3) RGB in [0, 1] over the finite min/max; NaN cells get
    NAN_RGB."""
    anchors = np.asarray(_ANCHORS[cmap], dtype=np.float32)
    t, finite = unit_range(values)
    xs = np.linspace(0.0, 1.0, len(anchors))
    rgb = np.stack([np.interp(t, xs, anchors[:, c]) for c in range(3)], axis=-1)
    rgb[~finite] = NAN_RGB
    return rgb.astype(np.float32)


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
