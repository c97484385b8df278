"""The Qt-free engine: checkpoints, the model, masks, images, reconstruction, attention.

Nothing under this package imports Qt (a test checks it).
"""

from .attention import AttentionMaps, reduce_heads
from .checkpoints import FORMATS, Checkpoint, build_model, load_checkpoint, save_checkpoint
from .config import MAEConfig
from .device import available_devices, resolve_device, resolve_dtype, supported_dtypes
from .errors import MAEError
from .images import fit_image, load_image, read_image
from .masks import MASK_MODES, generate, load_mask, save_mask
from .model import MAEModel
from .reconstruction import MODES, Reconstruction, decode
from .session import ModelSession

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
