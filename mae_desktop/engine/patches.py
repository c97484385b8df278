"""Images <-> patch vectors, in (pixel row, pixel column, channel) order like official MAE.

numpy for single images, torch for the batches of training and evaluation (tensor methods
only: importing this module does not import torch, so the window's numpy code can use it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


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


def patchify_batch(images: torch.Tensor, patch: int) -> torch.Tensor:
    """torch (B, H, W, C) -> (B, gh * gw, patch * patch * C), same order as `patchify`."""
    b, h, w, c = images.shape
    gh, gw = h // patch, w // patch
    x = images.reshape(b, gh, patch, gw, patch, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, gh * gw, patch * patch * c)


def unpatchify_batch(patches: torch.Tensor, grid: tuple[int, int], patch: int) -> torch.Tensor:
    """torch (B, gh * gw, patch * patch * C) -> (B, gh * patch, gw * patch, C)."""
    b = patches.shape[0]
    gh, gw = grid
    c = patches.shape[-1] // (patch * patch)
    x = patches.reshape(b, gh, gw, patch, patch, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, gh * patch, gw * patch, c)
