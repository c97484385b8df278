"""Images <-> patch vectors, in (pixel row, pixel column, channel) order like official MAE."""

from __future__ import annotations

import numpy as np


def patchify(image: np.ndarray, patch: int) -> np.ndarray:
    """(H, W, C) -> (gh * gw, patch * patch * C), patches in row-major grid order."""
    h, w, c = image.shape
    gh, gw = h // patch, w // patch
    x = image.reshape(gh, patch, gw, patch, c).transpose(0, 2, 1, 3, 4)
    return x.reshape(gh * gw, patch * patch * c)


def unpatchify(patches: np.ndarray, grid: tuple[int, int], patch: int) -> np.ndarray:
    """(gh * gw, patch * patch * C) -> (gh * patch, gw * patch, C)."""
    gh, gw = grid
    c = patches.shape[-1] // (patch * patch)
    x = patches.reshape(gh, gw, patch, patch, c).transpose(0, 2, 1, 3, 4)
    return x.reshape(gh * patch, gw * patch, c)


def upsample_grid(values: np.ndarray, patch: int) -> np.ndarray:
    """(gh, gw[, ...]) per-patch values -> (gh * patch, gw * patch[, ...]), nearest."""
    return np.repeat(np.repeat(values, patch, axis=0), patch, axis=1)
