"""The Qt-free engine: checkpoints, the model, masks, images, reconstruction, attention.

Nothing under this package imports Qt (a test checks it). Importing the package imports
neither torch nor its submodules: each public name below loads its module on first use, so
the window and the command line's help start without waiting for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import MAEError

# public name -> the submodule that defines it (loaded on first access)
_LAZY = {
    "AttentionMaps": "attention",
    "reduce_heads": "attention",
    "FORMATS": "checkpoints",
    "Checkpoint": "checkpoints",
    "build_model": "checkpoints",
    "load_checkpoint": "checkpoints",
    "save_checkpoint": "checkpoints",
    "MAEConfig": "config",
    "available_devices": "device",
    "resolve_device": "device",
    "resolve_dtype": "device",
    "supported_dtypes": "device",
    "fit_image": "images",
    "load_image": "images",
    "read_image": "images",
    "MASK_MODES": "masks",
    "generate": "masks",
    "load_mask": "masks",
    "save_mask": "masks",
    "MAEModel": "model",
    "MODES": "reconstruction",
    "Reconstruction": "reconstruction",
    "decode": "reconstruction",
    "ModelSession": "session",
}

__all__ = [
    "FORMATS",
    "MASK_MODES",
    "MODES",
    "AttentionMaps",
    "Checkpoint",
    "MAEConfig",
    "MAEError",
    "MAEModel",
    "ModelSession",
    "Reconstruction",
    "available_devices",
    "build_model",
    "decode",
    "fit_image",
    "generate",
    "load_checkpoint",
    "load_image",
    "load_mask",
    "read_image",
    "reduce_heads",
    "resolve_device",
    "resolve_dtype",
    "save_checkpoint",
    "save_mask",
    "supported_dtypes",
]


def __getattr__(name: str) -> Any:
    """`from mae_desktop.engine import X`: import X's submodule now (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


if TYPE_CHECKING:  # for type checkers and editors: the names as if imported eagerly
    from .attention import AttentionMaps, reduce_heads
    from .checkpoints import FORMATS, Checkpoint, build_model, load_checkpoint, save_checkpoint
    from .config import MAEConfig
    from .device import available_devices, resolve_device, resolve_dtype, supported_dtypes
    from .images import fit_image, load_image, read_image
    from .masks import MASK_MODES, generate, load_mask, save_mask
    from .model import MAEModel
    from .reconstruction import MODES, Reconstruction, decode
    from .session import ModelSession
