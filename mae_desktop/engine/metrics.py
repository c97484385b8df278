"""The numbers of one reconstruction, as the CLI writes them and the window shows them."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from .reconstruction import Reconstruction


def finite_or_none(x: float | None) -> float | None:
    """x, or None for None/NaN/inf (JSON has no NaN)."""
    return None if x is None or not math.isfinite(x) else float(x)


def json_ready(value: Any) -> Any:
    """value with every NaN or infinite float (also inside dicts, lists and tuples) replaced
    by None, so that it can be written as strict JSON."""
    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


def strict_json(value: Any, **kw: Any) -> str:
    """json.dumps that never writes NaN or Infinity (which JSON does not have): undefined
    numbers become null."""
    return json.dumps(json_ready(value), allow_nan=False, **kw)


def reconstruction_metrics(rec: Reconstruction, mask: np.ndarray) -> dict[str, Any]:
    """JSON-ready metrics of a reconstruction under `mask` (bool (gh, gw), True = masked).

    loss_target_space: masked-patch MSE in the model's target space (the official loss);
    masked_mse / masked_psnr_db: pixel space, masked pixels, prediction clipped to [0, 1];
    None where undefined (nothing masked; mode 'raw').
    """
    return {
        "target": rec.target,
        "loss_target_space": finite_or_none(rec.loss),
        "masked_mse": finite_or_none(rec.masked_mse),
        "masked_psnr_db": finite_or_none(rec.masked_psnr),
        "masked_patches": int(mask.sum()),
        "num_patches": int(mask.size),
        "mask_ratio": finite_or_none(float(mask.mean())) if mask.size else None,
        "norm_pix_mode": rec.mode,
        "norm_pix_mode_label": rec.mode_label,
        "uses_ground_truth": rec.uses_ground_truth,
        "device": rec.device,
        "dtype": rec.dtype,
        "latency_ms": round(rec.latency_ms, 3),
    }


def format_metrics(metrics: dict[str, Any]) -> list[str]:
    """The numbers as short lines for people: 'masked PSNR: 17.21 dB', ... (the mask
    itself is described by engine.masks.describe)."""

    def num(key: str, unit: str = "") -> str:
        v = metrics.get(key)
        return "n/a" if v is None else f"{v:.4f}{unit}"

    return [
        f"target-space loss (masked): {num('loss_target_space')}",
        f"masked MSE (pixels): {num('masked_mse')}",
        f"masked PSNR: {num('masked_psnr_db', ' dB')}",
        f"display: {metrics['norm_pix_mode']} — {metrics['norm_pix_mode_label']}",
        f"{metrics['device']} · {metrics['dtype']} · {metrics['latency_ms']:.1f} ms",
    ]
