"""Opening MAE checkpoints in every supported format, and writing our own.

Loading never runs code from a file: torch files go through `torch.load(weights_only=True)`
(with `argparse.Namespace` as the one extra allowed type, for official training
checkpoints), everything else through safetensors. Each format (one module under
`engine.formats`) is mapped onto the tensor names of `MAEModel`; missing, unexpected and
mis-shaped tensors are errors that list them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import jsonfile
from .config import MAEConfig, parse_input_norm
from .errors import MAEError
from .files import regular_file, regular_folder
from .formats import huggingface, official, ours, paperweekly, vitpytorch
from .formats.common import Source, preview, read_weights
from .formats.ours import FORMAT_VERSION, METADATA_KEY, save_checkpoint
from .model import MAEModel
from .validate import check_tensors, own_fields, validate_config

FORMATS = {
    "official": "official facebookresearch/mae .pth ({'model': state_dict}, bare, training "
    "checkpoints, encoder-only mae_pretrain/timm .mae weights)",
    "huggingface": "Hugging Face ViTMAEForPreTraining / ViTMAEModel folder (config.json + "
    "model.safetensors or pytorch_model.bin), transformers 4.x and 5.x layouts",
    "paperweekly": "PaperWeekly from-scratch MAE (the article's `MAE` class state dict: "
    "encoder.transformer.layers..., to_qkv, mask_embed)",
    "vit-pytorch": "vit-pytorch MAE (lucidrains' vit_pytorch.mae.MAE state dict: "
    "encoder.pos_embedding, patch_to_emb, decoder_pos_emb, to_pixels)",
    "mae-desktop": "MAE Desktop .safetensors with JSON metadata",
}
# What people call each format (the app's Model info, `info`)
FORMAT_NAMES = {
    "official": "official MAE (facebookresearch/mae)",
    "huggingface": "Hugging Face ViTMAE",
    "paperweekly": "PaperWeekly from-scratch MAE",
    "vit-pytorch": "vit-pytorch MAE (lucidrains)",
    "mae-desktop": "MAE Desktop",
}
# Format ids of earlier releases (metrics.json's checkpoint_format) -> today's
FORMAT_ALIASES = {"seed": "paperweekly"}
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".tar")

# Where the input normalisation comes from when the user does not set it
_NORM_SOURCES = {
    "official": "assumed: the official models' ImageNet mean/std",
    "paperweekly": "format: the PaperWeekly from-scratch MAE sees raw pixels",
    "vit-pytorch": "assumed: vit-pytorch has no input normalisation of its own",
    "mae-desktop": "metadata",
}
USER_NORM_SOURCE = "set by the user"


def format_name(format_id: str) -> str:
    """The name people know a format by (also for ids of earlier releases)."""
    format_id = FORMAT_ALIASES.get(format_id, format_id)
    return FORMAT_NAMES.get(format_id, format_id)


@dataclass
class Checkpoint:
    """A checkpoint mapped onto MAEModel names.

    state_dict: float tensors named like `MAEModel.state_dict()`; notes: what had to be
    assumed (head counts, target); target_source: where `config.norm_pix_loss` came from;
    norm_source: where `config.mean`/`std` came from; input_norm: the user's normalisation
    (a `parse_input_norm` spec) when one replaced the checkpoint's, else None.
    """

    config: MAEConfig
    state_dict: dict[str, torch.Tensor]
    format: str
    path: Path
    weight_files: list[Path]
    target_source: str
    notes: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    # head counts that were assumed, not read: {"heads": n, "decoder_heads": n}
    assumed_heads: dict[str, int] = field(default_factory=dict)
    norm_source: str = ""
    input_norm: str | None = None
    # how the source names the architecture's fields, for messages ('config.json hidden_size')
    fields: dict[str, str] = field(default_factory=dict, repr=False)

    def sha256(self) -> str:
        """sha256 of the weight file(s), hex; several files are hashed in name order."""
        return sha256_files(self.weight_files)


def sha256_files(paths: list[Path]) -> str:
    """sha256 (hex) of the files' bytes, read in 1 MiB chunks, in name order."""
    h = hashlib.sha256()
    for f in sorted(paths):
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


