"""lucidrains' vit-pytorch MAE (`vit_pytorch.mae.MAE` around a `vit_pytorch.vit.ViT`): the
state dict of every release whose MAE runs.

The layouts, read from the released wheels (the MAE class itself barely changed):

- 0.22.0-0.40.2: PreNorm layers (`layers.N.0.norm`, `.0.fn.to_qkv`, `.0.fn.to_out.0`,
  `.1.norm`, `.1.fn.net.0/.3`), a Linear patch embedding (`encoder.to_patch_embedding.1`,
  stored a second time as `patch_to_emb`), no final norm, `mlp_head.0/.1`.
- 1.0.0-1.0.1: the ViT gained LayerNorms around the patch Linear, but the MAE embedded with
  the first LayerNorm alone (`patch_to_emb` is that LayerNorm): it only ran when a patch
  vector is exactly as wide as the model.
- 1.0.2-1.2.x: PreNorm layers; patch embedding LayerNorm -> Linear -> LayerNorm
  (`encoder.to_patch_embedding.1/.2/.3`, again as `patch_to_emb.0/.1/.2`).
- 1.4.0-1.16.1: the norms moved into the layers (`layers.N.0.norm`, `.0.to_qkv`,
  `.1.net.0` LayerNorm, `.1.net.1/.4`), each Transformer ends in `norm` (encoder and decoder),
  `mlp_head` is one Linear; `pos_embedding` (1, N + 1, dim) (1.16.0: (1, N, dim) for
  pool='mean').
- 1.16.2 on: `pos_embedding` (N + c, dim) and `cls_token` (c, dim), c = 0 for pool='mean';
  the MAE only runs with pool='mean' (its CLS-slot slicing expects a 3-D table); no
  `mlp_head` when num_classes=0 (1.20.0 on).

The MAE never feeds the CLS token, embeds patches in (row, column, channel) order (the same
as ours), adds a decoder position embedding (`decoder_pos_emb`, an nn.Embedding) to every
decoder token, predicts with `to_pixels`, and uses nn.LayerNorm's eps 1e-5. Before 0.26.4
the decoder position embedding went to masked tokens only; a file cannot tell which release
wrote it, so 0.26.4's rule is used (a note says so for the layouts it can concern).
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch

from ..config import MAEConfig
from ..errors import MAEError
from .common import (
    Converted,
    Source,
    copy_blocks,
    rgb_patch_size,
    square_grid,
    tensors_only,
)
from .records import CheckpointFormat

# Our block suffix -> the name inside one vit-pytorch Transformer layer (attention at index
# 0, feed-forward at index 1), for PreNorm releases (up to 1.2.x) and later ones.
_PRENORM_BLOCK = {
    "norm1.weight": "0.norm.weight",
    "norm1.bias": "0.norm.bias",
    "attn.qkv.weight": "0.fn.to_qkv.weight",
    "norm2.weight": "1.norm.weight",
    "norm2.bias": "1.norm.bias",
    "mlp.fc1.weight": "1.fn.net.0.weight",
    "mlp.fc1.bias": "1.fn.net.0.bias",
    "mlp.fc2.weight": "1.fn.net.3.weight",
    "mlp.fc2.bias": "1.fn.net.3.bias",
}
_LAYER_NORM_BLOCK = {
    "norm1.weight": "0.norm.weight",
    "norm1.bias": "0.norm.bias",
    "attn.qkv.weight": "0.to_qkv.weight",
    "norm2.weight": "1.net.0.weight",
    "norm2.bias": "1.net.0.bias",
    "mlp.fc1.weight": "1.net.1.weight",
    "mlp.fc1.bias": "1.net.1.bias",
    "mlp.fc2.weight": "1.net.4.weight",
    "mlp.fc2.bias": "1.net.4.bias",
}
_ENC = "encoder.to_patch_embedding."
HEAD_DIM = 64  # vit-pytorch's default dim_head, in the ViT and in the MAE's decoder


def detect(keys: set[str]) -> bool:
    return {"to_pixels.weight", "decoder_pos_emb.weight", "encoder.pos_embedding"} <= keys


def _twice(src: Source, mae_name: str, enc_name: str) -> torch.Tensor:
    """A patch-embedding tensor the MAE holds under two names (the ViT's module, referenced
    again by the MAE). Either may be missing (a file saved without duplicates); when both are
    there they must be equal."""
    names = [n for n in (mae_name, enc_name) if src.has(n)]
    if not names:
        raise MAEError(f"{src.name}: missing tensor {mae_name!r} (or {enc_name!r})")
    tensors = [src.get(n) for n in names]
    if len(tensors) == 2 and not torch.equal(tensors[0], tensors[1]):
        raise MAEError(
            f"{src.name}: {mae_name} and {enc_name} should be the same tensor but differ"
        )
    return tensors[0]


def _patch_embedding(src: Source, out: dict, ignored: set[str]) -> tuple[int, bool, bool]:
    """Copy the patch embedding; returns (patch vector length, LayerNorm before the Linear,
    LayerNorm after it)."""
    lone = src.tensors.get("patch_to_emb.weight")
    embedded_by_norm = lone is not None and lone.ndim == 1
    with_norms = src.has("patch_to_emb.0.weight") or src.has(_ENC + "3.weight")
    if embedded_by_norm:  # 1.0.0-1.0.1: the MAE skipped the Linear and the second LayerNorm
        for param in ("weight", "bias"):
            out[f"patch_norm_pre.{param}"] = _twice(
                src, f"patch_to_emb.{param}", f"{_ENC}1.{param}"
            )
            ignored |= {f"{_ENC}2.{param}", f"{_ENC}3.{param}"}
        pdim = out["patch_norm_pre.weight"].shape[0]
        out["patch_embed.weight"], out["patch_embed.bias"] = torch.eye(pdim), torch.zeros(pdim)
        return pdim, True, False
    if not with_norms:  # up to 0.40.2: the Linear alone
        for param in ("weight", "bias"):
            out[f"patch_embed.{param}"] = _twice(src, f"patch_to_emb.{param}", f"{_ENC}1.{param}")
        return out["patch_embed.weight"].shape[1], False, False
    for ours, mae_index, enc_index in (
        ("patch_norm_pre", 0, 1),
        ("patch_embed", 1, 2),
        ("patch_norm_post", 2, 3),
    ):
        for param in ("weight", "bias"):
            out[f"{ours}.{param}"] = _twice(
                src, f"patch_to_emb.{mae_index}.{param}", f"{_ENC}{enc_index}.{param}"
            )
    return out["patch_embed.weight"].shape[1], True, True


def _blocks(
    src: Source, prefix: str, dst: str, out: dict, width: int, heads: int | None
) -> tuple[int, int, int, int, bool]:
    """Copy one Transformer's layers (and its final norm, when it has one) under our `dst`
    names; returns (depth, attention width, heads, MLP width, final norm)."""
    prenorm = src.has(f"{prefix}layers.0.0.fn.to_qkv.weight")
    names = _PRENORM_BLOCK if prenorm else _LAYER_NORM_BLOCK
    inner = "0.fn." if prenorm else "0."
    depth = src.count(re.escape(prefix) + r"layers\.(\d+)\.")
    copy_blocks(src, out, prefix + "layers.{i}.", dst, depth, names)
    attn_dim = src.get(f"{prefix}layers.0.{inner}to_qkv.weight", ndim=2).shape[0] // 3
    has_out = src.has(f"{prefix}layers.0.{inner}to_out.0.weight")
    for i in range(depth):
        if has_out:
            for param in ("weight", "bias"):
                out[f"{dst}{i}.attn.proj.{param}"] = src.get(
                    f"{prefix}layers.{i}.{inner}to_out.0.{param}"
                )
        else:  # nn.Identity when one head spans the whole width
            out[f"{dst}{i}.attn.proj.weight"] = torch.eye(width)
            out[f"{dst}{i}.attn.proj.bias"] = torch.zeros(width)
    if heads is None:
        heads = 1 if not has_out else (attn_dim // HEAD_DIM if attn_dim % HEAD_DIM == 0 else 1)
    mlp = out[f"{dst}0.mlp.fc1.weight"].shape[0] if depth else 4 * width
    final_norm = src.has(f"{prefix}norm.weight")
    return depth, attn_dim, heads, mlp, final_norm


def _position_table(src: Source, width: int) -> tuple[torch.Tensor, int]:
    """The encoder position table as ours, (1, 1 + N, width) (slot 0: the CLS slot, unused
    by the MAE), and N. vit-pytorch's table has a CLS row unless the ViT pools by mean."""
    pos = src.get("encoder.pos_embedding").reshape(-1, width)
    rows = pos.shape[0]
    if src.has("encoder.cls_token"):
        cls_rows = src.get("encoder.cls_token").numel() // width
    else:  # a square count of rows has no CLS row
        cls_rows = 0 if math.isqrt(rows) ** 2 == rows else 1
    n = rows - cls_rows
    if cls_rows == 0:
        pos = torch.cat([torch.zeros(1, width, dtype=pos.dtype), pos])
    return pos.unsqueeze(0), n


