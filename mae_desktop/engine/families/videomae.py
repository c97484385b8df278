"""VideoMAE / VideoMAE V2 as a model family: tokens, targets, display, checks, converters.

Layout. Frames are float32 (T, H, W, 3) in [0, 1]. A token is one tubelet (tubelet frames x
patch x patch pixels); its vector runs over (time, pixel row, pixel column, channel), the
order of VideoMAE's own labels; tokens run row-major over (time slot, row, column), as the
Conv3d patch embedding flattens them. Masks are bool (T', H', W'), True = hidden.

Target space (what the decoder predicts, what `loss` compares). Transformers'
`VideoMAEForPreTraining.forward` and the official training loops (MCG-NJU/VideoMAE
engine_for_pretraining.py, OpenGVLab/VideoMAEv2 engine_for_pretraining.py) compute it the same
way: the input is un-normalised with the ImageNet mean/std, whatever the model's own input
normalisation (for the usual ImageNet-normalised models: the [0, 1] pixels themselves), and
laid out per tubelet as above. With norm_pix (the official `normlize_target`, default on;
transformers' `norm_pix_loss`) each tubelet is normalised per channel over its tubelet*p*p
pixels: (x - mean) / (sqrt(unbiased variance) + 1e-6). Note the eps is added to the standard
deviation, unlike the image MAE's (x - mean) / sqrt(var + 1e-6); both sources agree on this.
The loss is the mean squared error over the hidden tokens (all their values).

Display modes (`decode`): 'plain' (pixel targets: the prediction already is pixels), 'raw'
(model space as it is), and for norm_pix targets 'gt-stats' (each hidden tubelet
un-normalised with its own true per-channel mean and std, as run_videomae_vis.py does: uses
the ground truth) and 'estimate' (per-channel statistics borrowed from the visible tubelets,
inverse-squared-distance weighted over (time slot, row, column), as the image path does).
"""

from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..config import ACTIVATIONS, IMAGENET_MEAN, IMAGENET_STD, norm_problem
from ..errors import MAEError
from ..formats.common import Source, preview
from ..reconstruction import borrow_stats, psnr, resolve_mode
from ..validate import MAX_DEPTH, MAX_HEADS, MAX_IMAGE_SIDE, MAX_WIDTH, MLP_SLACK, show
from .videomae_model import VideoMAEConfig, VideoMAEModel, expected_shapes

NORM_PIX_EPS = 1e-6  # added to the tubelet's standard deviation
MAX_FRAMES = 1024
MAX_TOKENS = 16384  # the official ViT-B clip has 1568


# -- tokens ------------------------------------------------------------------------------------
def patchify_video(frames: np.ndarray, cfg: VideoMAEConfig) -> np.ndarray:
    """(T, H, W, C) -> (N, patch_dim) tubelet vectors (layout only, no normalisation)."""
    t, h, w = cfg.token_grid
    ts, p = cfg.tubelet_size, cfg.patch_size
    c = frames.shape[-1]
    x = frames.reshape(t, ts, h, p, w, p, c).transpose(0, 2, 4, 1, 3, 5, 6)
    return x.reshape(t * h * w, ts * p * p * c)


def unpatchify_video(tokens: np.ndarray, cfg: VideoMAEConfig) -> np.ndarray:
    """(N, patch_dim) -> (T, H, W, C); the exact inverse of patchify_video."""
    t, h, w = cfg.token_grid
    ts, p = cfg.tubelet_size, cfg.patch_size
    c = tokens.shape[-1] // (ts * p * p)
    x = tokens.reshape(t, h, w, ts, p, p, c).transpose(0, 3, 1, 4, 2, 5, 6)
    return x.reshape(t * ts, h * p, w * p, c)


def to_tokens(frames: np.ndarray, cfg: VideoMAEConfig) -> np.ndarray:
    """float32 (T, H, W, 3) frames in [0, 1] -> normalised (x - mean) / std tubelet vectors
    float32 (N, patch_dim): the model's input."""
    mean = np.asarray(cfg.mean, dtype=np.float32)
    std = np.asarray(cfg.std, dtype=np.float32)
    return patchify_video((frames.astype(np.float32) - mean) / std, cfg)


def from_tokens(tokens: np.ndarray, cfg: VideoMAEConfig) -> np.ndarray:
    """The inverse of to_tokens: (N, patch_dim) -> float32 (T, H, W, 3) frames."""
    mean = np.asarray(cfg.mean, dtype=np.float32)
    std = np.asarray(cfg.std, dtype=np.float32)
    return unpatchify_video(tokens.astype(np.float32), cfg) * std + mean


def ids_keep_of(mask: np.ndarray) -> np.ndarray:
    """int64 (K,) indices of the visible tokens of a (T', H', W') mask, ascending."""
    return np.flatnonzero(~np.asarray(mask, dtype=bool).ravel()).astype(np.int64)