# -- detection and loading -------------------------------------------------------------------
def _detect(keys: set[str]) -> str | None:
    if official.detect(keys):
        return "official"
    if huggingface.detect(keys):
        return "huggingface"
    if paperweekly.detect(keys):
        return "paperweekly"
    if vitpytorch.detect(keys):
        return "vit-pytorch"
    return None


def load_checkpoint(
    path: str | Path,
    heads: int | None = None,
    decoder_heads: int | None = None,
    input_norm: str | None = None,
) -> Checkpoint:
    """Open any supported checkpoint (file or Hugging Face folder), detecting the format.

    heads/decoder_heads override head counts for formats that do not store them (official,
    PaperWeekly and vit-pytorch files). input_norm ('none', 'imagenet' or 'MEAN:STD', see
    `config.parse_input_norm`) replaces the normalisation of [0, 1] input pixels; None keeps
    the checkpoint's. Raises MAEError for unreadable files, unknown layouts, missing or
    unexpected tensors, an architecture out of range or at odds with the tensors, weights
    that are not finite, and a malformed input_norm. Only ordinary files (and folders of
    them) are opened: a pipe or a device is refused before it is read.
    """
    path = Path(path)
    try:
        os.stat(path)  # unlike exists(), tells a link loop or a refusal from a missing file
    except (FileNotFoundError, NotADirectoryError):
        raise MAEError(f"checkpoint not found: {path}") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise MAEError(f"cannot open checkpoint {path}: {reason}") from None
    if path.is_dir():
        regular_folder(path, "checkpoint folder")
    else:
        regular_file(path, "checkpoint")
    ckpt = _load(path, heads, decoder_heads)
    if input_norm is not None:
        try:
            mean, std = parse_input_norm(input_norm)
        except ValueError as exc:
            raise MAEError(str(exc)) from exc
        ckpt.config = ckpt.config.replace(mean=mean, std=std)
        ckpt.norm_source, ckpt.input_norm = USER_NORM_SOURCE, input_norm
        ckpt.fields = dict(ckpt.fields, mean="--input-norm mean", std="--input-norm std")
    # what build_model checks again: the architecture, then the tensors against it
    validate_config(ckpt.config, path.name, ckpt.fields)
    check_tensors(ckpt.config, ckpt.state_dict, path.name, ckpt.fields)
    return ckpt


def _load(path: Path, heads: int | None, decoder_heads: int | None) -> Checkpoint:
    try:
        return _convert(path, heads, decoder_heads)
    except (ValueError, IndexError, KeyError, TypeError, RuntimeError, ZeroDivisionError) as exc:
        # a layout that looked right but whose tensors do not fit together
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MAEError(f"{path.name}: the tensors do not fit together ({reason})") from exc


def _user_heads(fields: dict[str, str], heads: int | None, decoder_heads: int | None) -> None:
    if heads is not None:
        fields.setdefault("num_heads", "--heads")
    if decoder_heads is not None:
        fields.setdefault("decoder_num_heads", "--decoder-heads")


