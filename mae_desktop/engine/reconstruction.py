"""Turning a model's patch predictions into images and numbers (numpy only).

Model space: what the decoder predicts. Pixel-target models predict mean/std-normalised
patches; norm_pix models predict patches normalised by their own mean and variance, which the
display has to supply from somewhere: that is what the modes below choose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import MAEConfig
from .errors import MAEError
from .patches import patchify, unpatchify, upsample_grid

NORM_PIX_EPS = 1e-6  # the official MAE loss: (x - mean) / sqrt(var + 1e-6)

MODES = {
    "raw": "raw model space",
    "plain": "un-normalised with the model's mean/std",
    "gt-stats": "per-patch statistics of the hidden patches (uses ground truth)",
    "estimate": "per-patch statistics estimated from the visible patches (estimate)",
}
PIXEL_MODES = ("plain", "raw")
NORM_PIX_MODES = ("estimate", "gt-stats", "raw", "plain")


@dataclass
class Reconstruction:
    """One reconstruction of an image under a mask.

    image, prediction, composite: float32 (H, W, 3). image is the input in [0, 1];
    prediction is every patch as predicted, in pixel space, unclipped (model space for
    mode 'raw'); composite has the visible patches from the input and the masked ones
    predicted. patch_error: float32 (gh, gw) per-patch MSE of the clipped prediction in pixel
    space (NaN for mode 'raw'). loss: the masked-patch MSE in the model's target space (what
    the official training loss computes). masked_mse/masked_psnr: over masked pixels, pixel
    space, prediction clipped to [0, 1], peak 1. None where undefined (nothing masked,
    mode 'raw').
    """

    image: np.ndarray
    mask: np.ndarray
    prediction: np.ndarray
    composite: np.ndarray
    patch_error: np.ndarray
    loss: float | None
    masked_mse: float | None
    masked_psnr: float | None
    mode: str
    target: str
    latency_ms: float = 0.0
    device: str = "cpu"
    dtype: str = "fp32"

    @property
    def mode_label(self) -> str:
        return MODES[self.mode]

    @property
    def uses_ground_truth(self) -> bool:
        return self.mode == "gt-stats"

    @property
    def is_estimate(self) -> bool:
        return self.mode == "estimate"

    def viewable(self) -> tuple[np.ndarray, np.ndarray]:
        """(prediction, composite) to show as images: as they are in pixel space; mode 'raw'
        (model space) stretched by the composite's min/max to [0, 1]."""
        if self.mode != "raw":
            return self.prediction, self.composite
        lo, hi = float(self.composite.min()), float(self.composite.max())
        scale = max(hi - lo, 1e-12)
        return (self.prediction - lo) / scale, (self.composite - lo) / scale


def psnr(mse: float | None, peak: float = 1.0) -> float | None:
    """10 log10(peak^2 / mse); None for None, +inf for a perfect match."""
    if mse is None:
        return None
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def resolve_mode(mode: str, norm_pix: bool) -> str:
    """'auto' -> 'estimate' for norm_pix targets, 'plain' for pixel targets; validates."""
    allowed = NORM_PIX_MODES if norm_pix else PIXEL_MODES
    if mode == "auto":
        return allowed[0]
    if mode not in MODES:
        raise MAEError(f"unknown display mode {mode!r}; known: auto, {', '.join(MODES)}")
    if mode not in allowed:
        raise MAEError(
            f"display mode {mode!r} applies to norm_pix checkpoints only; this one "
            f"predicts pixels (use {' or '.join(PIXEL_MODES)})"
        )
    return mode


