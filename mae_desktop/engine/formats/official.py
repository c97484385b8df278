"""The official facebookresearch/mae checkpoints: `{'model': sd}` or bare state dicts,
training checkpoints (with `args`), encoder-only weights."""

from __future__ import annotations

from typing import Any

import torch

from ..config import IMAGENET_MEAN, IMAGENET_STD, MAEConfig
from ..errors import MAEError
from .common import Converted, Source, conv_to_linear, copy_blocks, guess_heads, square_grid
from .records import CheckpointFormat, Loaded, Opened, Wanted

# The models of the official pretraining script (`args.model` in its training checkpoints):
# name prefix -> (encoder width, encoder heads, decoder heads).
_OFFICIAL_MODELS = {
    "mae_vit_base_patch16": (768, 12, 16),
    "mae_vit_large_patch16": (1024, 16, 16),
    "mae_vit_huge_patch14": (1280, 16, 16),
}

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


def detect(keys: set[str]) -> bool:
    return "patch_embed.proj.weight" in keys


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


def convert(
    src: Source,
    args: Any,
    heads: int | None,
    dheads: int | None,
    notes: list[str],
    assumed: dict[str, int],
) -> Converted:
    """An official state dict -> (MAEConfig, MAEModel tensors, target source)."""
    conv = src.get("patch_embed.proj.weight", ndim=4)
    d, chans, p, _ = conv.shape
    named = _official_model_heads(args, d, notes)
    if named is not None:
        heads = heads or named[0]
        dheads = dheads or named[1]
    pos = src.get("pos_embed", ndim=3)
    side = square_grid(pos.shape[1] - 1, src.name)
    depth = src.count(r"blocks\.(\d+)\.")
    out: dict[str, torch.Tensor] = {
        "patch_embed.weight": conv_to_linear(conv),
        "patch_embed.bias": src.get("patch_embed.proj.bias"),
        "cls_token": src.get("cls_token"),
        "pos_embed": pos,
    }
    copy_blocks(src, out, "blocks.{i}.", "blocks.", depth, _OFFICIAL_BLOCK)
    encoder_norm = src.has("norm.weight")
    if encoder_norm:
        out["norm.weight"], out["norm.bias"] = src.get("norm.weight"), src.get("norm.bias")
    has_decoder = any(k.startswith("decoder_") or k == "mask_token" for k in src.tensors)
    kw: dict[str, Any] = {"has_decoder": has_decoder}
    if has_decoder:
        dw = src.get("decoder_embed.weight", ndim=2)
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
        copy_blocks(src, out, "decoder_blocks.{i}.", "decoder_blocks.", ddepth, _OFFICIAL_BLOCK)
        if src.has("decoder_norm.weight"):
            out["decoder_norm.weight"] = src.get("decoder_norm.weight")
            out["decoder_norm.bias"] = src.get("decoder_norm.bias")
        kw.update(
            decoder_embed_dim=dw.shape[0],
            decoder_depth=ddepth,
            decoder_num_heads=dheads or guess_heads(dw.shape[0], True),
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
    num_heads = heads or guess_heads(d, False)
    if not heads:
        assumed["heads"] = num_heads
        notes.append(
            f"encoder heads: {num_heads} (assumed from the standard ViT sizes; the "
            "file does not store it)"
        )
    norm_pix = getattr(args, "norm_pix_loss", None) if args is not None else None
    if norm_pix is not None and not isinstance(norm_pix, bool):
        raise MAEError(f"{src.name}: args.norm_pix_loss is {norm_pix!r}: expected true or false")
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


def _load(opened: Opened, wanted: Wanted) -> Loaded:
    notes: list[str] = []
    assumed: dict[str, int] = {}
    src = Source(opened.tensors, opened.name)
    cfg, sd, source = convert(src, opened.args, wanted.heads, wanted.decoder_heads, notes, assumed)
    args = opened.args
    fields = {}
    metadata: dict[str, Any] = {}
    if args is not None:
        metadata["args"] = {
            k: v
            for k, v in vars(args).items()
            if isinstance(v, str | int | float | bool | type(None))
        }
        if hasattr(args, "norm_pix_loss"):
            fields["norm_pix_loss"] = "args.norm_pix_loss"
    return Loaded(cfg, sd, source, notes, assumed, fields, metadata)


FORMAT = CheckpointFormat(
    id="official",
    name="official MAE (facebookresearch/mae)",
    description="official facebookresearch/mae .pth ({'model': state_dict}, bare, training "
    "checkpoints, encoder-only mae_pretrain/timm .mae weights)",
    family="vit-mae",
    norm_source="assumed: the official models' ImageNet mean/std",
    detect=lambda opened: detect(opened.keys),
    convert=_load,
)
