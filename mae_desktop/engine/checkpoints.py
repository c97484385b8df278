"""Opening MAE checkpoints in every supported format, and writing our own.

Loading never runs code from a file: torch files go through `torch.load(weights_only=True)`
(with `argparse.Namespace` as the one extra allowed type, for official training
checkpoints), everything else through safetensors. Each format is mapped onto the tensor
names of `MAEModel`; missing, unexpected and mis-shaped tensors are errors that list them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .config import IMAGENET_MEAN, IMAGENET_STD, MAEConfig
from .errors import MAEError
from .model import MAEModel

FORMATS = {
    "official": "official facebookresearch/mae .pth ({'model': state_dict}, bare, training "
    "checkpoints, encoder-only mae_pretrain/timm .mae weights)",
    "huggingface": "Hugging Face ViTMAEForPreTraining / ViTMAEModel folder (config.json + "
    "model.safetensors or pytorch_model.bin), transformers 4.x and 5.x layouts",
    "seed": "PaperWeekly from-scratch MAE (the article's `MAE` class state dict: "
    "encoder.transformer.layers..., to_qkv, mask_embed)",
    "mae-desktop": "MAE Desktop .safetensors with JSON metadata",
}
METADATA_KEY = "mae_desktop"
FORMAT_VERSION = 1
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".tar")

# Head counts cannot be read off the tensors. These are the widths of the standard ViT sizes
# (Ti, S, B, L, H, g, G) and of the official MAE decoder (512 wide, 16 heads).
_ENCODER_HEADS = {192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16, 1408: 16, 1664: 16}
_DECODER_HEADS = {512: 16}
# The models of the official pretraining script (`args.model` in its training checkpoints):
# name prefix -> (encoder width, encoder heads, decoder heads).
_OFFICIAL_MODELS = {
    "mae_vit_base_patch16": (768, 12, 16),
    "mae_vit_large_patch16": (1024, 16, 16),
    "mae_vit_huge_patch14": (1280, 16, 16),
}


@dataclass
class Checkpoint:
    """A checkpoint mapped onto MAEModel names.

    state_dict: float tensors named like `MAEModel.state_dict()`; notes: what had to be
    assumed (head counts, target); target_source: where `config.norm_pix_loss` came from.
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


# -- reading raw tensors ---------------------------------------------------------------------
def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise MAEError(f"cannot read {path.name}: not a valid safetensors file ({exc})") from exc
    return tensors, meta


def _read_torch(path: Path) -> Any:
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
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise MAEError(
            f"cannot read {path.name}: not a PyTorch checkpoint, or the file is damaged"
        ) from exc


def _read_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str], Any]:
    """Tensors, safetensors metadata and the `args` Namespace (if any) of one file."""
    if path.suffix.lower() == ".safetensors":
        tensors, meta = _read_safetensors(path)
        return tensors, meta, None
    obj = _read_torch(path)
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
            f"{path.name} holds no tensors (top-level keys: {_preview(list(obj))}); "
            "expected a state dict or {'model': state_dict}"
        )
    if len(tensors) != len(obj):
        others = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
        raise MAEError(
            f"{path.name}: the state dict has entries that are not tensors: {_preview(others)}"
        )
    if all(k.startswith("module.") for k in tensors):  # saved from DistributedDataParallel
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    return tensors, {}, args if isinstance(args, argparse.Namespace) else None


def _preview(items: list[str], n: int = 6) -> str:
    shown = ", ".join(items[:n])
    return shown + (f", ... ({len(items)} in all)" if len(items) > n else "")


