"""A loaded model on a device: the object the CLI and the app's worker talk to."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .attention import AttentionMaps, Query, grid_maps, rollout
from .checkpoints import (
    FORMAT_NAMES,
    FORMATS,
    Checkpoint,
    build_model,
    format_name,
    load_checkpoint,
)
from .config import MAEConfig
from .device import dtype_name, resolve_device, resolve_dtype
from .errors import MAEError
from .images import load_image
from .memory import check_pass_fits
from .model import MAEModel
from .patches import patchify
from .quantize import dequantize_linears, is_quantized, quantize_linears
from .reconstruction import Reconstruction
from .reconstruction import decode as decode_prediction


@dataclass
class Analysis:
    """What one forward pass gives the app: a reconstruction (None for encoder-only models),
    attention maps (None when not asked for or not answerable), the forward latency in ms,
    and notes for the user."""

    reconstruction: Reconstruction | None
    attention: AttentionMaps | None
    latency_ms: float
    notes: list[str]


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
        self.dtype = torch.float32  # torch.int8: int8 Linear layers, float32 elsewhere
        # why 'auto' chose the precision ('int8: 2.3x faster than fp32, -0.02 dB'); None
        # when the precision was named
        self.auto: str | None = None
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
        input_norm: str | None = None,
    ) -> ModelSession:
        """Load a checkpoint (any supported format) onto a device ('auto' picks CUDA first)
        in a precision: fp32, fp16, bf16, int8 (CPU), or 'auto' (the fastest one here that
        keeps the results; measured once per model and machine, see engine/precision.py).
        heads/decoder_heads/input_norm override the checkpoint's (see `load_checkpoint`)."""
        dev = resolve_device(device)
        auto = (dtype or "").lower() == "auto"
        dt = torch.float32 if auto else resolve_dtype(dtype, dev)
        ckpt = load_checkpoint(path, heads, decoder_heads, input_norm)
        # before the model is built and long before a pass (auto's first one included)
        check_pass_fits(ckpt.config, Path(path).name, str(dev))
        session = cls(ckpt, build_model(ckpt), dev, dt)
        if auto:
            session.to(dev, "auto")
        return session

    @property
    def config(self) -> MAEConfig:
        return self.model.cfg

    def to(self, device: str | torch.device, dtype: str | torch.dtype = "fp32") -> None:
        """Move the model; device/dtype may be names ('auto', 'cuda:0', 'bf16', 'int8').
        dtype 'auto' measures (or recalls) the fastest precision that keeps the results."""
        dev = device if isinstance(device, torch.device) else resolve_device(device)
        if isinstance(dtype, str) and dtype.lower() == "auto":
            from .precision import choose

            _, self.auto = choose(self, dev)
            return
        dt = dtype if isinstance(dtype, torch.dtype) else resolve_dtype(dtype, dev)
        if dt == torch.int8 and dev.type != "cpu":
            resolve_dtype("int8", dev)  # raises: int8 is a CPU precision
        self._place(dev, dt)
        self.auto = None

    def _place(self, dev: torch.device, dt: torch.dtype) -> None:
        """Put the model on dev in dt (torch.int8: int8 Linear layers, float32 elsewhere),
        starting from the checkpoint's weights whenever the current ones were rounded."""
        if (dev, dt) == (self.device, self.dtype):
            return
        dequantized = is_quantized(self.model) and dequantize_linears(self.model) > 0
        base = torch.float32 if dt == torch.int8 else dt
        self.model.to(device=dev, dtype=base)
        if dequantized or (base == torch.float32 and self.dtype != torch.float32):
            # the checkpoint's weights, not the rounded int8/fp16/bf16 ones
            sd = {k: v.float() for k, v in self.checkpoint.state_dict.items()}
            self.model.load_state_dict(sd, strict=True)
        if dt == torch.int8:
            quantize_linears(self.model)
        self.device, self.dtype = dev, dt

    def _variant(self, dt: torch.dtype) -> MAEModel:
        """A copy of the (float32) model in dt (torch.int8: int8 Linear layers), on the same
        device and pausing at the same points; for 'auto' to measure side by side."""
        assert self.dtype == torch.float32
        hook, self.model.between_blocks = self.model.between_blocks, None
        try:
            model = copy.deepcopy(self.model)
        finally:
            self.model.between_blocks = hook
        if dt == torch.int8:
            quantize_linears(model)
        else:
            model.to(dtype=dt)
        model.between_blocks = hook
        return model

    @property
    def compute_dtype(self) -> torch.dtype:
        """The dtype activations run in (float32 under int8)."""
        return torch.float32 if self.dtype == torch.int8 else self.dtype

    # -- running -------------------------------------------------------------------------
    def _guarded(self, fn):
        """Run fn; on CUDA out-of-memory move to the CPU (fp32), say so, and run it again.
        An allocation that fails on the CPU is "not enough memory", never an internal error."""
        try:
            return self._allocating(fn)
        except torch.cuda.OutOfMemoryError:
            if self.device.type != "cuda":
                raise
            torch.cuda.empty_cache()
            self.to(torch.device("cpu"), torch.float32)
            self.messages.append("the GPU ran out of memory; switched to the CPU (fp32)")
            return self._allocating(fn)

    def _allocating(self, fn):
        try:
            return fn()
        except torch.cuda.OutOfMemoryError:
            raise
        except (MemoryError, RuntimeError) as exc:
            text = str(exc)
            if not isinstance(exc, MemoryError) and not any(
                s in text for s in ("can't allocate memory", "not enough memory", "out of memory")
            ):
                raise
            raise MAEError(
                f"not enough memory for one pass of {self.checkpoint.path.name} on "
                f"{self.device} ({self.config.num_patches} patches); close other programs or "
                "choose a smaller model"
            ) from exc

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
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            normalised = (image.astype(np.float32) - mean) / std
        if not np.isfinite(normalised).all():
            raise MAEError(
                "the normalised image is not finite (NaN or infinity): the pixels or the "
                f"input normalisation (mean {list(cfg.mean)}, std {list(cfg.std)}) are wrong"
            )
        patches = patchify(normalised, cfg.patch_size)
        x = torch.from_numpy(np.ascontiguousarray(patches))[None]
        ids = torch.from_numpy(np.flatnonzero(~mask.ravel()))[None]
        return x.to(self.device, self.compute_dtype), ids.to(self.device)

    def _no_decoder(self) -> MAEError:
        return MAEError(
            f"{self.checkpoint.path.name} has no decoder (encoder-only weights), so it "
            "cannot reconstruct; it can still show attention maps"
        )

    def _forward(
        self, image: np.ndarray, mask: np.ndarray, decode: bool, attention: str | None
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """One pass: the model-space prediction (N, patch_dim) if decode, and the attention
        weights (layers, heads, L, L) of attention='encoder'|'decoder' (None: fused kernels)."""
        enc_w = attention == "encoder"
        dec_w = attention == "decoder"

        def run() -> tuple[np.ndarray | None, np.ndarray | None]:
            x, ids = self._inputs(image, mask)
            with torch.inference_mode():
                latent, weights = self.model.forward_encoder(x, ids, need_weights=enc_w)
                pred = None
                if decode or dec_w:
                    pred, dweights = self.model.forward_decoder(latent, ids, need_weights=dec_w)
                    weights = dweights if dec_w else weights
                    pred = pred[0].float().cpu().numpy()
            stacked = np.stack([w[0].float().cpu().numpy() for w in weights]) if weights else None
            return pred, stacked

        return self._guarded(run)

    def _check_finite(self, pred: np.ndarray | None, weights: np.ndarray | None) -> None:
        """A pass whose prediction or attention holds NaN or infinity is an error naming the
        likely cause, never a result (it would show as black panels and null metrics)."""
        bad = [
            what
            for what, a in (("prediction", pred), ("attention", weights))
            if a is not None and not np.isfinite(a).all()
        ]
        if not bad:
            return
        name = dtype_name(self.dtype)
        if name != "fp32":
            cause = (
                f"{name} may have overflowed: try fp32 (Precision menu, --dtype fp32); if fp32 "
                "fails too, the weights are damaged or not an MAE's"
            )
        else:
            cause = (
                "the weights make the activations overflow float32 (a damaged checkpoint, or "
                "one that is not an MAE), or the input normalisation is far from the model's"
            )
        raise MAEError(
            f"{self.checkpoint.path.name} gave a non-finite {' and '.join(bad)} (NaN or "
            f"infinity) in {name}: {cause}"
        )

    def predict(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """image float32 (H, W, 3) in [0, 1], mask bool (gh, gw) -> float32 (N, patch_dim)
        prediction in model space for every patch."""
        if not self.config.has_decoder:
            raise self._no_decoder()
        pred = self._forward(image, mask, True, None)[0]
        self._check_finite(pred, None)
        return pred

    def reconstruct(
        self, image: np.ndarray, mask: np.ndarray, mode: str = "auto", norm_pix: bool | None = None
    ) -> Reconstruction:
        """A full Reconstruction (images, loss, metrics) for one image and mask."""
        return self.analyse(image, mask, mode, norm_pix, attention=None).reconstruction

    def attention(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        part: str = "encoder",
        query: Query = "cls",
        with_rollout: bool = True,
    ) -> AttentionMaps:
        """Attention maps of every layer and head for one query, on the patch grid."""
        self._check_part(part)
        _, weights = self._forward(image, mask, False, part)
        self._check_finite(None, weights)
        return self._maps(weights, mask, part, query, with_rollout)

    def analyse(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        mode: str = "auto",
        norm_pix: bool | None = None,
        attention: str | None = "encoder",
        query: Query = "cls",
        with_rollout: bool = True,
    ) -> Analysis:
        """Reconstruction and attention maps from one forward pass (what the app shows).

        Encoder-only models give attention only; a query the model cannot answer (a masked
        patch, CLS on a model without one) gives no maps and a note instead of an error.
        """
        if attention is None and not self.config.has_decoder:
            raise self._no_decoder()
        if attention is not None:
            self._check_part(attention)
        decode = self.config.has_decoder
        t0 = time.perf_counter()
        pred, weights = self._forward(image, mask, decode, attention)
        latency = (time.perf_counter() - t0) * 1000.0
        self._check_finite(pred, weights)
        notes = []
        rec = None
        if pred is not None and decode:
            rec = decode_prediction(pred, image, mask, self.config, mode, norm_pix)
            rec.latency_ms = latency
            rec.device, rec.dtype = str(self.device), dtype_name(self.dtype)
        else:
            notes.append(str(self._no_decoder()))
        maps = None
        if weights is not None:
            try:
                maps = self._maps(weights, mask, attention, query, with_rollout)
            except MAEError as exc:
                notes.append(str(exc))
        return Analysis(rec, maps, latency, notes)

    def _check_part(self, part: str) -> None:
        if part not in ("encoder", "decoder"):
            raise MAEError(f"attention part must be 'encoder' or 'decoder', got {part!r}")
        if part == "decoder" and not self.config.has_decoder:
            raise MAEError(f"{self.checkpoint.path.name} has no decoder to show attention for")

    def _maps(
        self, weights: np.ndarray, mask: np.ndarray, part: str, query: Query, with_rollout: bool
    ) -> AttentionMaps:
        cfg = self.config
        if part == "encoder":
            positions = np.flatnonzero(~mask.ravel())
        else:
            positions = np.arange(cfg.num_patches)
        maps = grid_maps(weights, positions, cfg.grid_size, cfg.use_cls_token, query, part)
        roll = None
        if with_rollout and part == "encoder":
            roll = rollout(weights, positions, cfg.grid_size, cfg.use_cls_token, query)
        return AttentionMaps(maps, part, query, roll)

    def load_image(self, path: str | Path, policy: str = "stretch") -> np.ndarray:
        """An image file fitted to this model: float32 (H, W, 3) in [0, 1]."""
        cfg = self.config
        return load_image(path, cfg.image_size, policy, pad_rgb=cfg.pad_rgb)

    # -- description ---------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """What the user sees in 'info' and the app's model panel (JSON-serialisable)."""
        cfg, ck = self.config, self.checkpoint
        return {
            "path": str(ck.path),
            "format": format_name(ck.format),
            "format_id": ck.format,
            "architecture": cfg.describe(),
            "config": cfg.to_dict(),
            "parameters": self.model.num_parameters(),
            "decoder": cfg.has_decoder,
            "normalization": "none (raw [0, 1] pixels)"
            if cfg.raw_pixels
            else f"mean {list(cfg.mean)}, std {list(cfg.std)}",
            "normalization_source": ck.norm_source,
            # the user's choice ('none', 'imagenet', 'MEAN:STD'); None: as the file says
            "input_norm": ck.input_norm,
            "target": "norm_pix (per-patch normalised pixels)" if cfg.norm_pix_loss else "pixels",
            "target_source": ck.target_source,
            "device": str(self.device),
            "dtype": dtype_name(self.dtype),
            # set when 'auto' chose the precision: what it chose and why
            **({"auto": self.auto} if self.auto is not None else {}),
            "notes": list(ck.notes),
            "heads": cfg.num_heads,
            "decoder_heads": cfg.decoder_num_heads if cfg.has_decoder else None,
            # head counts the file does not store, so they were assumed (not read)
            "assumed_heads": dict(ck.assumed_heads),
            "provenance": ck.metadata,
        }


__all__ = ["FORMATS", "FORMAT_NAMES", "ModelSession"]
