"""Masked-pixel PSNR of a model at 75% random masking, next to two simple baselines.

Protocol: every image is squashed (resize policy 'stretch', bicubic) to the model size; each
gets `masks_per_image` random masks with seeds derived from (seed, image index, k); PSNR is
measured over the masked pixels, prediction clipped to [0, 1], peak 1, and averaged over all
(image, mask) pairs. Baselines on the same masks: the mean colour of the visible pixels, and
OpenCV's Telea inpainting (radius 5) when OpenCV is installed; without it that row is left out
and EvalResult.skipped says why.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..engine.images import load_image
from ..engine.masks import random_mask
from ..engine.model import MAEModel
from ..engine.patches import patchify_batch, unpatchify_batch, upsample_grid

MEAN_COLOUR = "mean colour"
TELEA = "Telea inpainting (r=5)"
OPENCV_MISSING = (
    'OpenCV is not installed; install it with pip install "mae-desktop[eval]" '
    "(or pip install opencv-python-headless)"
)


@dataclass
class EvalResult:
    """Mean and standard deviation of masked-pixel PSNR (dB) per method, and the protocol.

    skipped: baselines that were asked for but not run, method name -> the reason.
    """

    images: int
    masks_per_image: int
    mask_ratio: float
    resize: str
    psnr: dict[str, float]
    psnr_std: dict[str, float]
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        lines = [
            f"masked-pixel PSNR at {self.mask_ratio:.0%} random masking, "
            f"{self.images} images x {self.masks_per_image} masks, resize {self.resize}",
            f"{'method':<24}{'PSNR (dB)':>10}{'std':>8}",
        ]
        for name, value in self.psnr.items():
            lines.append(f"{name:<24}{value:>10.2f}{self.psnr_std[name]:>8.2f}")
        return "\n".join(lines)


def masked_psnr(pred: np.ndarray, truth: np.ndarray, pixel_mask: np.ndarray) -> float:
    """PSNR (peak 1) over pixels where pixel_mask (H, W) is True; pred clipped to [0, 1]."""
    diff = np.clip(pred, 0.0, 1.0)[pixel_mask] - truth[pixel_mask]
    mse = float((diff.astype(np.float64) ** 2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def mean_colour_fill(image: np.ndarray, pixel_mask: np.ndarray) -> np.ndarray:
    """Masked pixels replaced by the mean colour of the visible ones (grey if none)."""
    out = image.copy()
    visible = image[~pixel_mask]
    out[pixel_mask] = visible.mean(axis=0) if visible.size else 0.5
    return out


def opencv_available() -> bool:
    """Whether OpenCV (the Telea baseline) can be imported."""
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


def telea_fill(image: np.ndarray, pixel_mask: np.ndarray) -> np.ndarray | None:
    """OpenCV Telea inpainting (radius 5) of the masked pixels; None without opencv.

    image float32 (H, W, 3) in [0, 1], pixel_mask bool (H, W); returns float32 (H, W, 3) in
    [0, 1], quantised to 8 bits as OpenCV works on uint8.
    """
    try:
        import cv2
    except ImportError:
        return None
    img8 = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    out = cv2.inpaint(img8, pixel_mask.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
    return out.astype(np.float32) / 255.0


@torch.inference_mode()
def model_predict_batch(
    model: MAEModel, images: np.ndarray, masks: np.ndarray, device: torch.device
) -> np.ndarray:
    """Plain (pixel-target) reconstructions for a batch with equal masked counts.

    images float32 (B, H, W, 3) in [0, 1]; masks bool (B, gh, gw). Returns float32
    (B, H, W, 3) pixel-space predictions of every patch (unclipped).
    """
    cfg = model.cfg
    p = cfg.patch_size
    mean = torch.tensor(cfg.mean, device=device)
    std = torch.tensor(cfg.std, device=device)
    x = (torch.from_numpy(images).to(device) - mean) / std
    ids = torch.from_numpy(np.stack([np.flatnonzero(~m.ravel()) for m in masks])).to(device)
    pred = model(patchify_batch(x, p), ids).float()
    normed = unpatchify_batch(pred, cfg.grid_size, p)  # (B, H, W, 3)
    return (normed * std + mean).cpu().numpy()


def mask_seed(seed: int, image_index: int, k: int) -> int:
    return seed * 1_000_003 + image_index * 101 + k


def evaluate(
    model: MAEModel | None,
    files: list[Path],
    masks_per_image: int = 4,
    mask_ratio: float = 0.75,
    seed: int = 0,
    device: torch.device | None = None,
    baselines: bool = True,
    batch_size: int = 32,
    images: list[np.ndarray] | None = None,
) -> EvalResult:
    """Masked-pixel PSNR of `model` (and the baselines) on image files (or given images).

    A baseline that cannot run (Telea without OpenCV) is left out of psnr and named, with the
    reason, in the result's skipped.
    """
    device = device or torch.device("cpu")
    size = model.cfg.image_size if model is not None else (224, 224)
    patch = model.cfg.patch_size if model is not None else 16
    grid = (size[0] // patch, size[1] // patch)
    if images is None:
        images = [load_image(f, size, "stretch") for f in files]
    pairs = [(i, k) for i in range(len(images)) for k in range(masks_per_image)]
    masks = {pk: random_mask(grid, mask_ratio, mask_seed(seed, *pk)) for pk in pairs}
    scores: dict[str, list[float]] = {}
    skipped: dict[str, str] = {}
    if model is not None:
        model.eval()
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            preds = model_predict_batch(
                model,
                np.stack([images[i] for i, _ in chunk]),
                np.stack([masks[pk] for pk in chunk]),
                device,
            )
            for (i, k), pred in zip(chunk, preds, strict=True):
                pm = upsample_grid(masks[(i, k)], patch)
                scores.setdefault("MAE", []).append(masked_psnr(pred, images[i], pm))
    if baselines:
        with_telea = opencv_available()
        if not with_telea:
            skipped[TELEA] = OPENCV_MISSING
        for i, k in pairs:
            pm = upsample_grid(masks[(i, k)], patch)
            scores.setdefault(MEAN_COLOUR, []).append(
                masked_psnr(mean_colour_fill(images[i], pm), images[i], pm)
            )
            telea = telea_fill(images[i], pm) if with_telea else None
            if telea is not None:
                scores.setdefault(TELEA, []).append(masked_psnr(telea, images[i], pm))
    return EvalResult(
        images=len(images),
        masks_per_image=masks_per_image,
        mask_ratio=mask_ratio,
        resize="stretch",
        psnr={k: float(np.mean(v)) for k, v in scores.items()},
        psnr_std={k: float(np.std(v)) for k, v in scores.items()},
        skipped=skipped,
    )