# -- helpers shared by the converters --------------------------------------------------------
class _Source:
    """A source state dict that remembers which tensors were used."""

    def __init__(self, tensors: dict[str, torch.Tensor], name: str) -> None:
        self.tensors = tensors
        self.used: set[str] = set()
        self.name = name

    def has(self, key: str) -> bool:
        return key in self.tensors

    def get(self, key: str) -> torch.Tensor:
        if key not in self.tensors:
            raise MAEError(f"{self.name}: missing tensor {key!r}")
        self.used.add(key)
        return self.tensors[key]

    def count(self, pattern: str) -> int:
        """Number of distinct layer indices matching a regex with one (\\d+) group."""
        rx = re.compile(pattern)
        return len({m.group(1) for k in self.tensors if (m := rx.match(k))})

    def check_all_used(self, ignored: set[str] = frozenset()) -> None:
        left = sorted(set(self.tensors) - self.used - ignored)
        if left:
            raise MAEError(f"{self.name}: unexpected tensors: {_preview(left)}")


def _guess_heads(width: int, decoder: bool) -> int:
    table = _DECODER_HEADS if decoder else _ENCODER_HEADS
    if width in table:
        return table[width]
    head_dim = 32 if decoder else 64
    return max(1, width // head_dim) if width % head_dim == 0 else 1


def _conv_to_linear(w: torch.Tensor) -> torch.Tensor:
    """Conv2d patch weight (D, C, p, p) -> Linear weight (D, p*p*C) in (row, col, channel)."""
    return w.permute(0, 2, 3, 1).reshape(w.shape[0], -1)


def _square_grid(num_patches: int, name: str) -> int:
    side = math.isqrt(num_patches)
    if side * side != num_patches:
        raise MAEError(
            f"{name}: {num_patches} position embeddings do not form a square grid; "
            "a config.json with image_size is needed"
        )
    return side


def _copy_blocks(
    src: _Source, out: dict, src_fmt: str, dst_prefix: str, depth: int, names: dict[str, str]
) -> None:
    """Copy per-block tensors: names maps our suffix (e.g. 'norm1.weight') to the source's."""
    for i in range(depth):
        for ours, theirs in names.items():
            key = src_fmt.format(i=i) + theirs
            if src.has(key) or not ours.endswith("bias") or "qkv" not in ours:
                out[f"{dst_prefix}{i}.{ours}"] = src.get(key)


# -- official facebookresearch/mae -----------------------------------------------------------
_OFFICIAL_BLOCK = {
    n: n
    for n in (
        "norm1.weight",
        "norm1.bias",
        "attn.qkv.weight",
        "attn.qkv.bias",
        "attn.proj.weight",
        "attn.proj.bias",
        "norm2.weight",
        "norm2.bias",
        "mlp.fc1.weight",
        "mlp.fc1.bias",
        "mlp.fc2.weight",
        "mlp.fc2.bias",
    )
}


def _official_model_heads(args: Any, width: int, notes: list[str]) -> tuple[int, int] | None:
    """(heads, decoder heads) from a training checkpoint's `args.model`, when it names one
    of the official models and its width matches the tensors."""
    name = getattr(args, "model", None) if args is not None else None
    if not isinstance(name, str):
        return None
    for prefix, (w, h, dh) in _OFFICIAL_MODELS.items():
        if name.startswith(prefix):
            if w == width:
                return h, dh
            notes.append(f"args.model is {name!r} but the tensors are {width} wide: ignored")
            return None
    return None


def _from_official(
    src: _Source,
    args: Any,
    heads: int | None,
    dheads: int | None,
    notes: list[str],
    assumed: dict[str, int],
) -> tuple[MAEConfig, dict[str, torch.Tensor], str]:
    conv = src.get("patch_embed.proj.weight")
    d, chans, p, _ = conv.shape
    named = _official_model_heads(args, d, notes)
    if named is not None:
        heads = heads or named[0]
        dheads = dheads or named[1]
    pos = src.get("pos_embed")
    side = _square_grid(pos.shape[1] - 1, src.name)
    depth = src.count(r"blocks\.(\d+)\.")
    out: dict[str, torch.Tensor] = {
        "patch_embed.weight": _conv_to_linear(conv),
        "patch_embed.bias": src.get("patch_embed.proj.bias"),
        "cls_token": src.get("cls_token"),
        "pos_embed": pos,
    }
    _copy_blocks(src, out, "blocks.{i}.", "blocks.", depth, _OFFICIAL_BLOCK)
    encoder_norm = src.has("norm.weight")
    if encoder_norm:
        out["norm.weight"], out["norm.bias"] = src.get("norm.weight"), src.get("norm.bias")
    has_decoder = any(k.startswith("decoder_") or k == "mask_token" for k in src.tensors)
    kw: dict[str, Any] = {"has_decoder": has_decoder}
    if has_decoder:
        dw = src.get("decoder_embed.weight")
        ddepth = src.count(r"decoder_blocks\.(\d+)\.")
        for name in (
            "decoder_embed.weight",
            "decoder_embed.bias",
            "mask_token",
            "decoder_pos_embed",
            "decoder_pred.weight",
            "decoder_pred.bias",
        ):
            out[name] = src.get(name)
        _copy_blocks(src, out, "decoder_blocks.{i}.", "decoder_blocks.", ddepth, _OFFICIAL_BLOCK)
        if src.has("decoder_norm.weight"):
            out["decoder_norm.weight"] = src.get("decoder_norm.weight")
            out["decoder_norm.bias"] = src.get("decoder_norm.bias")
        kw.update(
            decoder_embed_dim=dw.shape[0],
            decoder_depth=ddepth,
            decoder_num_heads=dheads or _guess_heads(dw.shape[0], True),
            decoder_attn_dim=dw.shape[0],
            decoder_mlp_hidden=src.get("decoder_blocks.0.mlp.fc1.weight").shape[0],
            decoder_qkv_bias=src.has("decoder_blocks.0.attn.qkv.bias"),
            decoder_norm=src.has("decoder_norm.weight"),
        )
        if not dheads:
            assumed["decoder_heads"] = kw["decoder_num_heads"]
            notes.append(
                f"decoder heads: {kw['decoder_num_heads']} (assumed from the standard "
                "MAE sizes; the file does not store it)"
            )
    num_heads = heads or _guess_heads(d, False)
    if not heads:
        assumed["heads"] = num_heads
        notes.append(
            f"encoder heads: {num_heads} (assumed from the standard ViT sizes; the "
            "file does not store it)"
        )
    norm_pix = getattr(args, "norm_pix_loss", None) if args is not None else None
    source = "args.norm_pix_loss" if norm_pix is not None else "unknown (assumed pixel target)"
    cfg = MAEConfig(
        image_size=(side * p, side * p),
        patch_size=p,
        in_chans=chans,
        embed_dim=d,
        depth=depth,
        num_heads=num_heads,
        attn_dim=d,
        mlp_hidden=src.get("blocks.0.mlp.fc1.weight").shape[0],
        qkv_bias=src.has("blocks.0.attn.qkv.bias"),
        encoder_norm=encoder_norm,
        norm_eps=1e-6,
        activation="gelu",
        use_cls_token=True,
        decoder_pos_on_visible=True,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        norm_pix_loss=bool(norm_pix),
        **kw,
    )
    src.check_all_used()
    return cfg, out, source


# -- Hugging Face ----------------------------------------------------------------------------
# Our block suffix -> the layer-relative names of transformers 4.x/5.x files (hub layout) and
# of 5.x modules in memory.
_HF_LAYER = {
    "norm1": ("layernorm_before",),
    "norm2": ("layernorm_after",),
    "attn.q": ("attention.attention.query", "attention.q_proj"),
    "attn.k": ("attention.attention.key", "attention.k_proj"),
    "attn.v": ("attention.attention.value", "attention.v_proj"),
    "attn.proj": ("attention.output.dense", "attention.o_proj"),
    "mlp.fc1": ("intermediate.dense", "mlp.fc1"),
    "mlp.fc2": ("output.dense", "mlp.fc2"),
}
_HF_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
}


