"""Masks over a video's (time slots, rows, columns) grid of mask units (numpy only).

A video mask is bool (T, H, W), True = masked: one time slot per tubelet (VideoMAE: 2
frames) and one cell per patch. Any such mask can be painted or loaded; these generators
draw the usual ones, each from its own numpy Generator seeded by the caller:

- tube: one spatial random mask, the same in every time slot (VideoMAE's pretraining masks,
  90% by default): exactly round(ratio * H * W) cells of each slot;
- cubes: uniformly random over all T x H x W cells, exactly round(ratio * T * H * W);
- frames: whole time slots, the last round(ratio * T) ones (at least one): predicting the
  future from the past;
- the image generators (random, block, grid, coarse, center) drawn on the spatial grid and
  repeated over time, as tubes.
"""

from __future__ import annotations

import numpy as np

from .errors import MAEError
from .masks import MASK_MODES, generate, masked_count

Grid3 = tuple[int, int, int]

VIDEO_MASK_MODES = ("tube", "cubes", "frames", *(m for m in MASK_MODES if m != "random"))
DEFAULT_VIDEO_RATIO = 0.9  # VideoMAE's tube masking


def _check(grid: Grid3) -> None:
    if len(grid) != 3 or min(grid) < 1:
        raise MAEError(f"a video mask grid is (time slots, rows, columns), got {grid}")


def tube_mask(grid: Grid3, ratio: float, seed: int = 0) -> np.ndarray:
    """The same random spatial mask in every time slot."""
    _check(grid)
    t, h, w = grid
    spatial = generate("random", (h, w), ratio, seed)
    return np.broadcast_to(spatial, (t, h, w)).copy()


def cube_mask(grid: Grid3, ratio: float, seed: int = 0) -> np.ndarray:
    """Exactly round(ratio * T*H*W) cells, uniformly at random over time and space."""
    _check(grid)
    n = int(np.prod(grid))
    k = masked_count((n, 1), ratio)
    order = np.random.default_rng(seed).permutation(n)
    mask = np.zeros(n, dtype=bool)
    mask[order[:k]] = True
    return mask.reshape(grid)


def frame_mask(grid: Grid3, ratio: float) -> np.ndarray:
    """The last round(ratio * T) time slots masked whole (at least one, at most all)."""
    _check(grid)
    t = grid[0]
    masked_count((t, 1), ratio)  # checks the ratio
    k = min(t, max(1, int(round(ratio * t))))
    mask = np.zeros(grid, dtype=bool)
    mask[t - k :] = True
    return mask


def generate_video(mode: str, grid: Grid3, ratio: float = DEFAULT_VIDEO_RATIO, seed: int = 0):
    """One entry point for the video generators (see the module docstring); bool (grid)."""
    if mode == "tube":
        return tube_mask(grid, ratio, seed)
    if mode == "cubes":
        return cube_mask(grid, ratio, seed)
    if mode == "frames":
        return frame_mask(grid, ratio)
    if mode in MASK_MODES:
        _check(grid)
        spatial = generate(mode, grid[1:], ratio, seed)
        return np.broadcast_to(spatial, grid).copy()
    raise MAEError(f"unknown video mask mode {mode!r}; known: {', '.join(VIDEO_MASK_MODES)}")


def describe_video(mask: np.ndarray) -> str:
    """'1411 / 1568 masked (90.0%) over 8 time slots'."""
    k, n = int(mask.sum()), mask.size
    return f"{k} / {n} masked ({100.0 * k / n:.1f}%) over {mask.shape[0]} time slots"


__all__ = [
    "DEFAULT_VIDEO_RATIO",
    "VIDEO_MASK_MODES",
    "cube_mask",
    "describe_video",
    "frame_mask",
    "generate_video",
    "tube_mask",
]
