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
from ..files import inside, regular_file
from .common import (
    Converted,
    Source,
    conv_to_linear,
    guess_heads,
    read_json,
    read_weights,
    square_grid,
)
from .records import CheckpointFormat, Loaded, Opened, Wanted

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


# MAEConfig field -> the config.json (or preprocessor_config.json) entry it comes from
_CONFIG_NAMES = {
    "image_size": "image_size",
    "patch_size": "patch_size",
    "in_chans": "num_channels",
    "embed_dim": "hidden_size",
    "attn_dim": "hidden_size",
    "num_heads": "num_attention_heads",
    "mlp_hidden": "intermediate_size",
    "qkv_bias": "qkv_bias",
    "decoder_qkv_bias": "qkv_bias",
    "decoder_embed_dim": "decoder_hidden_size",
    "decoder_attn_dim": "decoder_hidden_size",
    "decoder_num_heads": "decoder_num_attention_heads",
    "decoder_mlp_hidden": "decoder_intermediate_size",
    "norm_eps": "layer_norm_eps",
    "norm_pix_loss": "norm_pix_loss",
    "depth": "num_hidden_layers",
    "decoder_depth": "decoder_num_hidden_layers",
}


def config_fields(config: dict, pre: dict | None, where: str = "config.json") -> dict[str, str]:
    """How config.json names each MAEConfig field, for messages."""
    fields = {ours: f"{where} {theirs}" for ours, theirs in _CONFIG_NAMES.items()}
    if pre is not None:
        fields["mean"] = "preprocessor_config.json image_mean"
        fields["std"] = "preprocessor_config.json image_std"
    return fields


def _whole(config: dict, key: str, default: Any, name: str, where: str) -> int:
    v = config.get(key, default)
    if type(v) is not int:
        raise MAEError(f"{name}: {where} {key} is {v!r}: expected a whole number")
    return v


def _switch(config: dict, key: str, default: bool, name: str, where: str) -> bool:
    v = config.get(key, default)
    if not isinstance(v, bool):
        raise MAEError(f"{name}: {where} {key} is {v!r}: expected true or false")
    return v


def _number(config: dict, key: str, default: float, name: str, where: str) -> float:
    v = config.get(key, default)
    if not isinstance(v, int | float) or isinstance(v, bool):
        raise MAEError(f"{name}: {where} {key} is {v!r}: expected a number")
    return float(v)


def _pair(config: dict, key: str, default: int, name: str, where: str) -> tuple[int, int]:
    v = config.get(key, default)
    if type(v) is int:
        return v, v
    if isinstance(v, list | tuple) and len(v) == 2 and all(type(x) is int for x in v):
        return v[0], v[1]
    raise MAEError(f"{name}: {where} {key} is {v!r}: expected a whole number or [height, width]")


def _triple(pre: dict, key: str, default: tuple, name: str) -> tuple[float, float, float]:
    v = pre.get(key, default)
    if isinstance(v, int | float) and not isinstance(v, bool):
        v = [v] * 3
    if not isinstance(v, list | tuple) or len(v) != 3:
        raise MAEError(f"{name}: preprocessor_config.json {key} is {v!r}: expected three numbers")
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in v):
        raise MAEError(f"{name}: preprocessor_config.json {key} is {v!r}: expected three numbers")
    return tuple(float(x) for x in v)


