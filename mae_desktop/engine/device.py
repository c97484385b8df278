"""Choosing where and in which precision the model runs."""

from __future__ import annotations

import torch

from .errors import MAEError

# int8: the Linear layers in int8 (engine/quantize.py), everything else float32; CPUs only
DTYPES = {
    "fp32": torch.float32,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
    "int8": torch.int8,
}
# what a user can ask for: 'auto' measures the precisions the device offers and keeps the
# fastest one that leaves the results as they are in fp32 (engine/precision.py)
PRECISIONS = ("auto", *DTYPES)


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def available_devices() -> list[str]:
    """Device names a user can pick: 'cpu', each 'cuda:N', and 'mps' where present."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        names.append("mps")
    return names


def resolve_device(spec: str = "auto") -> torch.device:
    """'auto' (CUDA, then MPS, then CPU), 'cpu', 'cuda', 'cuda:N' or 'mps' -> torch.device."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not _mps_available():
            raise MAEError("device 'mps' was asked for, but Apple's MPS is not available here")
        return torch.device("mps")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise MAEError(
                f"device {spec!r} was asked for, but CUDA is not available here "
                "(no NVIDIA GPU, or a CPU-only build of torch)"
            )
        index = torch.cuda.current_device() if spec == "cuda" else spec[5:]
        try:
            index = int(index)
        except ValueError:
            raise MAEError(f"bad device {spec!r}: expected cuda:N with a number N") from None
        count = torch.cuda.device_count()
        if not 0 <= index < count:
            raise MAEError(f"device {spec!r} does not exist: {count} CUDA device(s) present")
        return torch.device("cuda", index)
    raise MAEError(f"unknown device {spec!r}: use auto, cpu, cuda, cuda:N or mps")


def supported_dtypes(device: torch.device) -> list[str]:
    """Precisions offered on a device: fp32 everywhere, bf16 on CPUs and capable GPUs, fp16
    on GPUs, int8 on CPUs (where torch runs int8 products)."""
    if device.type == "cuda":
        names = ["fp32", "fp16"]
        if torch.cuda.is_bf16_supported():
            names.append("bf16")
        return names
    if device.type == "mps":
        return ["fp32", "fp16"]
    from .quantize import int8_available

    return ["fp32", "bf16", "int8"] if int8_available() else ["fp32", "bf16"]


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """'fp32' | 'fp16' | 'bf16' | 'int8' -> torch dtype, refusing those the device cannot
    run. 'auto' is not a dtype: `ModelSession.open/to` resolve it by measuring."""
    name = (name or "fp32").lower()
    if name not in DTYPES:
        raise MAEError(f"unknown precision {name!r}: use {', '.join(PRECISIONS)}")
    offered = supported_dtypes(device)
    if name not in offered:
        if name == "int8" and device.type != "cpu":
            raise MAEError(
                f"int8 runs on the CPU only, not on {device}; choose auto or one of "
                f"{', '.join(offered)} there, or the CPU for int8"
            )
        raise MAEError(f"{name} is not available on {device}; choose one of {', '.join(offered)}")
    return DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    return {v: k for k, v in DTYPES.items()}[dtype]