def _hf_blocks(
    src: _Source, layer_prefixes: tuple[str, ...], dst: str, qkv_bias: bool, out: dict
) -> int:
    """Copy HF layers found under any of layer_prefixes (each with an {i}); returns depth."""
    depth, prefix = 0, None
    for cand in layer_prefixes:
        n = src.count(re.escape(cand).replace(r"\{i\}", r"(\d+)"))
        if n:
            depth, prefix = n, cand
            break
    for i in range(depth):
        base = prefix.format(i=i)

        def pick(ours: str, param: str, base: str = base) -> torch.Tensor:
            for theirs in _HF_LAYER[ours]:
                if src.has(f"{base}{theirs}.{param}"):
                    return src.get(f"{base}{theirs}.{param}")
            return src.get(f"{base}{_HF_LAYER[ours][0]}.{param}")  # raises "missing"

        for ours in ("norm1", "norm2", "attn.proj", "mlp.fc1", "mlp.fc2"):
            for param in ("weight", "bias"):
                out[f"{dst}{i}.{ours}.{param}"] = pick(ours, param)
        out[f"{dst}{i}.attn.qkv.weight"] = torch.cat([pick(f"attn.{c}", "weight") for c in "qkv"])
        if qkv_bias:
            out[f"{dst}{i}.attn.qkv.bias"] = torch.cat([pick(f"attn.{c}", "bias") for c in "qkv"])
    return depth


