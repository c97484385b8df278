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

from . import formats
from .config import MAEConfig, parse_input_norm
from .errors import MAEError
from .files import regular_file, regular_folder
from .formats import RECORDS, huggingface
from .formats.common import preview, read_weights
from .formats.ours import FORMAT_VERSION, METADATA_KEY, save_checkpoint
from .formats.records import Opened, Wanted
from .model import MAEModel
from .validate import check_tensors, validate_config

# format id -> description, and -> the name people know it by (the app's Model info, `info`),
# from the records each format module declares (formats.RECORDS)
FORMATS = {r.id: r.description for r in RECORDS}
FORMAT_NAMES = {r.id: r.name for r in RECORDS}
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".tar")
USER_NORM_SOURCE = "set by the user"


def format_name(format_id: str) -> str:
    """The name people know a format by (also for ids of earlier releases)."""
    record = formats.by_id(format_id)
    return record.name if record is not None else format_id


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


def _open(path: Path) -> Opened:
    """Read a checkpoint file or Hugging Face folder without knowing its format yet."""
    if path.is_dir():
        config, pre, tensors, files = huggingface.read_folder(path)
        return Opened(path, tensors, config=config, pre=pre, files=tuple(files))
    tensors, meta, args = read_weights(path)
    return Opened(path, tensors, meta, args, files=(path,))


def _convert(path: Path, heads: int | None, decoder_heads: int | None) -> Checkpoint:
    opened = _open(path)
    record = next((r for r in RECORDS if r.detect(opened)), None)
    if record is None:
        tensors = opened.tensors
        raise MAEError(
            f"{path.name}: unrecognised checkpoint layout ({len(tensors)} tensors, e.g. "
            f"{preview(sorted(tensors), 4)}). Known formats: " + "; ".join(FORMATS.values())
        )
    loaded = record.convert(opened, Wanted(heads, decoder_heads))
    fields = dict(loaded.fields)
    _user_heads(fields, heads, decoder_heads)
    return Checkpoint(
        loaded.config,
        loaded.state_dict,
        record.id,
        path,
        list(opened.files),
        loaded.target_source,
        loaded.notes,
        loaded.metadata,
        loaded.assumed,
        norm_source=loaded.norm_source or record.norm_source,
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
