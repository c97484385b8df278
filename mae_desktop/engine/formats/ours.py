"""MAE Desktop's own format: safetensors whose metadata entry `mae_desktop` holds JSON
(architecture, normalisation, target, provenance)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..config import MAEConfig
from ..errors import MAEError
from ..files import atomic_write
from ..model import MAEModel
from ..validate import own_fields, validate_config
from .records import CheckpointFormat, Loaded, Opened, Wanted

METADATA_KEY = "mae_desktop"
FORMAT_VERSION = 1


def convert(tensors: dict[str, torch.Tensor], meta: dict, name: str) -> tuple[MAEConfig, dict]:
    """Our metadata (parsed JSON) and tensors -> (MAEConfig, float32 MAEModel tensors)."""
    if meta.get("format_version") != FORMAT_VERSION:
        raise MAEError(
            f"{name}: MAE Desktop format version {meta.get('format_version')!r} is "
            f"not supported (this version reads {FORMAT_VERSION})"
        )
    config = meta.get("config")
    if not isinstance(config, dict):
        found = "no config" if config is None else f"a config that is a {type(config).__name__}"
        raise MAEError(f"{name}: the MAE Desktop metadata is damaged ({found})")
    try:
        cfg = MAEConfig.from_dict(config)
    except (KeyError, TypeError, ValueError) as exc:
        raise MAEError(f"{name}: the MAE Desktop metadata is damaged ({exc})") from exc
    # the architecture is checked before the tensors are converted (validate_config names
    # the field and its value)
    validate_config(cfg, name, own_fields())
    return cfg, {k: v.float() for k, v in tensors.items()}


def save_checkpoint(
    path: str | Path, model: MAEModel, provenance: dict | None = None, half: bool = False
) -> Path:
    """Write `model` in MAE Desktop's format: safetensors with a JSON metadata entry.

    The metadata holds the architecture (MAEConfig), normalisation, target and provenance
    (free-form: data, steps, hardware, metrics). half=True stores fp16 weights.
    """
    path = Path(path)
    cfg = model.cfg
    meta = {
        "format": "mae-desktop",
        "format_version": FORMAT_VERSION,
        "config": cfg.to_dict(),
        "normalization": {"mean": list(cfg.mean), "std": list(cfg.std)},
        "target": "norm_pix" if cfg.norm_pix_loss else "pixel",
        "provenance": provenance or {},
    }
    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "checkpoint") as tmp:  # a checkpoint is whole or absent
        save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(meta)})
    return path


def _load(opened: Opened, wanted: Wanted) -> Loaded:
    from .. import jsonfile

    own = jsonfile.loads(opened.meta[METADATA_KEY], f"{opened.name}: the MAE Desktop metadata")
    if not isinstance(own, dict):
        raise MAEError(
            f"{opened.name}: the MAE Desktop metadata is a JSON {type(own).__name__}, "
            "not an object; the file is damaged"
        )
    cfg, sd = convert(opened.tensors, own, opened.name)
    provenance = own.get("provenance", {})
    metadata = provenance if isinstance(provenance, dict) else {}
    return Loaded(cfg, sd, "metadata", [], {}, own_fields(), metadata)


FORMAT = CheckpointFormat(
    id="mae-desktop",
    name="MAE Desktop",
    description="MAE Desktop .safetensors with JSON metadata",
    family="vit-mae",
    norm_source="metadata",
    detect=lambda opened: METADATA_KEY in opened.meta and not opened.folder,
    convert=_load,
)
