"""What the format converters share: reading weight files without running code, a source
state dict that tracks which tensors were used, and small tensor-layout helpers."""

from __future__ import annotations

import argparse
import math
import pickle
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from .. import jsonfile
from ..config import MAEConfig
from ..errors import MAEError
from ..files import regular_file
from ..validate import check_dense, check_finite

# Head counts cannot be read off the tensors. These are the widths of the standard ViT sizes
# (Ti, S, B, L, H, g, G) and of the official MAE decoder (512 wide, 16 heads).
_ENCODER_HEADS = {192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16, 1408: 16, 1664: 16}
_DECODER_HEADS = {512: 16}
# config.json, preprocessor_config.json and shard indexes are a few kB; refuse anything huge
MAX_JSON_BYTES = 16 << 20

# (config, state dict, where the target came from): what every converter returns
Converted = tuple[MAEConfig, dict[str, torch.Tensor], str]


# -- reading raw tensors ---------------------------------------------------------------------
def read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a .safetensors file; MAEError when it is not one."""
    regular_file(path, "checkpoint")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, TypeError, RuntimeError, MemoryError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MAEError(f"cannot read {path.name}: not a valid safetensors file ({reason})") from exc
    return tensors, meta


def _check_zip(path: Path) -> None:
    """A zip-format torch file whose entries would unpack to far more than the file holds
    (torch.save stores them uncompressed) is refused before torch reads it."""
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise MAEError(
            f"cannot read {path.name}: not a PyTorch checkpoint, or the file is damaged"
        ) from exc
    if unpacked > 2 * path.stat().st_size + (1 << 20):
        raise MAEError(
            f"refusing to load {path.name}: its entries unpack to {unpacked:,} bytes from a "
            f"{path.stat().st_size:,}-byte file (a possible zip bomb); checkpoints written "
            "by torch.save are stored uncompressed"
        )


def read_torch(path: Path) -> Any:
    """A torch file loaded weights-only (argparse.Namespace allowed, for official training
    checkpoints); MAEError for damaged files and for files that need arbitrary objects."""
    regular_file(path, "checkpoint")
    _check_zip(path)
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)", str(exc))
        if found is None:  # not a pickle at all
            raise MAEError(f"cannot read {path.name}: not a PyTorch checkpoint") from exc
        raise MAEError(
            f"refusing to load {path.name}: it needs Python objects beyond tensors "
            f"({found.group(1)}), and loading those could run code; only weights-only "
            "checkpoints are opened"
        ) from exc
    except MemoryError as exc:
        raise MAEError(
            f"cannot read {path.name}: it asks for more memory than there is (damaged, or not "
            "a checkpoint)"
        ) from exc
    except (
        RuntimeError,
        EOFError,
        OSError,
        zipfile.BadZipFile,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        OverflowError,
        RecursionError,
    ) as exc:
        raise MAEError(
            f"cannot read {path.name}: not a PyTorch checkpoint, or the file is damaged"
        ) from exc


def read_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str], Any]:
    """Tensors, safetensors metadata and the `args` Namespace (if any) of one file.
    Tensors holding NaN or infinity are refused (MAEError naming the tensor)."""
    if path.suffix.lower() == ".safetensors":
        tensors, meta = read_safetensors(path)
        check_dense(tensors, path.name)
        check_finite(tensors, path.name)
        return tensors, meta, None
    obj = read_torch(path)
    if not isinstance(obj, dict):
        raise MAEError(f"{path.name} holds a {type(obj).__name__}, not a state dict")
    args = obj.get("args")
    for key in ("model", "state_dict", "model_state"):
        if isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise MAEError(
            f"{path.name} holds no tensors (top-level keys: {preview(list(obj))}); "
            "expected a state dict or {'model': state_dict}"
        )
    if len(tensors) != len(obj):
        others = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
        raise MAEError(
            f"{path.name}: the state dict has entries that are not tensors: {preview(others)}"
        )
    if all(isinstance(k, str) and k.startswith("module.") for k in tensors):  # saved from DDP
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    if not all(isinstance(k, str) for k in tensors):
        odd = [repr(k) for k in tensors if not isinstance(k, str)]
        raise MAEError(f"{path.name}: the state dict has names that are not text: {preview(odd)}")
    check_dense(tensors, path.name)
    check_finite(tensors, path.name)
    return tensors, {}, args if isinstance(args, argparse.Namespace) else None


def read_json(path: Path) -> dict:
    """A JSON object from a file; MAEError when unreadable, not an object, or larger than
    any configuration file (16 MB)."""
    shown = f"{path.parent.name}/{path.name}"
    regular_file(path, "file")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise MAEError(
            f"{shown} is {path.stat().st_size:,} bytes, too large for a configuration file"
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MAEError(f"cannot read {shown}: {exc.strerror or exc}") from exc
    data = jsonfile.loads(raw, shown)
    if not isinstance(data, dict):
        raise MAEError(f"{shown} does not hold a JSON object")
    return data


def preview(items: list[str], n: int = 6) -> str:
    """The first n items, comma-separated, with the total when there are more."""
    shown = ", ".join(items[:n])
    return shown + (f", ... ({len(items)} in all)" if len(items) > n else "")


# -- helpers shared by the converters --------------------------------------------------------
class Source:
    """A source state dict that remembers which tensors were used."""

    def __init__(self, tensors: dict[str, torch.Tensor], name: str) -> None:
        self.tensors = tensors
        self.used: set[str] = set()
        self.name = name

    def has(self, key: str) -> bool:
        return key in self.tensors

    def get(self, key: str, ndim: int | None = None) -> torch.Tensor:
        """The tensor `key` (MAEError when missing, or when ndim is given and it has another
        number of dimensions)."""
        if key not in self.tensors:
            raise MAEError(f"{self.name}: missing tensor {key!r}")
        t = self.tensors[key]
        if ndim is not None and t.ndim != ndim:
            raise MAEError(
                f"{self.name}: tensor {key} has shape {tuple(t.shape)}; expected {ndim} dimensions"
            )
        self.used.add(key)
        return t

    def count(self, pattern: str) -> int:
        """Number of distinct layer indices matching a regex with one (\\d+) group."""
        rx = re.compile(pattern)
        return len({m.group(1) for k in self.tensors if (m := rx.match(k))})

    def check_all_used(self, ignored: set[str] = frozenset()) -> None:
        left = sorted(set(self.tensors) - self.used - ignored)
        if left:
            raise MAEError(f"{self.name}: unexpected tensors: {preview(left)}")


def guess_heads(width: int, decoder: bool) -> int:
    """Heads of a layer `width` channels wide: the standard ViT/MAE sizes, else 64 channels
    per head (32 in a decoder), else one head."""
    table = _DECODER_HEADS if decoder else _ENCODER_HEADS
    if width in table:
        return table[width]
    head_dim = 32 if decoder else 64
    return max(1, width // head_dim) if width % head_dim == 0 else 1


def conv_to_linear(w: torch.Tensor) -> torch.Tensor:
    """Conv2d patch weight (D, C, p, p) -> Linear weight (D, p*p*C) in (row, col, channel)."""
    return w.permute(0, 2, 3, 1).reshape(w.shape[0], -1)


def square_grid(num_patches: int, name: str) -> int:
    """The side of a square patch grid of num_patches; MAEError when there is none."""
    if num_patches < 1:
        raise MAEError(
            f"{name}: the position table holds no patch positions ({max(num_patches, 0)}); "
            "an MAE needs at least one patch"
        )
    side = math.isqrt(num_patches)
    if side * side != num_patches:
        raise MAEError(
            f"{name}: {num_patches} position embeddings do not form a square grid; "
            "a config.json with image_size is needed"
        )
    return side


def rgb_patch_size(patch_dim: int, name: str) -> int:
    """p of a patch vector of 3 * p * p values (RGB models); MAEError otherwise."""
    p = math.isqrt(max(patch_dim, 0) // 3)
    if p < 1 or p * p * 3 != patch_dim:
        raise MAEError(f"{name}: patch embedding input {patch_dim} is not 3 x p x p")
    return p


def copy_blocks(
    src: Source, out: dict, src_fmt: str, dst_prefix: str, depth: int, names: dict[str, str]
) -> None:
    """Copy per-block tensors: names maps our suffix (e.g. 'norm1.weight') to the source's."""
    for i in range(depth):
        for ours, theirs in names.items():
            key = src_fmt.format(i=i) + theirs
            if src.has(key) or not ours.endswith("bias") or "qkv" not in ours:
                out[f"{dst_prefix}{i}.{ours}"] = src.get(key)


def tensors_only(convert: Callable[..., Converted]) -> Callable[[Any, Any], Any]:
    """A format record's convert for files that hold only tensors: `convert(src, heads,
    decoder_heads, notes, assumed)` called on what was opened, its notes and assumed head
    counts kept in the `records.Loaded` it returns."""
    from .records import Loaded

    def load(opened, wanted):
        notes: list[str] = []
        assumed: dict[str, int] = {}
        src = Source(opened.tensors, opened.name)
        cfg, sd, source = convert(src, wanted.heads, wanted.decoder_heads, notes, assumed)
        return Loaded(cfg, sd, source, notes, assumed)

    return load