def _convert(path: Path, heads: int | None, decoder_heads: int | None) -> Checkpoint:
    notes: list[str] = []
    name = path.name
    if path.is_dir():
        config, pre, tensors, files = huggingface.read_folder(path)
        cfg, sd, source = huggingface.convert(Source(tensors, name), config, pre, notes)
        return Checkpoint(
            cfg,
            sd,
            "huggingface",
            path,
            files,
            source,
            notes,
            {"architectures": config.get("architectures")},
            norm_source="preprocessor_config.json"
            if pre is not None
            else "assumed: ImageNet (no preprocessor_config.json)",
            fields=huggingface.config_fields(config, pre),
        )
    tensors, meta, args = read_weights(path)
    if METADATA_KEY in meta:
        own = jsonfile.loads(meta[METADATA_KEY], f"{name}: the MAE Desktop metadata")
        if not isinstance(own, dict):
            raise MAEError(
                f"{name}: the MAE Desktop metadata is a JSON {type(own).__name__}, "
                "not an object; the file is damaged"
            )
        cfg, sd = ours.convert(tensors, own, name)
        provenance = own.get("provenance", {})
        return Checkpoint(
            cfg,
            sd,
            "mae-desktop",
            path,
            [path],
            "metadata",
            notes,
            provenance if isinstance(provenance, dict) else {},
            norm_source=_NORM_SOURCES["mae-desktop"],
            fields=own_fields(),
        )
    fmt = _detect(set(tensors))
    src = Source(tensors, name)
    assumed: dict[str, int] = {}
    if fmt == "official":
        cfg, sd, source = official.convert(src, args, heads, decoder_heads, notes, assumed)
    elif fmt == "huggingface":
        cfg, sd, source = huggingface.convert_bare(src, heads, decoder_heads, notes, assumed)
    elif fmt == "paperweekly":
        cfg, sd, source = paperweekly.convert(src, heads, decoder_heads, notes, assumed)
    elif fmt == "vit-pytorch":
        cfg, sd, source = vitpytorch.convert(src, heads, decoder_heads, notes, assumed)
    else:
        raise MAEError(
            f"{name}: unrecognised checkpoint layout ({len(tensors)} tensors, e.g. "
            f"{preview(sorted(tensors), 4)}). Known formats: " + "; ".join(FORMATS.values())
        )
    metadata: dict[str, Any] = {}
    if args is not None:
        metadata["args"] = {
            k: v
            for k, v in vars(args).items()
            if isinstance(v, str | int | float | bool | type(None))
        }
    norm_source = _NORM_SOURCES.get(fmt, "assumed: ImageNet (no preprocessor_config.json)")
    fields: dict[str, str] = {}
    _user_heads(fields, heads, decoder_heads)
    if fmt == "official" and args is not None and hasattr(args, "norm_pix_loss"):
        fields["norm_pix_loss"] = "args.norm_pix_loss"
    return Checkpoint(
        cfg,
        sd,
        fmt,
        path,
        [path],
        source,
        notes,
        metadata,
        assumed,
        norm_source=norm_source,
        fields=fields,
    )


def build_model(ckpt: Checkpoint) -> MAEModel:
    """Instantiate MAEModel for a checkpoint and load its tensors, strictly.

    The architecture is range-checked and every tensor's name and shape compared with what
    it needs (computed on the meta device) before any model memory is allocated; raises
    MAEError naming the field, or listing missing, unexpected or mis-shaped tensors.
    """
    name = ckpt.path.name
    validate_config(ckpt.config, name, ckpt.fields)
    check_tensors(ckpt.config, ckpt.state_dict, name, ckpt.fields)
    try:
        with torch.device("meta"):
            model = MAEModel(ckpt.config)
    except ValueError as exc:
        raise MAEError(f"{name}: inconsistent architecture: {exc}") from exc
    loaded = set(model.state_dict())
    tensors = {k: _own_float(v) for k, v in ckpt.state_dict.items()}
    if all(key in loaded for key, _ in model.named_buffers()):
        # the meta model takes the tensors themselves (no empty allocation to fill: to_empty
        # would also import sympy, a third of a second at every model open)
        model.load_state_dict(tensors, strict=True, assign=True)
    else:  # buffers the state dict does not fill: build them the ordinary way
        model = MAEModel(ckpt.config)
        model.load_state_dict(tensors, strict=True)
    model.eval()
    return model


def _own_float(t: torch.Tensor) -> torch.Tensor:
    """t as float32 in memory of its own (never shared with the checkpoint's tensors, which
    a session keeps to restore fp32 weights after a precision change)."""
    out = t.float()
    return out.clone() if out.data_ptr() == t.data_ptr() else out


__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "FORMAT_VERSION",
    "METADATA_KEY",
    "Checkpoint",
    "build_model",
    "format_name",
    "load_checkpoint",
    "save_checkpoint",
    "sha256_files",
]