def _pair(v: Any) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, list | tuple) else (int(v), int(v))


def _from_hf(
    src: _Source, config: dict, pre: dict | None, notes: list[str]
) -> tuple[MAEConfig, dict[str, torch.Tensor], str]:
    prefix = "vit." if any(k.startswith("vit.") for k in src.tensors) else ""
    e = prefix + "embeddings."
    conv = src.get(e + "patch_embeddings.projection.weight")
    out: dict[str, torch.Tensor] = {
        "patch_embed.weight": _conv_to_linear(conv),
        "patch_embed.bias": src.get(e + "patch_embeddings.projection.bias"),
        "cls_token": src.get(e + "cls_token"),
        "pos_embed": src.get(e + "position_embeddings"),
    }
    qkv_bias = bool(config.get("qkv_bias", True))
    depth = _hf_blocks(
        src, (prefix + "encoder.layer.{i}.", prefix + "layers.{i}."), "blocks.", qkv_bias, out
    )
    encoder_norm = src.has(prefix + "layernorm.weight")
    if encoder_norm:
        out["norm.weight"] = src.get(prefix + "layernorm.weight")
        out["norm.bias"] = src.get(prefix + "layernorm.bias")
    has_decoder = any(k.startswith("decoder.") for k in src.tensors)
    ddepth = 0
    if has_decoder:
        for ours in (
            "decoder_embed.weight",
            "decoder_embed.bias",
            "mask_token",
            "decoder_pos_embed",
            "decoder_norm.weight",
            "decoder_norm.bias",
            "decoder_pred.weight",
            "decoder_pred.bias",
        ):
            out[ours] = src.get("decoder." + ours)
        # 4.x files: decoder.decoder_layers.N; 5.x save_pretrained: decoder.decoder_encoder.layer.N
        ddepth = _hf_blocks(
            src,
            ("decoder.decoder_layers.{i}.", "decoder.decoder_encoder.layer.{i}."),
            "decoder_blocks.",
            qkv_bias,
            out,
        )
    act = config.get("hidden_act", "gelu")
    if act not in _HF_ACTIVATIONS:
        raise MAEError(
            f"{src.name}: activation {act!r} is not supported (known: {', '.join(_HF_ACTIVATIONS)})"
        )
    image_size = _pair(config.get("image_size", 224))
    patch = _pair(config.get("patch_size", 16))
    if patch[0] != patch[1]:
        raise MAEError(f"{src.name}: non-square patches {patch} are not supported")
    hidden = int(config.get("hidden_size", conv.shape[0]))
    dhidden = int(config.get("decoder_hidden_size", 512))
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    if pre is None:
        notes.append("no preprocessor_config.json: ImageNet mean/std assumed")
    elif not pre.get("do_normalize", True):
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    else:
        mean = tuple(float(x) for x in pre.get("image_mean", IMAGENET_MEAN))
        std = tuple(float(x) for x in pre.get("image_std", IMAGENET_STD))
    cfg = MAEConfig(
        image_size=image_size,
        patch_size=patch[0],
        in_chans=int(config.get("num_channels", 3)),
        embed_dim=hidden,
        depth=depth,
        num_heads=int(config.get("num_attention_heads", 12)),
        attn_dim=hidden,
        mlp_hidden=int(config.get("intermediate_size", 4 * hidden)),
        qkv_bias=qkv_bias,
        encoder_norm=encoder_norm,
        has_decoder=has_decoder,
        decoder_embed_dim=dhidden,
        decoder_depth=ddepth,
        decoder_num_heads=int(config.get("decoder_num_attention_heads", 16)),
        decoder_attn_dim=dhidden,
        decoder_mlp_hidden=int(config.get("decoder_intermediate_size", 4 * dhidden)),
        decoder_qkv_bias=qkv_bias,
        decoder_norm=has_decoder,
        norm_eps=float(config.get("layer_norm_eps", 1e-12)),
        activation=_HF_ACTIVATIONS[act],
        use_cls_token=True,
        decoder_pos_on_visible=True,
        mean=mean,
        std=std,
        norm_pix_loss=bool(config.get("norm_pix_loss", False)),
    )
    src.check_all_used()
    source = (
        "config.json norm_pix_loss"
        if "norm_pix_loss" in config
        else "unknown (assumed pixel target)"
    )
    return cfg, out, source


