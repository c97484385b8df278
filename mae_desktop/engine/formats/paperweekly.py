"""The PaperWeekly from-scratch MAE: the state dict of the article's `MAE` class
(`encoder.transformer.layers...`, `to_qkv`, `mask_embed`, `decoder_pos_embed.weight`)."""

from __future__ import annotations

import re
from typing import Any

import torch

from ..config import MAEConfig
from .common import (
    Converted,
    Source,
    copy_blocks,
    rgb_patch_size,
    square_grid,
    tensors_only,
)
from .records import CheckpointFormat

# Our block suffix -> the article's name inside one Transformer layer (a PreNorm'd attention
# at index 0, a PreNorm'd feed-forward at index 1).
_PAPERWEEKLY_BLOCK = {
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
# The classifier parts of the article's ViT: in the file, never used by its MAE.
_PAPERWEEKLY_IGNORED = {
    "encoder.cls_token",
    "encoder.mlp_head.0.weight",
    "encoder.mlp_head.0.bias",
    "encoder.mlp_head.1.weight",
    "encoder.mlp_head.1.bias",
}


def detect(keys: set[str]) -> bool:
    return "encoder.patch_embed.weight" in keys and any("to_qkv" in k for k in keys)


def _paperweekly_blocks(
    src: Source, src_prefix: str, dst: str, out: dict, width: int, heads: int | None
) -> tuple[int, int, int, int]:
    """Copy the article's Transformer layers; returns (depth, attn_dim, heads, mlp_hidden)."""
    depth = src.count(re.escape(src_prefix) + r"(\d+)\.")
    copy_blocks(src, out, src_prefix + "{i}.", dst, depth, _PAPERWEEKLY_BLOCK)
    attn_dim = src.get(f"{src_prefix}0.0.net.to_qkv.weight", ndim=2).shape[0] // 3
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
    mlp = src.get(f"{src_prefix}0.1.net.net.0.weight", ndim=2).shape[0]
    return depth, attn_dim, heads, mlp


def convert(
    src: Source,
    heads: int | None,
    dheads: int | None,
    notes: list[str],
    assumed: dict[str, int],
) -> Converted:
    """The article's MAE state dict -> (MAEConfig, MAEModel tensors, target source)."""
    w = src.get("encoder.patch_embed.weight", ndim=2)
    d, pdim = w.shape
    p = rgb_patch_size(pdim, src.name)
    pos = src.get("encoder.pos_embed", ndim=3)
    side = square_grid(pos.shape[1] - 1, src.name)
    out: dict[str, torch.Tensor] = {
        "patch_embed.weight": w,
        "patch_embed.bias": src.get("encoder.patch_embed.bias"),
        "pos_embed": pos,
    }
    depth, attn_dim, nh, mlp = _paperweekly_blocks(
        src, "encoder.transformer.layers.", "blocks.", out, d, heads
    )
    has_decoder = src.has("head.weight")
    kw: dict[str, Any] = {"has_decoder": has_decoder}
    if has_decoder:
        dpos = src.get("decoder_pos_embed.weight", ndim=2)
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
        ddepth, dattn, dnh, dmlp = _paperweekly_blocks(
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
    src.check_all_used(_PAPERWEEKLY_IGNORED)
    return cfg, out, "format (the PaperWeekly from-scratch MAE trains on raw pixels)"


FORMAT = CheckpointFormat(
    id="paperweekly",
    name="PaperWeekly from-scratch MAE",
    description="PaperWeekly from-scratch MAE (the article's `MAE` class state dict: "
    "encoder.transformer.layers..., to_qkv, mask_embed)",
    family="vit-mae",
    norm_source="format: the PaperWeekly from-scratch MAE sees raw pixels",
    detect=lambda opened: detect(opened.keys),
    convert=tensors_only(convert),
    aliases=("seed",),
)