def convert(
    src: Source,
    heads: int | None,
    dheads: int | None,
    notes: list[str],
    assumed: dict[str, int],
) -> Converted:
    """A vit-pytorch MAE state dict -> (MAEConfig, MAEModel tensors, target source)."""
    out: dict[str, torch.Tensor] = {}
    ignored = {k for k in src.tensors if k.startswith("encoder.mlp_head.")}
    ignored.add("encoder.cls_token")
    pdim, norm_pre, norm_post = _patch_embedding(src, out, ignored)
    p = rgb_patch_size(pdim, src.name)
    width = src.tensors["encoder.pos_embedding"].shape[-1]
    if out["patch_embed.weight"].shape[0] != width:
        raise MAEError(
            f"{src.name}: patch vectors of {pdim} values cannot enter a {width}-wide model "
            "(this release of the vit-pytorch MAE only ran when the two were equal)"
        )
    out["pos_embed"], n = _position_table(src, width)
    side = square_grid(n, src.name)
    depth, attn_dim, nh, mlp, encoder_norm = _blocks(
        src, "encoder.transformer.", "blocks.", out, width, heads
    )
    if encoder_norm:
        out["norm.weight"] = src.get("encoder.transformer.norm.weight")
        out["norm.bias"] = src.get("encoder.transformer.norm.bias")
    dpos = src.get("decoder_pos_emb.weight", ndim=2)
    dd = dpos.shape[1]
    if src.has("enc_to_dec.weight"):
        out["decoder_embed.weight"] = src.get("enc_to_dec.weight")
        out["decoder_embed.bias"] = src.get("enc_to_dec.bias")
    else:  # nn.Identity when the widths match
        out["decoder_embed.weight"] = torch.eye(width)
        out["decoder_embed.bias"] = torch.zeros(width)
    out["mask_token"] = src.get("mask_token").reshape(1, 1, dd)
    # an nn.Embedding sized like the encoder table: its rows past N (a CLS row) are unused
    out["decoder_pos_embed"] = dpos[:n].unsqueeze(0)
    out["decoder_pred.weight"] = src.get("to_pixels.weight")
    out["decoder_pred.bias"] = src.get("to_pixels.bias")
    ddepth, dattn, dnh, dmlp, decoder_norm = _blocks(
        src, "decoder.", "decoder_blocks.", out, dd, dheads
    )
    if decoder_norm:
        out["decoder_norm.weight"] = src.get("decoder.norm.weight")
        out["decoder_norm.bias"] = src.get("decoder.norm.bias")
    if heads is None:
        assumed["heads"] = nh
    if dheads is None:
        assumed["decoder_heads"] = dnh
    if heads is None or dheads is None:
        notes.append(
            f"heads assumed from vit-pytorch's default of {HEAD_DIM} channels per head "
            "(the file does not store them)"
        )
    if not (norm_pre or encoder_norm):
        notes.append(
            "vit-pytorch before 0.26.4 added the decoder position embedding to masked "
            "patches only; this file is read the later way (to every patch)"
        )
    kw: dict[str, Any] = dict(
        decoder_embed_dim=dd,
        decoder_depth=ddepth,
        decoder_num_heads=dnh,
        decoder_attn_dim=dattn,
        decoder_mlp_hidden=dmlp,
        decoder_qkv_bias=False,
        decoder_norm=decoder_norm,
    )
    cfg = MAEConfig(
        image_size=(side * p, side * p),
        patch_size=p,
        in_chans=3,
        embed_dim=width,
        depth=depth,
        num_heads=nh,
        attn_dim=attn_dim,
        mlp_hidden=mlp,
        qkv_bias=False,
        encoder_norm=encoder_norm,
        patch_norm_pre=norm_pre,
        patch_norm_post=norm_post,
        has_decoder=True,
        norm_eps=1e-5,
        activation="gelu",
        use_cls_token=False,
        decoder_pos_on_visible=True,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        norm_pix_loss=False,
        **kw,
    )
    src.check_all_used(ignored)
    return cfg, out, "format (the vit-pytorch MAE predicts the input pixels)"


FORMAT = CheckpointFormat(
    id="vit-pytorch",
    name="vit-pytorch MAE (lucidrains)",
    description="vit-pytorch MAE (lucidrains' vit_pytorch.mae.MAE state dict: "
    "encoder.pos_embedding, patch_to_emb, decoder_pos_emb, to_pixels)",
    family="vit-mae",
    norm_source="assumed: vit-pytorch has no input normalisation of its own",
    detect=lambda opened: detect(opened.keys),
    convert=tensors_only(convert),
)