def _read_hf_folder(folder: Path) -> tuple[dict, dict | None, dict[str, torch.Tensor], list[Path]]:
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        listing = sorted(p.name for p in folder.iterdir())[:8]
        raise MAEError(
            f"{folder.name}/ is not a Hugging Face model folder: no config.json "
            f"(found: {', '.join(listing) or 'nothing'})"
        )
    config = _read_json(cfg_path)
    model_type = config.get("model_type")
    if model_type not in (None, "vit_mae"):
        raise MAEError(f"{folder.name}/config.json describes a {model_type!r} model, not vit_mae")
    pre_path = folder / "preprocessor_config.json"
    pre = _read_json(pre_path) if pre_path.is_file() else None
    files: list[Path] = []
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index_name).is_file():
            weight_map = _read_json(folder / index_name).get("weight_map", {})
            files = [folder / name for name in sorted(set(weight_map.values()))]
            break
    else:
        for name in ("model.safetensors", "pytorch_model.bin"):
            if (folder / name).is_file():
                files = [folder / name]
                break
    if not files:
        raise MAEError(
            f"{folder.name}/ has a config.json but no model.safetensors or pytorch_model.bin"
        )
    tensors: dict[str, torch.Tensor] = {}
    for f in files:
        if not f.is_file():
            raise MAEError(f"{folder.name}/: shard {f.name} listed in the index is missing")
        tensors.update(_read_weights(f)[0])
    return config, pre, tensors, files


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MAEError(f"cannot read {path.name}: {exc}") from exc
    if not isinstance(data, dict):
        raise MAEError(f"{path.name} does not hold a JSON object")
    return data


# -- the PaperWeekly from-scratch MAE --------------------------------------------------------------
_SEED_BLOCK = {
    "norm1.weight": "0.norm.weight",
    "norm1.bias": "0.norm.bias",
    "attn.qkv.weight": "0.net.to_qkv.weight",
    "norm2.weight": "1.norm.weight",
    "norm2.bias": "1.norm.bias",
    "mlp.fc1.weight": "1.net.net.0.weight",
    "mlp.fc1.bias": "1.net.net.0.bias",
    "mlp.fc2.weight": "1.net.net.3.weight",
    "mlp.fc2.bias": "1.net.net.3.bias",
}
_SEED_IGNORED = {
    "encoder.cls_token",
    "encoder.mlp_head.0.weight",
    "encoder.mlp_head.0.bias",
    "encoder.mlp_head.1.weight",
    "encoder.mlp_head.1.bias",
}


