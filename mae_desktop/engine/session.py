"""A loaded model on a device: the object the CLI and the app's worker talk to."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .attention import AttentionMaps, Query, grid_maps, rollout
from .checkpoints import FORMATS, Checkpoint, build_model, load_checkpoint
from .config import MAEConfig
from .device import dtype_name, resolve_device, resolve_dtype
from .errors import MAEError
from .images import load_image
from .model import MAEModel
from .patches import patchify
from .reconstruction import Reconstruction, decode

FORMAT_NAMES = {
    "official": "official MAE (facebookresearch/mae)",
    "huggingface": "Hugging Face ViTMAE",
    "seed": "seed article MAE",
    "mae-desktop": "MAE Desktop",
}


class ModelSession:
    """A checkpoint's model placed on a device, ready for reconstructions and attention maps.

    Not thread-safe: one thread (the app's worker, or the CLI) owns a session.
    """

    def __init__(
        self, checkpoint: Checkpoint, model: MAEModel, device: torch.device, dtype: torch.dtype
    ) -> None:
        self.checkpoint = checkpoint
        self.model = model
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.messages: list[str] = []  # things the user should be told (e.g. a CPU fallback)
        self.to(device, dtype)

    @classmethod
    def open(
        cls,
        path: str | Path,
        device: str = "auto",
        dtype: str = "fp32",
        heads: int | None = None,
        decoder_heads: int | None = None,
    ) -> ModelSession:
        """Load a checkpoint (any supported format) onto a device ('auto' picks CUDA first)."""
        dev = resolve_device(device)
        dt = resolve_dtype(dtype, dev)
        ckpt = load_checkpoint(path, heads=heads, decoder_heads=decoder_heads)
        return cls(ckpt, build_model(ckpt), dev, dt)

    @property
    def config(self) -> MAEConfig:
        return self.model.cfg

    def to(self, device: str | torch.device, dtype: str | torch.dtype = "fp32") -> None:
        """Move the model; device/dtype may be names ('auto', 'cuda:0', 'bf16')."""
        dev = device if isinstance(device, torch.device) else resolve_device(device)
        dt = dtype if isinstance(dtype, torch.dtype) else resolve_dtype(dtype, dev)
        self.model.to(device=dev, dtype=dt)
        self.device, self.dtype = dev, dt

    # -- running -------------------------------------------------------------------------
    def _guarded(self, fn):
        """Run fn; on CUDA out-of-memory move to the CPU (fp32), say so, and run it again."""
        try:
            return fn()
        except torch.cuda.OutOfMemoryError:
            if self.device.type != "cuda":
                raise
            torch.cuda.empty_cache()
            self.to(torch.device("cpu"), torch.float32)
            self.messages.append("the GPU ran out of memory; switched to the CPU (fp32)")
            return fn()

    def _inputs(self, image: np.ndarray, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        if image.shape != (*cfg.image_size, 3):
            raise MAEError(f"image is {image.shape}, the model needs {(*cfg.image_size, 3)}")
        if mask.shape != cfg.grid_size or mask.dtype != bool:
            raise MAEError(
                f"mask is {mask.dtype} {mask.shape}; the model needs bool {cfg.grid_size}"
            )
        mean = np.asarray(cfg.mean, dtype=np.float32)
        std = np.asarray(cfg.std, dtype=np.float32)
        patches = patchify((image.astype(np.float32) - mean) / std, cfg.patch_size)
        x = torch.from_numpy(np.ascontiguousarray(patches))[None]
        ids = torch.from_numpy(np.flatnonzero(~mask.ravel()))[None]
        return x.to(self.device, self.dtype), ids.to(self.device)

    def predict(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """image float32 (H, W, 3) in [0, 1], mask bool (gh, gw) -> float32 (N, patch_dim)
        prediction in model space for every patch."""
        if not self.config.has_decoder:
            raise MAEError(
                f"{self.checkpoint.path.name} has no decoder (encoder-only weights), so it "
                "cannot reconstruct; it can still show attention maps"
            )

        def run() -> np.ndarray:
            x, ids = self._inputs(image, mask)
            with torch.inference_mode():
                pred = self.model(x, ids)
            return pred[0].float().cpu().numpy()

        return self._guarded(run)

    def reconstruct(
        self, image: np.ndarray, mask: np.ndarray, mode: str = "auto", norm_pix: bool | None = None
    ) -> Reconstruction:
        """A full Reconstruction (images, loss, metrics) for one image and mask."""
        t0 = time.perf_counter()
        pred = self.predict(image, mask)
        latency = (time.perf_counter() - t0) * 1000.0
        rec = decode(pred, image, mask, self.config, mode, norm_pix)
        rec.latency_ms = latency
        rec.device, rec.dtype = str(self.device), dtype_name(self.dtype)
        return rec

    def attention(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        part: str = "encoder",
        query: Query = "cls",
        with_rollout: bool = True,
    ) -> AttentionMaps:
        """Attention maps of every layer and head for one query, on the patch grid."""
        if part not in ("encoder", "decoder"):
            raise MAEError(f"attention part must be 'encoder' or 'decoder', got {part!r}")
        if part == "decoder" and not self.config.has_decoder:
            raise MAEError(f"{self.checkpoint.path.name} has no decoder to show attention for")
        cfg = self.config
        has_cls = cfg.use_cls_token

        def run() -> list[np.ndarray]:
            x, ids = self._inputs(image, mask)
            with torch.inference_mode():
                latent, weights = self.model.forward_encoder(x, ids, need_weights=True)
                if part == "decoder":
                    _, weights = self.model.forward_decoder(latent, ids, need_weights=True)
            return np.stack([w[0].float().cpu().numpy() for w in weights])

        weights = self._guarded(run)
        if part == "encoder":
            positions = np.flatnonzero(~mask.ravel())
        else:
            positions = np.arange(cfg.num_patches)
        maps = grid_maps(weights, positions, cfg.grid_size, has_cls, query, part)
        roll = None
        if with_rollout and part == "encoder":
            roll = rollout(weights, positions, cfg.grid_size, has_cls, query)
        return AttentionMaps(maps, part, query, roll)

    def load_image(self, path: str | Path, policy: str = "stretch") -> np.ndarray:
        """An image file fitted to this model: float32 (H, W, 3) in [0, 1]."""
        cfg = self.config
        return load_image(path, cfg.image_size, policy, pad_rgb=_pad_colour(cfg))

    # -- description ---------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """What the user sees in 'info' and the app's model panel (JSON-serialisable)."""
        cfg, ck = self.config, self.checkpoint
        raw = cfg.mean == (0.0, 0.0, 0.0) and cfg.std == (1.0, 1.0, 1.0)
        return {
            "path": str(ck.path),
            "format": FORMAT_NAMES[ck.format],
            "format_id": ck.format,
            "architecture": cfg.describe(),
            "config": cfg.to_dict(),
            "parameters": self.model.num_parameters(),
            "decoder": cfg.has_decoder,
            "normalization": "none (raw [0, 1] pixels)"
            if raw
            else f"mean {list(cfg.mean)}, std {list(cfg.std)}",
            "target": "norm_pix (per-patch normalised pixels)" if cfg.norm_pix_loss else "pixels",
            "target_source": ck.target_source,
            "device": str(self.device),
            "dtype": dtype_name(self.dtype),
            "notes": list(ck.notes),
            "provenance": ck.metadata,
        }


def _pad_colour(cfg: MAEConfig) -> tuple[float, float, float]:
    """Padding colour: the model's mean (zero after normalisation), mid-grey for raw pixels."""
    if cfg.std == (1.0, 1.0, 1.0) and cfg.mean == (0.0, 0.0, 0.0):
        return (0.5, 0.5, 0.5)
    return cfg.mean


__all__ = ["FORMATS", "ModelSession"]