def convert(
    src: Source, config: dict, pre: dict | None, notes: list[str], where: str = "config.json"
) -> Converted:
    """HF tensors with their config.json (and preprocessor_config.json, for mean/std) ->
    (MAEConfig, MAEModel tensors, target source). `where` names the config in messages."""
    name = src.name
    prefix = "vit." if any(k.startswith("vit.") for k in src.tensors) else ""
    e = prefix + "embeddings."
    conv = src.get(e + "patch_embeddings.projection.weight", ndim=4)
    out: dict[str, torch.Tensor] = {
        "patch_embed.weight": conv_to_linear(conv),
        "patch_embed.bias": src.get(e + "patch_embeddings.projection.bias"),
        "cls_token": src.get(e + "cls_token"),
        "pos_embed": src.get(e + "position_embeddings", ndim=3),
    }
    qkv_bias = _switch(config, "qkv_bias", True, name, where)
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
    if not isinstance(act, str) or act not in _HF_ACTIVATIONS:
        raise MAEError(
            f"{src.name}: activation {act!r} is not supported (known: {', '.join(_HF_ACTIVATIONS)})"
        )
    image_size = _pair(config, "image_size", 224, name, where)
    patch = _pair(config, "patch_size", 16, name, where)
    if patch[0] != patch[1]:
        raise MAEError(f"{src.name}: non-square patches {patch} are not supported")
    hidden = _whole(config, "hidden_size", int(conv.shape[0]), name, where)
    dhidden = _whole(config, "decoder_hidden_size", 512, name, where)
    for key, found in (
        ("num_hidden_layers", depth),
        ("decoder_num_hidden_layers", ddepth if has_decoder else None),
    ):
        if key in config and found is not None:
            declared = _whole(config, key, 0, name, where)
            if declared != found:
                raise MAEError(f"{name}: {where} {key} is {declared}; the tensors hold {found}")
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    if pre is None:
        notes.append("no preprocessor_config.json: ImageNet mean/std assumed")
    elif not _switch(pre, "do_normalize", True, name, "preprocessor_config.json"):
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    else:
        mean = _triple(pre, "image_mean", IMAGENET_MEAN, name)
        std = _triple(pre, "image_std", IMAGENET_STD, name)
    cfg = MAEConfig(
        image_size=image_size,
        patch_size=patch[0],
        in_chans=_whole(config, "num_channels", 3, name, where),
        embed_dim=hidden,
        depth=depth,
        num_heads=_whole(config, "num_attention_heads", 12, name, where),
        attn_dim=hidden,
        mlp_hidden=_whole(config, "intermediate_size", 4 * hidden, name, where),
        qkv_bias=qkv_bias,
        encoder_norm=encoder_norm,
        has_decoder=has_decoder,
        decoder_embed_dim=dhidden,
        decoder_depth=ddepth,
        decoder_num_heads=_whole(config, "decoder_num_attention_heads", 16, name, where),
        decoder_attn_dim=dhidden,
        decoder_mlp_hidden=_whole(config, "decoder_intermediate_size", 4 * dhidden, name, where),
        decoder_qkv_bias=qkv_bias,
        decoder_norm=has_decoder,
        norm_eps=_number(config, "layer_norm_eps", 1e-12, name, where),
        activation=_HF_ACTIVATIONS[act],
        use_cls_token=True,
        decoder_pos_on_visible=True,
        mean=mean,
        std=std,
        norm_pix_loss=_switch(config, "norm_pix_loss", False, name, where),
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
    if not cfg_path.exists():
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
    pre = read_json(pre_path) if pre_path.exists() else None
    files: list[Path] = []
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index_name).exists():
            weight_map = read_json(folder / index_name).get("weight_map", {})
            if not isinstance(weight_map, dict) or not weight_map:
                raise MAEError(
                    f"{folder.name}/{index_name}: weight_map is not a table of tensor names "
                    "to file names"
                )
            where = f"{folder.name}/{index_name}"
            for name in weight_map.values():
                inside(folder, name, where)  # a file name, and one inside the folder
            files = [folder / name for name in sorted(set(weight_map.values()))]
            break
    else:
        for name in ("model.safetensors", "pytorch_model.bin"):
            if (folder / name).exists():
                files = [folder / name]
                break
    if not files:
        raise MAEError(
            f"{folder.name}/ has a config.json but no model.safetensors or pytorch_model.bin"
        )
    tensors: dict[str, torch.Tensor] = {}
    for f in files:
        if not f.exists():
            raise MAEError(f"{folder.name}/: shard {f.name} listed in the index is missing")
        regular_file(f, f"{folder.name}/ weight file")
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
    conv = src.get(prefix + "embeddings.patch_embeddings.projection.weight", ndim=4)
    d, _, p, _ = conv.shape
    n = src.get(prefix + "embeddings.position_embeddings", ndim=3).shape[1] - 1
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
    cfg, sd, source = convert(src, config, None, notes, where="the tensors'")
    if heads is None:
        assumed["heads"] = cfg.num_heads
    if dheads is None and cfg.has_decoder:
        assumed["decoder_heads"] = cfg.decoder_num_heads
    return cfg, sd, source


def _load(opened: Opened, wanted: Wanted) -> Loaded:
    notes: list[str] = []
    src = Source(opened.tensors, opened.name)
    if opened.folder:  # config.json says everything, head counts included
        cfg, sd, source = convert(src, opened.config, opened.pre, notes)
        norm = (
            "preprocessor_config.json"
            if opened.pre is not None
            else "assumed: ImageNet (no preprocessor_config.json)"
        )
        metadata = {"architectures": opened.config.get("architectures")}
        return Loaded(
            cfg, sd, source, notes, {}, config_fields(opened.config, opened.pre), metadata, norm
        )
    assumed: dict[str, int] = {}
    cfg, sd, source = convert_bare(src, wanted.heads, wanted.decoder_heads, notes, assumed)
    return Loaded(cfg, sd, source, notes, assumed)


FORMAT = CheckpointFormat(
    id="huggingface",
    name="Hugging Face ViTMAE",
    description="Hugging Face ViTMAEForPreTraining / ViTMAEModel folder (config.json + "
    "model.safetensors or pytorch_model.bin), transformers 4.x and 5.x layouts",
    family="vit-mae",
    norm_source="assumed: ImageNet (no preprocessor_config.json)",
    detect=lambda opened: opened.folder or detect(opened.keys),
    convert=_load,
)