# -- targets -----------------------------------------------------------------------------------
def _imagenet_normalised(cfg: VideoMAEConfig) -> bool:
    return tuple(cfg.mean) == IMAGENET_MEAN and tuple(cfg.std) == IMAGENET_STD


def target_pixels(frames01: np.ndarray, cfg: VideoMAEConfig) -> np.ndarray:
    """The frames as the training code sees them before making labels: the model's input
    un-normalised with ImageNet mean/std (the frames themselves for ImageNet models)."""
    x = frames01.astype(np.float32)
    if _imagenet_normalised(cfg):
        return x
    normed = (x - np.float32(cfg.mean)) / np.float32(cfg.std)
    return normed * np.float32(IMAGENET_STD) + np.float32(IMAGENET_MEAN)


def _from_target_pixels(values: np.ndarray, cfg: VideoMAEConfig) -> np.ndarray:
    """The inverse of target_pixels on (N, patch_dim) tubelet vectors."""
    if _imagenet_normalised(cfg):
        return values
    n = values.shape[0]
    v = values.reshape(n, -1, 3)
    v = (v - np.float32(IMAGENET_MEAN)) / np.float32(IMAGENET_STD)
    return (v * np.float32(cfg.std) + np.float32(cfg.mean)).reshape(n, -1)


