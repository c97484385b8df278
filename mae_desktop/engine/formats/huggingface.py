"""Hugging Face ViTMAE: `ViTMAEForPreTraining` / `ViTMAEModel` folders (config.json and
model.safetensors or pytorch_model.bin, sharded too), transformers 4.x and 5.x layouts, and
a bare weights file without its config."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from ..config import IMAGENET_MEAN, IMAGENET_STD, MAEConfig
from ..errors import MAEError
from .common import (
    Converted,
    Source,
    conv_to_linear,
    guess_heads,
    read_json,
    read_weights,
    square_grid,
)

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


def detect(keys: set[str]) -> bool:
    """A bare weights file of ViTMAEForPreTraining (`vit.` prefix) or ViTMAEModel."""
    return any(k.startswith(("vit.embeddings.", "embeddings.patch_embeddings.")) for k in keys)


def _hf_blocks(
    src: Source, layer_prefixes: tuple[str, ...], dst: str, qkv_bias: bool, out: dict
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


def convert(src: Source, config: dict, pre: dict | None, notes: list[str]) -> Converted:
    """HF tensors with their config.json (and preprocessor_config.json, for mean/std) ->
    (MAEConfig, MAEModel tensors, target source)."""
    prefix = "vit." if any(k.startswith("vit.") for k in src.tensors) else ""
    e = prefix + "embeddings."
    conv = src.get(e + "patch_embeddings.projection.weight")
    out: dict[str, torch.Tensor] = {
        "patch_embed.weight": conv_to_linear(conv),
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


def read_folder(folder: Path) -> tuple[dict, dict | None, dict[str, torch.Tensor], list[Path]]:
    """(config.json, preprocessor_config.json or None, every tensor, the weight files)."""
    cfg_path = folder / "config.json"
    if not cfg_path.is_file():
        listing = sorted(p.name for p in folder.iterdir())[:8]
        raise MAEError(
            f"{folder.name}/ is not a Hugging Face model folder: no config.json "
            f"(found: {', '.join(listing) or 'nothing'})"
        )
    config = read_json(cfg_path)
    model_type = config.get("model_type")
    if model_type not in (None, "vit_mae"):
        raise MAEError(f"{folder.name}/config.json describes a {model_type!r} model, not vit_mae")
    pre_path = folder / "preprocessor_config.json"
    pre = read_json(pre_path) if pre_path.is_file() else None
    files: list[Path] = []
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index_name).is_file():
            weight_map = read_json(folder / index_name).get("weight_map", {})
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
        tensors.update(read_weights(f)[0])
    return config, pre, tensors, files


def convert_bare(
    src: Source,
    heads: int | None,
    dheads: int | None,
    notes: list[str],
    assumed: dict[str, int],
) -> Converted:
    """A Hugging Face weights file on its own: sizes read off the tensors, heads assumed
    unless given (recorded in `assumed`)."""
    notes.append(
        "a bare Hugging Face weights file without config.json: sizes read from "
        "the tensors, heads and LayerNorm eps assumed"
    )
    prefix = "vit." if any(k.startswith("vit.") for k in src.tensors) else ""
    conv = src.tensors[prefix + "embeddings.patch_embeddings.projection.weight"]
    d, _, p, _ = conv.shape
    n = src.tensors[prefix + "embeddings.position_embeddings"].shape[1] - 1
    side = square_grid(n, src.name)
    config: dict[str, Any] = {
        "image_size": side * p,
        "patch_size": p,
        "hidden_size": d,
        "num_attention_heads": heads or guess_heads(d, False),
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
        config["decoder_num_attention_heads"] = dheads or guess_heads(dd, True)
        dfc1 = [
            v
            for k, v in src.tensors.items()
            if k.startswith("decoder.")
            and k.endswith(("intermediate.dense.weight", "mlp.fc1.weight"))
        ]
        if dfc1:
            config["decoder_intermediate_size"] = dfc1[0].shape[0]
    cfg, sd, source = convert(src, config, None, notes)
    if heads is None:
        assumed["heads"] = cfg.num_heads
    if dheads is None and cfg.has_decoder:
        assumed["decoder_heads"] = cfg.decoder_num_heads
    return cfg, sd, source
