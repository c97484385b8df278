"""Training images: decoded once into memory, cropped and resized on the training device.

The split is by sorted file name: every 10th file (index % 10 == 0) is validation, never
trained on. Crop parameters come from a numpy Generator keyed on (seed, step), so a resumed
run draws exactly the crops it would have drawn.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..engine.errors import MAEError
from ..engine.images import read_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in folder, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MAEError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise MAEError(f"no images in {folder}")
    return files


def split(files: list[Path], every: int = 10) -> tuple[list[Path], list[Path]]:
    """(train, validation): every `every`-th file by sorted name is validation."""
    train = [f for i, f in enumerate(files) if i % every]
    val = [f for i, f in enumerate(files) if not i % every]
    return train, val


def decode_all(files: list[Path], max_side: int | None = 320) -> list[torch.Tensor]:
    """Decode images to uint8 (3, H, W) tensors, shrinking the short side to max_side."""
    out = []
    for f in files:
        img = read_image(f)
        if max_side and min(img.size) > max_side:
            scale = max_side / min(img.size)
            img = img.resize((round(img.width * scale), round(img.height * scale)), 3)
        out.append(torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).contiguous())
    return out


def crop_params(
    rng: np.random.Generator, h: int, w: int, scale=(0.2, 1.0), ratio=(3 / 4, 4 / 3)
) -> tuple[int, int, int, int]:
    """RandomResizedCrop's box (top, left, height, width), torchvision's algorithm."""
    area = h * w
    log_r = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_r))
        cw = int(round(math.sqrt(target * aspect)))
        ch = int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            return int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)), ch, cw
    # fall back to a centre crop at the clamped ratio
    in_ratio = w / h
    if in_ratio < ratio[0]:
        cw, ch = w, int(round(w / ratio[0]))
    elif in_ratio > ratio[1]:
        ch, cw = h, int(round(h * ratio[1]))
    else:
        cw, ch = w, h
    return (h - ch) // 2, (w - cw) // 2, ch, cw


class CropSampler:
    """Random resized crops + horizontal flips of in-memory images, as float [0, 1] batches."""

    def __init__(
        self, images: list[torch.Tensor], size: int, device: torch.device, seed: int
    ) -> None:
        self.images = [im.to(device) for im in images]
        self.size = size
        self.device = device
        self.seed = seed

    def batch(self, step: int, batch_size: int) -> torch.Tensor:
        """Deterministic batch for a step: float32 (B, 3, size, size) in [0, 1]."""
        rng = np.random.default_rng([self.seed, step])
        picks = rng.integers(0, len(self.images), batch_size)
        out = []
        for i in picks:
            im = self.images[int(i)]
            top, left, ch, cw = crop_params(rng, im.shape[1], im.shape[2])
            crop = im[:, top : top + ch, left : left + cw][None].float()
            crop = F.interpolate(
                crop,
                size=(self.size, self.size),
                mode="bicubic",
                align_corners=False,
                antialias=True,
            )
            if rng.random() < 0.5:
                crop = crop.flip(-1)
            out.append(crop)
        return (torch.cat(out) / 255.0).clamp_(0.0, 1.0)