def tubelet_stats(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per tubelet and channel: mean and sqrt(unbiased var) + 1e-6, each (N, 3)."""
    v = vectors.reshape(vectors.shape[0], -1, 3).astype(np.float64)
    mean = v.mean(axis=1)
    scale = np.sqrt(v.var(axis=1, ddof=1)) + NORM_PIX_EPS
    return mean.astype(np.float32), scale.astype(np.float32)


def _apply_stats(values: np.ndarray, mean: np.ndarray, scale: np.ndarray, inverse: bool):
    n = values.shape[0]
    v = values.reshape(n, -1, 3)
    out = v * scale[:, None] + mean[:, None] if inverse else (v - mean[:, None]) / scale[:, None]
    return out.reshape(n, -1).astype(np.float32)


def targets(frames01: np.ndarray, cfg: VideoMAEConfig, norm_pix: bool | None = None):
    """float32 (N, patch_dim): what the decoder is trained to predict for every token
    (see the module docstring); norm_pix overrides the checkpoint's setting."""
    norm_pix = cfg.norm_pix_loss if norm_pix is None else norm_pix
    px = patchify_video(target_pixels(frames01, cfg), cfg)
    if not norm_pix:
        return px
    return _apply_stats(px, *tubelet_stats(px), inverse=False)


def loss(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean squared error over the hidden tokens, as VideoMAEForPreTraining computes it;
    None when nothing is hidden. pred, target: (N, patch_dim); mask: (T', H', W') or (N,)."""
    hidden = np.asarray(mask, dtype=bool).ravel()
    if not hidden.any():
        return None
    diff = pred[hidden].astype(np.float64) - target[hidden].astype(np.float64)
    return float((diff**2).mean())


# -- display -----------------------------------------------------------------------------------
@dataclass
class VideoReconstruction:
    """One reconstruction of a clip under a mask.

    frames, prediction, composite: float32 (T, H, W, 3). prediction is every tubelet as
    predicted, in pixel space and unclipped (model space for mode 'raw'); composite has the
    visible tubelets from the input and the hidden ones predicted. token_error: float32
    (T', H', W') per-tubelet MSE of the clipped prediction (NaN for 'raw'). loss: the
    hidden-token MSE in the target space; masked_mse/masked_psnr over hidden pixels in
    [0, 1], prediction clipped, peak 1; None where undefined (nothing hidden, mode 'raw').
    """

    frames: np.ndarray
    mask: np.ndarray
    prediction: np.ndarray
    composite: np.ndarray
    token_error: np.ndarray
    loss: float | None
    masked_mse: float | None
    masked_psnr: float | None
    mode: str
    target: str

    @property
    def uses_ground_truth(self) -> bool:
        return self.mode == "gt-stats"


def estimate_stats(
    mean: np.ndarray, scale: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-tubelet, per-channel statistics where hidden tubelets borrow from visible ones.

    mean, scale: (N, 3) true statistics (only the visible rows are read); mask (T', H', W').
    Hidden tubelets get the inverse-squared-distance weighted mean (distance in tokens over
    time slot, row and column) of the visible ones'; with nothing visible, the ImageNet
    mean and std (mean 0, scale 1 in the model's normalised input).
    """
    return borrow_stats(mean, scale, mask, np.float32(IMAGENET_MEAN), np.float32(IMAGENET_STD))


def decode(
    pred: np.ndarray,
    frames01: np.ndarray,
    mask: np.ndarray,
    cfg: VideoMAEConfig,
    mode: str = "auto",
    norm_pix: bool | None = None,
) -> VideoReconstruction:
    """Build a VideoReconstruction from the decoder output.

    pred: (N, patch_dim) model-space prediction for every token; frames01: float32
    (T, H, W, 3) in [0, 1] at the model size; mask: bool (T', H', W'). norm_pix overrides the
    checkpoint's target. Modes: see the module docstring ('auto': estimate / plain).
    """
    norm_pix = cfg.norm_pix_loss if norm_pix is None else norm_pix
    mode = resolve_mode(mode, bool(norm_pix))
    mask = np.asarray(mask, dtype=bool).reshape(cfg.token_grid)
    hidden = mask.ravel()
    pred = np.asarray(pred, dtype=np.float32)
    frames01 = frames01.astype(np.float32)
    pixels = patchify_video(frames01, cfg)
    tpx = patchify_video(target_pixels(frames01, cfg), cfg)
    tmean, tscale = tubelet_stats(tpx)
    target = _apply_stats(tpx, tmean, tscale, inverse=False) if norm_pix else tpx
    value = loss(pred, target, hidden)
    kind = "norm_pix" if norm_pix else "pixel"
    if mode == "raw":
        shown = np.where(hidden[:, None], pred, target)
        err = np.full(cfg.token_grid, np.nan, dtype=np.float32)
        return VideoReconstruction(
            frames01,
            mask,
            unpatchify_video(pred, cfg),
            unpatchify_video(shown, cfg),
            err,
            value,
            None,
            None,
            mode,
            kind,
        )
    if mode == "plain":
        pred_t = pred
    elif mode == "gt-stats":
        pred_t = _apply_stats(pred, tmean, tscale, inverse=True)
    else:
        pred_t = _apply_stats(pred, *estimate_stats(tmean, tscale, mask), inverse=True)
    pred_px = _from_target_pixels(pred_t, cfg).astype(np.float32)
    composite = np.where(hidden[:, None], pred_px, pixels)
    err = ((np.clip(pred_px, 0.0, 1.0) - pixels) ** 2).mean(axis=-1).astype(np.float32)
    mse = float(err[hidden].astype(np.float64).mean()) if hidden.any() else None
    return VideoReconstruction(
        frames01,
        mask,
        unpatchify_video(pred_px, cfg),
        unpatchify_video(composite, cfg),
        err.reshape(cfg.token_grid),
        value,
        mse,
        psnr(mse),
        mode,
        kind,
    )


# -- checks ------------------------------------------------------------------------------------
_PLAIN = {
    "image_size": "the frame size",
    "num_frames": "the frame count",
    "embed_dim": "encoder width",
    "depth": "encoder depth",
    "num_heads": "encoder heads",
    "mlp_hidden": "encoder MLP width",
    "decoder_embed_dim": "decoder width",
    "decoder_depth": "decoder depth",
    "decoder_num_heads": "decoder heads",
    "decoder_mlp_hidden": "decoder MLP width",
}


def validate_config(cfg: VideoMAEConfig, name: str, fields: dict[str, str] | None = None) -> None:
    """Type- and range-check every field, and that they fit together, before anything is
    allocated; MAEError naming the first problem. `fields` maps a field to how its source
    names it ('config.json tubelet_size')."""
    fields = fields or {}

    def label(f: str) -> str:
        return fields.get(f) or _PLAIN.get(f, f)

    def fail(f: str, problem: str) -> MAEError:
        return MAEError(f"{name}: {label(f)} is {show(getattr(cfg, f))}: {problem}")

    def whole(f: str, lo: int, hi: int, unit: str) -> int:
        v = getattr(cfg, f)
        if type(v) is not int:
            raise fail(f, "expected a whole number")
        if not lo <= v <= hi:
            raise fail(f, f"expected {lo} to {hi} {unit}")
        return v

    for f in ("qkv_bias", "use_mean_pooling", "norm_pix_loss"):
        if not isinstance(getattr(cfg, f), bool):
            raise fail(f, "expected true or false")
    size = cfg.image_size
    if not (
        isinstance(size, tuple | list) and len(size) == 2 and all(type(s) is int for s in size)
    ):
        raise fail("image_size", "expected [height, width] in whole pixels")
    if not all(1 <= s <= MAX_IMAGE_SIDE for s in size):
        raise fail("image_size", f"each side must be 1 to {MAX_IMAGE_SIDE} pixels")
    p = whole("patch_size", 1, min(size), "pixels (the frame side)")
    if size[0] % p or size[1] % p:
        raise fail("patch_size", f"it must divide {label('image_size')} {show(tuple(size))}")
    frames = whole("num_frames", 1, MAX_FRAMES, "frames")
    ts = whole("tubelet_size", 1, frames, "frames (the clip length)")
    if frames % ts:
        raise fail("tubelet_size", f"it must divide {label('num_frames')} {frames}")
    if type(cfg.in_chans) is not int or cfg.in_chans != 3:
        raise fail("in_chans", "only RGB models (3 channels) are supported")
    if cfg.num_tokens > MAX_TOKENS:
        raise fail("image_size", f"{cfg.num_tokens} tokens; at most {MAX_TOKENS} are supported")
    for pre, min_depth in (("", 1), ("decoder_", 0)):
        width = whole(pre + "embed_dim", 1, MAX_WIDTH, "channels")
        whole(pre + "depth", min_depth, MAX_DEPTH, "layers")
        heads = whole(pre + "num_heads", 1, min(MAX_HEADS, width), "heads")
        if width % heads:
            raise fail(pre + "num_heads", f"it must divide the width {width}")
        whole(pre + "mlp_hidden", 1, 8 * width + MLP_SLACK, "channels")
    for f in ("norm_eps", "decoder_norm_eps"):
        v = getattr(cfg, f)
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        if not ok or not 0 < v < 1:
            raise fail(f, "expected a positive number below 1")
    if not isinstance(cfg.activation, str) or cfg.activation not in ACTIVATIONS:
        raise fail("activation", f"known: {', '.join(ACTIVATIONS)}")
    for f in ("mean", "std"):
        v = getattr(cfg, f)
        if not (isinstance(v, tuple | list) and len(v) == 3) or not all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in v
        ):
            raise fail(f, "expected three finite numbers (red, green, blue)")
    if min(cfg.std) <= 0:
        raise fail("std", "every std must be positive (pixels are divided by it)")
    problem = norm_problem(cfg.mean, cfg.std)
    if problem:
        raise fail("mean" if "mean" in problem else "std", problem)


def check_tensors(
    cfg: VideoMAEConfig, sd: dict[str, torch.Tensor], name: str, fields: dict | None = None
) -> None:
    """Our state dict against the architecture: every name and shape; MAEError listing the
    differences. Run after validate_config, before building."""
    expected = expected_shapes(cfg)
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    if missing or unexpected:
        parts = [f"missing tensors: {preview(missing)}"] if missing else []
        parts += [f"unexpected tensors: {preview(unexpected)}"] if unexpected else []
        raise MAEError(f"{name}: " + "; ".join(parts))
    wrong = [
        f"{k} {tuple(sd[k].shape)} (expected {shape})"
        for k, shape in expected.items()
        if tuple(sd[k].shape) != shape
    ]
    if wrong:
        raise MAEError(f"{name}: tensors with the wrong shape: {preview(wrong, 4)}")


def build_model(cfg: VideoMAEConfig, sd: dict[str, torch.Tensor], name: str) -> VideoMAEModel:
    """Check, build and load a model (float32, eval mode)."""
    validate_config(cfg, name)
    check_tensors(cfg, sd, name)
    model = VideoMAEModel(cfg)
    model.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    return model.eval()


@torch.inference_mode()
def predict(model: VideoMAEModel, frames01: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float32 (N, patch_dim) model-space predictions for every token of one clip."""
    cfg = model.cfg
    tokens = torch.from_numpy(to_tokens(frames01, cfg))[None]
    ids = torch.from_numpy(ids_keep_of(np.asarray(mask).reshape(cfg.token_grid)))[None]
    latent, _ = model.forward_encoder(tokens, ids)
    return model.forward_decoder(latent, ids)[0][0].float().numpy()


# -- converters --------------------------------------------------------------------------------
def conv3d_to_linear(w: torch.Tensor) -> torch.Tensor:
    """Conv3d weight (D, C, ts, p, p) -> Linear weight (D, ts*p*p*C), (time, row, col, ch)."""
    return w.permute(0, 2, 3, 4, 1).reshape(w.shape[0], -1)


_BLOCK = ("norm1", "norm2", "attn.proj", "mlp.fc1", "mlp.fc2")
_HF_LAYER = {
    "norm1": "layernorm_before",
    "norm2": "layernorm_after",
    "attn.proj": "attention.output.dense",
    "mlp.fc1": "intermediate.dense",
    "mlp.fc2": "output.dense",
}
_HF_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
}
# config.json name of each field
_HF_FIELDS = {
    "image_size": "image_size",
    "patch_size": "patch_size",
    "num_frames": "num_frames",
    "tubelet_size": "tubelet_size",
    "in_chans": "num_channels",
    "embed_dim": "hidden_size",
    "depth": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "mlp_hidden": "intermediate_size",
    "qkv_bias": "qv_bias",
    "decoder_embed_dim": "decoder_hidden_size",
    "decoder_depth": "decoder_num_hidden_layers",
    "decoder_num_heads": "decoder_num_attention_heads",
    "decoder_mlp_hidden": "decoder_intermediate_size",
    "norm_eps": "layer_norm_eps",
    "activation": "hidden_act",
    "use_mean_pooling": "use_mean_pooling",
    "norm_pix_loss": "norm_pix_loss",
}


def detect_hf(keys: set[str]) -> bool:
    """Tensors of transformers' VideoMAE (`videomae.` prefix, or a bare pretraining head)."""
    return any(k.startswith("videomae.") for k in keys) or (
        "encoder_to_decoder.weight" in keys
        and any(k.startswith("decoder.decoder_layers.") for k in keys)
    )


def _differ(name: str, label: str, declared: Any, found: Any, what: str) -> None:
    if declared != found:
        raise MAEError(f"{name}: {label} is {show(declared)}; the tensors hold {found}{what}")


def _kernel(
    conv: torch.Tensor, name: str, labels: dict[str, str], declared: dict[str, int]
) -> tuple[int, int, int]:
    """(channels, tubelet, patch) of a Conv3d patch weight, checked against what the config
    declares (labels: how it names patch/tubelet/channels)."""
    _, c, ts, ph, pw = conv.shape
    if ph != pw:
        raise MAEError(f"{name}: the patch embedding kernel is {ph}x{pw}: not square")
    for f, found, what in (
        ("in_chans", c, " input channels"),
        ("tubelet_size", ts, "-frame tubelets"),
        ("patch_size", ph, "-pixel patches"),
    ):
        if f in declared:
            _differ(name, labels[f], declared[f], found, what)
    return c, ts, ph


def _copy_blocks(
    src: Source, out: dict, theirs: str, ours: str, n: int, names: dict[str, str], qkv
) -> None:
    """Copy n blocks; names maps our suffix (norm1, ...) to theirs; qkv(base) returns
    (weight, q_bias or None, v_bias or None)."""
    for i in range(n):
        base = theirs.format(i=i)
        for o in _BLOCK:
            for param in ("weight", "bias"):
                out[f"{ours}{i}.{o}.{param}"] = src.get(f"{base}{names[o]}.{param}")
        w, qb, vb = qkv(base)
        out[f"{ours}{i}.attn.qkv.weight"] = w
        if qb is not None:
            out[f"{ours}{i}.attn.q_bias"] = qb
            out[f"{ours}{i}.attn.v_bias"] = vb


def _read(config: dict, key: str, default: Any, kind: str, name: str) -> Any:
    v = config.get(key, default)
    where = f"{name}: config.json {key} is {v!r}"
    if kind == "int" and type(v) is not int:
        raise MAEError(f"{where}: expected a whole number")
    if kind == "bool" and not isinstance(v, bool):
        raise MAEError(f"{where}: expected true or false")
    if kind == "float" and (not isinstance(v, int | float) or isinstance(v, bool)):
        raise MAEError(f"{where}: expected a number")
    if kind == "pair":
        if type(v) is int:
            return v, v
        if not (isinstance(v, list | tuple) and len(v) == 2 and all(type(x) is int for x in v)):
            raise MAEError(f"{where}: expected a whole number or [height, width]")
        return tuple(v)
    return float(v) if kind == "float" else v


def _triple(pre: dict, key: str, default: tuple, name: str) -> tuple[float, float, float]:
    v = pre.get(key, default)
    if isinstance(v, int | float) and not isinstance(v, bool):
        v = [v] * 3
    if not (isinstance(v, list | tuple) and len(v) == 3) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) for x in v
    ):
        raise MAEError(f"{name}: preprocessor_config.json {key} is {v!r}: expected three numbers")
    return tuple(float(x) for x in v)


def convert_hf(
    state_dict: dict[str, torch.Tensor],
    config_json: dict,
    name: str,
    pre: dict | None = None,
    notes: list[str] | None = None,
) -> tuple[VideoMAEConfig, dict[str, torch.Tensor]]:
    """transformers' VideoMAEForPreTraining tensors (4.x/5.x files: q_bias/v_bias or
    query.bias/value.bias) with config.json (and preprocessor_config.json for mean/std) ->
    (VideoMAEConfig, VideoMAEModel tensors). Fields missing from config.json take
    transformers' defaults; every declared size is checked against the tensors."""
    notes = notes if notes is not None else []
    model_type = config_json.get("model_type", "videomae")
    if model_type != "videomae":
        raise MAEError(f"{name}: config.json describes a {model_type!r} model, not videomae")
    src = Source(state_dict, name)
    e = "videomae." if any(k.startswith("videomae.") for k in state_dict) else ""
    if not src.has("encoder_to_decoder.weight"):
        raise MAEError(
            f"{name}: no decoder (encoder_to_decoder.weight is missing): a VideoMAE "
            "pretraining checkpoint (VideoMAEForPreTraining) is needed to reconstruct"
        )
    fields = {ours: f"config.json {theirs}" for ours, theirs in _HF_FIELDS.items()}
    c = config_json
    image = _read(c, "image_size", 224, "pair", name)
    patch = _read(c, "patch_size", 16, "pair", name)
    if patch[0] != patch[1]:
        raise MAEError(f"{name}: config.json patch_size is {list(patch)}: not square")
    qv_key = "qv_bias" if "qv_bias" in c or "qkv_bias" not in c else "qkv_bias"
    fields["qkv_bias"] = f"config.json {qv_key}"
    act = c.get("hidden_act", "gelu")
    if not isinstance(act, str) or act not in _HF_ACTIVATIONS:
        raise MAEError(
            f"{name}: config.json hidden_act is {act!r}: known: {', '.join(_HF_ACTIVATIONS)}"
        )
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    if pre is None:
        notes.append("no preprocessor_config.json: ImageNet mean/std assumed")
    elif not _read(pre, "do_normalize", True, "bool", name):
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    else:
        mean = _triple(pre, "image_mean", IMAGENET_MEAN, name)
        std = _triple(pre, "image_std", IMAGENET_STD, name)
    cfg = VideoMAEConfig(
        image_size=image,
        patch_size=patch[0],
        num_frames=_read(c, "num_frames", 16, "int", name),
        tubelet_size=_read(c, "tubelet_size", 2, "int", name),
        in_chans=_read(c, "num_channels", 3, "int", name),
        embed_dim=_read(c, "hidden_size", 768, "int", name),
        depth=_read(c, "num_hidden_layers", 12, "int", name),
        num_heads=_read(c, "num_attention_heads", 12, "int", name),
        mlp_hidden=_read(c, "intermediate_size", 3072, "int", name),
        qkv_bias=_read(c, qv_key, True, "bool", name),
        decoder_embed_dim=_read(c, "decoder_hidden_size", 384, "int", name),
        decoder_depth=_read(c, "decoder_num_hidden_layers", 4, "int", name),
        decoder_num_heads=_read(c, "decoder_num_attention_heads", 6, "int", name),
        decoder_mlp_hidden=_read(c, "decoder_intermediate_size", 1536, "int", name),
        norm_eps=_read(c, "layer_norm_eps", 1e-12, "float", name),
        decoder_norm_eps=1e-5,  # transformers' decoder norm: nn.LayerNorm's default
        activation=_HF_ACTIVATIONS[act],
        use_mean_pooling=_read(c, "use_mean_pooling", True, "bool", name),
        norm_pix_loss=_read(c, "norm_pix_loss", True, "bool", name),
        mean=mean,
        std=std,
    )
    validate_config(cfg, name, fields)
    conv = src.get(e + "embeddings.patch_embeddings.projection.weight", ndim=5)
    declared = {"in_chans": cfg.in_chans, "tubelet_size": cfg.tubelet_size}
    declared["patch_size"] = cfg.patch_size
    _kernel(conv, name, fields, declared)
    layer = e + "encoder.layer.{i}."
    dlayer = "decoder.decoder_layers.{i}."
    _differ(name, fields["embed_dim"], cfg.embed_dim, conv.shape[0], " channels")
    _differ(
        name,
        fields["depth"],
        cfg.depth,
        src.count(re.escape(e) + r"encoder\.layer\.(\d+)\."),
        " layers",
    )
    dcount = src.count(r"decoder\.decoder_layers\.(\d+)\.")
    _differ(name, fields["decoder_depth"], cfg.decoder_depth, dcount, " layers")
    has_norm = src.has(e + "layernorm.weight")
    if has_norm == cfg.use_mean_pooling:
        held = "holds" if has_norm else "lacks"
        raise MAEError(
            f"{name}: config.json use_mean_pooling is {str(cfg.use_mean_pooling).lower()}, "
            f"but the file {held} the encoder LayerNorm ({e}layernorm.weight)"
        )

    def qkv(base: str):
        a = base + "attention.attention."
        w = torch.cat([src.get(a + f"{x}.weight", ndim=2) for x in ("query", "key", "value")])
        found = any(src.has(a + k) for k in ("q_bias", "query.bias", "v_bias", "value.bias"))
        if found != cfg.qkv_bias:
            raise MAEError(
                f"{name}: {fields['qkv_bias']} is {str(cfg.qkv_bias).lower()}, but the file "
                f"{'holds' if found else 'lacks'} query/value biases ({a}q_bias)"
            )
        if not found:
            return w, None, None
        qb = src.get(a + ("q_bias" if src.has(a + "q_bias") else "query.bias"))
        vb = src.get(a + ("v_bias" if src.has(a + "v_bias") else "value.bias"))
        return w, qb, vb

    out: dict[str, torch.Tensor] = {
        "patch_embed.weight": conv3d_to_linear(conv),
        "patch_embed.bias": src.get(e + "embeddings.patch_embeddings.projection.bias"),
    }
    _copy_blocks(src, out, layer, "blocks.", cfg.depth, _HF_LAYER, qkv)
    if has_norm:
        out["norm.weight"] = src.get(e + "layernorm.weight")
        out["norm.bias"] = src.get(e + "layernorm.bias")
    out["encoder_to_decoder.weight"] = src.get("encoder_to_decoder.weight", ndim=2)
    out["mask_token"] = src.get("mask_token")
    _copy_blocks(src, out, dlayer, "decoder_blocks.", cfg.decoder_depth, _HF_LAYER, qkv)
    for ours, theirs in (("decoder_norm", "decoder.norm"), ("decoder_pred", "decoder.head")):
        out[f"{ours}.weight"] = src.get(f"{theirs}.weight")
        out[f"{ours}.bias"] = src.get(f"{theirs}.bias")
    _check_widths(cfg, out, name, fields)
    src.check_all_used()
    check_tensors(cfg, out, name, fields)
    return cfg, out


def _check_widths(cfg: VideoMAEConfig, out: dict, name: str, fields: dict[str, str]) -> None:
    """The declared widths against the converted tensors, naming the field."""
    checks = [("decoder_embed_dim", "encoder_to_decoder.weight", 0, " channels")]
    if cfg.depth:
        checks.append(("mlp_hidden", "blocks.0.mlp.fc1.weight", 0, " channels"))
    if cfg.decoder_depth:
        checks.append(("decoder_mlp_hidden", "decoder_blocks.0.mlp.fc1.weight", 0, " channels"))
    for f, key, axis, what in checks:
        _differ(name, fields.get(f, f), getattr(cfg, f), int(out[key].shape[axis]), what)
    head = int(out["decoder_pred.weight"].shape[0])
    if head != cfg.patch_dim:
        raise MAEError(
            f"{name}: the decoder head predicts {head} values a token; tubelet "
            f"{cfg.tubelet_size}x{cfg.patch_size}x{cfg.patch_size}x3 needs {cfg.patch_dim}"
        )


# Head counts of the official sizes (VideoMAE and VideoMAE V2: small, base, large, huge,
# giant): they are not in the tensors.
_MCG_HEADS = {"small": (6, 3), "base": (12, 6), "large": (16, 8), "huge": (16, 8), "giant": (16, 8)}
_MCG_WIDTH_HEADS = {384: 6, 768: 12, 1024: 16, 1280: 16, 1408: 16}
_MCG_DECODER_WIDTH_HEADS = {192: 3, 384: 6, 512: 8, 640: 8}
_COMPILED = "_orig_mod."  # torch.compile'd modules (VideoMAE V2's training script)


def _strip(keys) -> dict[str, str]:
    """Their key -> the key without a uniform torch.compile / DDP prefix."""
    keys = list(keys)
    out = {k: k for k in keys}
    for prefix in ("module.", _COMPILED):
        if keys and all(k.startswith(prefix) for k in out.values()):
            out = {k: v[len(prefix) :] for k, v in out.items()}
    return out


def detect_mcg(keys: set[str]) -> bool:
    """The official VideoMAE / VideoMAE V2 pretraining layout (encoder.patch_embed, ...)."""
    stripped = set(_strip(keys).values())
    return "encoder.patch_embed.proj.weight" in stripped and any(
        k.startswith("encoder.blocks.") for k in stripped
    )


def _guess_heads(width: int, table: dict[int, int]) -> tuple[int, str]:
    if width in table:
        return table[width], f"the official VideoMAE size for width {width}"
    if width % 64 == 0:
        return width // 64, "64 channels a head"
    return 1, "one head"


def convert_mcg(
    state_dict: dict[str, torch.Tensor],
    name: str,
    args: Any = None,
    heads: int | None = None,
    decoder_heads: int | None = None,
    notes: list[str] | None = None,
    assumed: dict[str, Any] | None = None,
) -> tuple[VideoMAEConfig, dict[str, torch.Tensor]]:
    """An official VideoMAE / VideoMAE V2 `{'model': ...}` state dict -> (VideoMAEConfig,
    VideoMAEModel tensors). Sizes come from the tensors; frame size, frame count, target
    and head counts (not in the tensors) from `heads`/`decoder_heads`, then the training
    `args` (input_size, num_frames, tubelet_size, decoder_depth, normlize_target, model),
    else they are assumed (ViT sizes' head counts, 224x224, 16 frames, norm_pix) and
    recorded in `assumed` and `notes`."""
    notes = notes if notes is not None else []
    assumed = assumed if assumed is not None else {}
    names = _strip(state_dict)
    src = Source({names[k]: v for k, v in state_dict.items()}, name)
    keys = set(src.tensors)
    for suffix, what in (
        ((".gamma_1", ".gamma_2"), "layer scale (gamma_1/gamma_2, init_values > 0)"),
        ((".attn.scale",), "cosine attention (VideoMAE V2 cos_attn, attn.scale)"),
        (("encoder.pos_embed",), "a learned position table (encoder.pos_embed)"),
    ):
        if any(k.endswith(suffix) for k in keys):
            raise MAEError(f"{name}: {what} is not supported")
    if "encoder_to_decoder.weight" not in keys:
        raise MAEError(
            f"{name}: no decoder (encoder_to_decoder.weight is missing): a VideoMAE "
            "pretraining checkpoint is needed to reconstruct"
        )
    a = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
    conv = src.get("encoder.patch_embed.proj.weight", ndim=5)
    fields = {
        "image_size": "args input_size" if "input_size" in a else "the assumed frame size",
        "num_frames": "args num_frames" if "num_frames" in a else "the assumed frame count",
        "tubelet_size": "args tubelet_size",
        "decoder_depth": "args decoder_depth",
        "num_heads": "the encoder heads",
        "decoder_num_heads": "the decoder heads",
        "in_chans": "input channels",
        "patch_size": "the patch size",
    }
    declared = {k: a[k] for k in ("tubelet_size",) if k in a}
    c_in, ts, p = _kernel(conv, name, fields, declared)
    width, dwidth = int(conv.shape[0]), int(src.get("encoder_to_decoder.weight", ndim=2).shape[0])
    depth = src.count(r"encoder\.blocks\.(\d+)\.")
    ddepth = src.count(r"decoder\.blocks\.(\d+)\.")
    if "decoder_depth" in a:
        _differ(name, "args decoder_depth", a["decoder_depth"], ddepth, " decoder layers")

    def pick(key: str, default: Any, what: str) -> Any:
        if key in a:
            return a[key]
        assumed[key] = default
        notes.append(f"{what} assumed: {default}")
        return default

    size = pick("input_size", 224, "frame size")
    frames = pick("num_frames", 16, "frame count")
    norm_pix = pick("normlize_target", True, "norm_pix target (the official default)")
    word = re.search(r"_(small|base|large|huge|giant)_", f"_{a.get('model', '')}_")
    for key, given, width_, table, idx in (
        ("heads", heads, width, _MCG_WIDTH_HEADS, 0),
        ("decoder_heads", decoder_heads, dwidth, _MCG_DECODER_WIDTH_HEADS, 1),
    ):
        if given is not None:
            continue
        if word:
            value, why = _MCG_HEADS[word.group(1)][idx], f"args model {a['model']}"
        else:
            value, why = _guess_heads(width_, table)
            assumed[key] = value
            notes.append(f"{key.replace('_', ' ')} assumed: {value} ({why})")
        if key == "heads":
            heads = value
        else:
            decoder_heads = value
    fc1 = "encoder.blocks.0.mlp.fc1.weight"
    dfc1 = "decoder.blocks.0.mlp.fc1.weight"
    cfg = VideoMAEConfig(
        image_size=(size, size) if type(size) is int else size,
        patch_size=p,
        num_frames=frames,
        tubelet_size=ts,
        in_chans=c_in,
        embed_dim=width,
        depth=depth,
        num_heads=heads,
        mlp_hidden=int(src.tensors[fc1].shape[0]) if fc1 in keys else 4 * width,
        qkv_bias="encoder.blocks.0.attn.q_bias" in keys,
        decoder_embed_dim=dwidth,
        decoder_depth=ddepth,
        decoder_num_heads=decoder_heads,
        decoder_mlp_hidden=int(src.tensors[dfc1].shape[0]) if dfc1 in keys else 4 * dwidth,
        norm_eps=1e-6,
        decoder_norm_eps=1e-6,
        activation="gelu",
        use_mean_pooling=False,
        norm_pix_loss=norm_pix,
    )
    validate_config(cfg, name, fields)

    def qkv(base: str):
        w = src.get(base + "attn.qkv.weight", ndim=2)
        if not cfg.qkv_bias:
            return w, None, None
        return w, src.get(base + "attn.q_bias"), src.get(base + "attn.v_bias")

    same = {o: o for o in _BLOCK}
    out: dict[str, torch.Tensor] = {
        "patch_embed.weight": conv3d_to_linear(conv),
        "patch_embed.bias": src.get("encoder.patch_embed.proj.bias"),
    }
    _copy_blocks(src, out, "encoder.blocks.{i}.", "blocks.", depth, same, qkv)
    for ours, theirs in (
        ("norm", "encoder.norm"),
        ("decoder_norm", "decoder.norm"),
        ("decoder_pred", "decoder.head"),
    ):
        out[f"{ours}.weight"] = src.get(f"{theirs}.weight")
        out[f"{ours}.bias"] = src.get(f"{theirs}.bias")
    out["encoder_to_decoder.weight"] = src.get("encoder_to_decoder.weight")
    out["mask_token"] = src.get("mask_token")
    _copy_blocks(src, out, "decoder.blocks.{i}.", "decoder_blocks.", ddepth, same, qkv)
    _check_widths(cfg, out, name, fields)
    src.check_all_used()
    check_tensors(cfg, out, name, fields)
    return cfg, out