def _seed_blocks(
    src: _Source, src_prefix: str, dst: str, out: dict, width: int, heads: int | None
) -> tuple[int, int, int, int]:
    """Copy seed Transformer layers; returns (depth, attn_dim, heads, mlp_hidden)."""
    depth = src.count(re.escape(src_prefix) + r"(\d+)\.")
    _copy_blocks(src, out, src_prefix + "{i}.", dst, depth, _SEED_BLOCK)
    attn_dim = src.get(f"{src_prefix}0.0.net.to_qkv.weight").shape[0] // 3
    has_out = src.has(f"{src_prefix}0.0.net.out.0.weight")
    for i in range(depth):
        if has_out:
            out[f"{dst}{i}.attn.proj.weight"] = src.get(f"{src_prefix}{i}.0.net.out.0.weight")
            out[f"{dst}{i}.attn.proj.bias"] = src.get(f"{src_prefix}{i}.0.net.out.0.bias")
        else:  # the article uses nn.Identity when one head spans the whole width
            out[f"{dst}{i}.attn.proj.weight"] = torch.eye(width)
            out[f"{dst}{i}.attn.proj.bias"] = torch.zeros(width)
    if heads is None:
        heads = 1 if not has_out else (attn_dim // 64 if attn_dim % 64 == 0 else 1)
    mlp = src.get(f"{src_prefix}0.1.net.net.0.weight").shape[0]
    return depth, attn_dim, heads, mlp


def _from_seed(
    src: _Source,
    heads: int | None,
    dheads: int | None,
    notes: list[str],
    assumed: dict[str, int],
) -> tuple[MAEConfig, dict[str, torch.Tensor], str]:
    w = src.get("encoder.patch_embed.weight")
    d, pdim = w.shape
    p = math.isqrt(pdim // 3)
    if p * p * 3 != pdim:
        raise MAEError(f"{src.name}: patch embedding input {pdim} is not 3 x p x p")
    pos = src.get("encoder.pos_embed")
    side = _square_grid(pos.shape[1] - 1, src.name)
    out: dict[str, torch.Tensor] = {
        "patch_embed.weight": w,
        "patch_embed.bias": src.get("encoder.patch_embed.bias"),
        "pos_embed": pos,
    }
    depth, attn_dim, nh, mlp = _seed_blocks(
        src, "encoder.transformer.layers.", "blocks.", out, d, heads
    )
    has_decoder = src.has("head.weight")
    kw: dict[str, Any] = {"has_decoder": has_decoder}
    if has_decoder:
        dpos = src.get("decoder_pos_embed.weight")
        dd = dpos.shape[1]
        if src.has("enc_to_dec.weight"):
            out["decoder_embed.weight"] = src.get("enc_to_dec.weight")
            out["decoder_embed.bias"] = src.get("enc_to_dec.bias")
        else:  # nn.Identity when the widths match
            out["decoder_embed.weight"], out["decoder_embed.bias"] = torch.eye(d), torch.zeros(d)
        out["mask_token"] = src.get("mask_embed").reshape(1, 1, -1)
        out["decoder_pos_embed"] = dpos.unsqueeze(0)
        out["decoder_pred.weight"] = src.get("head.weight")
        out["decoder_pred.bias"] = src.get("head.bias")
        ddepth, dattn, dnh, dmlp = _seed_blocks(
            src, "decoder.layers.", "decoder_blocks.", out, dd, dheads
        )
        kw.update(
            decoder_embed_dim=dd,
            decoder_depth=ddepth,
            decoder_num_heads=dnh,
            decoder_attn_dim=dattn,
            decoder_mlp_hidden=dmlp,
            decoder_qkv_bias=False,
            decoder_norm=False,
        )
    if heads is None:
        assumed["heads"] = nh
    if has_decoder and dheads is None:
        assumed["decoder_heads"] = kw["decoder_num_heads"]
    if heads is None or (has_decoder and dheads is None):
        notes.append(
            "heads assumed from the PaperWeekly from-scratch MAE's default of 64 channels per head"
        )
    cfg = MAEConfig(
        image_size=(side * p, side * p),
        patch_size=p,
        in_chans=3,
        embed_dim=d,
        depth=depth,
        num_heads=nh,
        attn_dim=attn_dim,
        mlp_hidden=mlp,
        qkv_bias=False,
        encoder_norm=False,
        norm_eps=1e-5,
        activation="gelu",
        use_cls_token=False,
        decoder_pos_on_visible=False,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        norm_pix_loss=False,
        **kw,
    )
    src.check_all_used(_SEED_IGNORED)
    return cfg, out, "format (the PaperWeekly from-scratch MAE trains on raw pixels)"


# -- our own format --------------------------------------------------------------------------
def _from_own(tensors: dict[str, torch.Tensor], meta: dict, name: str) -> tuple[MAEConfig, dict]:
    if meta.get("format_version") != FORMAT_VERSION:
        raise MAEError(
            f"{name}: MAE Desktop format version {meta.get('format_version')!r} is "
            f"not supported (this version reads {FORMAT_VERSION})"
        )
    try:
        cfg = MAEConfig.from_dict(meta["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise MAEError(f"{name}: the MAE Desktop metadata is damaged ({exc})") from exc
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
    save_file(tensors, str(path), metadata={METADATA_KEY: json.dumps(meta)})
    return path


# -- detection and loading -------------------------------------------------------------------
def _detect(keys: set[str]) -> str | None:
    if "patch_embed.proj.weight" in keys:
        return "official"
    if any(k.startswith(("vit.embeddings.", "embeddings.patch_embeddings.")) for k in keys):
        return "huggingface"
    if "encoder.patch_embed.weight" in keys and any("to_qkv" in k for k in keys):
        return "seed"
    return None


def load_checkpoint(
    path: str | Path, heads: int | None = None, decoder_heads: int | None = None
) -> Checkpoint:
    """Open any supported checkpoint (file or Hugging Face folder), detecting the format.

    heads/decoder_heads override head counts for formats that do not store them (official
    .pth and seed files). Raises MAEError for unreadable files, unknown layouts and missing or
    unexpected tensors.
    """
    path = Path(path)
    if not path.exists():
        raise MAEError(f"checkpoint not found: {path}")
    notes: list[str] = []
    name = path.name
    if path.is_dir():
        config, pre, tensors, files = _read_hf_folder(path)
        src = _Source(tensors, name)
        cfg, sd, source = _from_hf(src, config, pre, notes)
        return Checkpoint(
            cfg,
            sd,
            "huggingface",
            path,
            files,
            source,
            notes,
            {"architectures": config.get("architectures")},
        )
    tensors, meta, args = _read_weights(path)
    if METADATA_KEY in meta:
        try:
            own = json.loads(meta[METADATA_KEY])
        except json.JSONDecodeError as exc:
            raise MAEError(f"{name}: the MAE Desktop metadata is not valid JSON") from exc
        cfg, sd = _from_own(tensors, own, name)
        return Checkpoint(
            cfg, sd, "mae-desktop", path, [path], "metadata", notes, own.get("provenance", {})
        )
    fmt = _detect(set(tensors))
    src = _Source(tensors, name)
    assumed: dict[str, int] = {}
    if fmt == "official":
        cfg, sd, source = _from_official(src, args, heads, decoder_heads, notes, assumed)
    elif fmt == "huggingface":
        notes.append(
            "a bare Hugging Face weights file without config.json: sizes read from "
            "the tensors, heads and LayerNorm eps assumed"
        )
        cfg, sd, source = _from_hf_bare(src, heads, decoder_heads, notes)
        if heads is None:
            assumed["heads"] = cfg.num_heads
        if decoder_heads is None and cfg.has_decoder:
            assumed["decoder_heads"] = cfg.decoder_num_heads
    elif fmt == "seed":
        cfg, sd, source = _from_seed(src, heads, decoder_heads, notes, assumed)
    else:
        raise MAEError(
            f"{name}: unrecognised checkpoint layout ({len(tensors)} tensors, e.g. "
            f"{_preview(sorted(tensors), 4)}). Known formats: " + "; ".join(FORMATS.values())
        )
    metadata: dict[str, Any] = {}
    if args is not None:
        metadata["args"] = {
            k: v
            for k, v in vars(args).items()
            if isinstance(v, str | int | float | bool | type(None))
        }
    return Checkpoint(cfg, sd, fmt, path, [path], source, notes, metadata, assumed)


def _from_hf_bare(
    src: _Source, heads: int | None, dheads: int | None, notes: list[str]
) -> tuple[MAEConfig, dict, str]:
    """A Hugging Face weights file on its own: read sizes off the tensors."""
    prefix = "vit." if any(k.startswith("vit.") for k in src.tensors) else ""
    conv = src.tensors[prefix + "embeddings.patch_embeddings.projection.weight"]
    d, _, p, _ = conv.shape
    n = src.tensors[prefix + "embeddings.position_embeddings"].shape[1] - 1
    side = _square_grid(n, src.name)
    config: dict[str, Any] = {
        "image_size": side * p,
        "patch_size": p,
        "hidden_size": d,
        "num_attention_heads": heads or _guess_heads(d, False),
        "qkv_bias": any(k.endswith("query.bias") or k.endswith("q_proj.bias") for k in src.tensors),
    }
    fc1 = [
        v
        for k, v in src.tensors.items()
        if k.startswith(prefix) and k.endswith(("intermediate.dense.weight", "mlp.fc1.weight"))
    ]
    if fc1:
        config["intermediate_size"] = fc1[0].shape[0]
    if "decoder.decoder_embed.weight" in src.tensors:
        dd = src.tensors["decoder.decoder_embed.weight"].shape[0]
        config["decoder_hidden_size"] = dd
        config["decoder_num_attention_heads"] = dheads or _guess_heads(dd, True)
        dfc1 = [
            v
            for k, v in src.tensors.items()
            if k.startswith("decoder.")
            and k.endswith(("intermediate.dense.weight", "mlp.fc1.weight"))
        ]
        if dfc1:
            config["decoder_intermediate_size"] = dfc1[0].shape[0]
    return _from_hf(src, config, None, notes)


def build_model(ckpt: Checkpoint) -> MAEModel:
    """Instantiate MAEModel for a checkpoint and load its tensors, strictly.

    Raises MAEError listing missing, unexpected or mis-shaped tensors.
    """
    try:
        model = MAEModel(ckpt.config)
    except ValueError as exc:
        raise MAEError(f"{ckpt.path.name}: inconsistent architecture: {exc}") from exc
    expected = model.state_dict()
    sd = ckpt.state_dict
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing tensors: {_preview(missing)}")
        if unexpected:
            parts.append(f"unexpected tensors: {_preview(unexpected)}")
        raise MAEError(f"{ckpt.path.name}: " + "; ".join(parts))
    wrong = [
        f"{k} {tuple(sd[k].shape)} (expected {tuple(v.shape)})"
        for k, v in expected.items()
        if tuple(sd[k].shape) != tuple(v.shape)
    ]
    if wrong:
        raise MAEError(f"{ckpt.path.name}: tensors with the wrong shape: {_preview(wrong, 4)}")
    model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    model.eval()
    return model