def _patch_stats(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-patch mean and sqrt(unbiased var + eps), as the official norm_pix loss: (N, 1) each."""
    mean = patches.mean(axis=-1, keepdims=True)
    var = patches.var(axis=-1, ddof=1, keepdims=True)
    return mean, np.sqrt(var + NORM_PIX_EPS)


def estimate_stats(
    mean: np.ndarray, scale: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-patch statistics where hidden patches borrow from the visible ones.

    mean, scale: (N, 1) true statistics (only the visible entries are read); mask (gh, gw).
    Masked patches get the inverse-squared-distance weighted mean of the visible patches'
    statistics (distance in patches); with no visible patch, mean 0 and scale 1.
    """
    return borrow_stats(mean, scale, mask, 0.0, 1.0)


def borrow_stats(
    mean: np.ndarray, scale: np.ndarray, mask: np.ndarray, empty_mean, empty_scale
) -> tuple[np.ndarray, np.ndarray]:
    """The statistics of the cells of a bool `mask` of any shape (True = hidden), hidden
    cells given the inverse-squared-distance weighted mean (distance in cells, over every
    axis) of the visible cells' rows of `mean` and `scale` (N, C); with nothing visible,
    `empty_mean` and `empty_scale`. Shared by every family's 'estimate' display."""
    grid = mask.shape
    flat = mask.ravel()
    vis, hid = np.flatnonzero(~flat), np.flatnonzero(flat)
    out_mean, out_scale = mean.copy(), scale.copy()
    if hid.size == 0:
        return out_mean, out_scale
    if vis.size == 0:
        out_mean[hid], out_scale[hid] = empty_mean, empty_scale
        return out_mean, out_scale
    cv = np.stack(np.unravel_index(vis, grid), axis=1)
    ch = np.stack(np.unravel_index(hid, grid), axis=1)
    d2 = ((ch[:, None, :] - cv[None, :, :]) ** 2).sum(axis=-1)
    w = 1.0 / d2.astype(np.float64)
    w /= w.sum(axis=1, keepdims=True)
    out_mean[hid] = (w @ mean[vis].astype(np.float64)).astype(mean.dtype)
    out_scale[hid] = (w @ scale[vis].astype(np.float64)).astype(scale.dtype)
    return out_mean, out_scale


def decode(
    pred: np.ndarray,
    image: np.ndarray,
    mask: np.ndarray,
    cfg: MAEConfig,
    mode: str = "auto",
    norm_pix: bool | None = None,
) -> Reconstruction:
    """Build a Reconstruction from the decoder output.

    pred: float32 (N, patch_dim) model-space prediction; image: float32 (H, W, 3) in [0, 1]
    at the model size; mask: bool (gh, gw). norm_pix overrides the checkpoint's target.
    """
    norm_pix = cfg.norm_pix_loss if norm_pix is None else norm_pix
    mode = resolve_mode(mode, bool(norm_pix))
    p, grid = cfg.patch_size, cfg.grid_size
    mean = np.asarray(cfg.mean, dtype=np.float32)
    std = np.asarray(cfg.std, dtype=np.float32)
    pixels = patchify(image.astype(np.float32), p)
    normed = patchify((image.astype(np.float32) - mean) / std, p)
    masked = mask.ravel()
    pmean, pscale = _patch_stats(normed)
    target = (normed - pmean) / pscale if norm_pix else normed
    loss = float(((pred[masked] - target[masked]) ** 2).mean()) if masked.any() else None

    def to_pixels(normed_patches: np.ndarray) -> np.ndarray:
        n = normed_patches.shape[0]
        return (normed_patches.reshape(n, -1, 3) * std + mean).reshape(n, -1)

    if mode == "raw":
        shown = np.where(masked[:, None], pred, target)
        err = np.full(grid, np.nan, dtype=np.float32)
        return Reconstruction(
            image,
            mask,
            unpatchify(pred, grid, p),
            unpatchify(shown, grid, p),
            err,
            loss,
            None,
            None,
            mode,
            "norm_pix" if norm_pix else "pixel",
        )
    if mode == "plain":
        pred_px = to_pixels(pred)
    elif mode == "gt-stats":
        pred_px = to_pixels(pred * pscale + pmean)
    else:
        emean, escale = estimate_stats(pmean, pscale, mask)
        pred_px = to_pixels(pred * escale + emean)
    pred_px = pred_px.astype(np.float32)
    composite = np.where(masked[:, None], pred_px, pixels)
    err = ((np.clip(pred_px, 0.0, 1.0) - pixels) ** 2).mean(axis=-1).astype(np.float32)
    mse = float(err[masked].mean()) if masked.any() else None
    return Reconstruction(
        image,
        mask,
        unpatchify(pred_px, grid, p),
        unpatchify(composite, grid, p),
        err.reshape(grid),
        loss,
        mse,
        psnr(mse),
        mode,
        "norm_pix" if norm_pix else "pixel",
    )


def masked_view(
    image: np.ndarray,
    mask: np.ndarray,
    patch: int,
    fill: tuple[float, float, float] = (0.5, 0.5, 0.5),
) -> np.ndarray:
    """The input with masked patches filled with a flat colour: float32 (H, W, 3)."""
    cover = upsample_grid(mask, patch)
    out = image.copy()
    out[cover] = fill
    return out
