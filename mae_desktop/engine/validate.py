"""Checking a declared architecture before any model memory is allocated.

A checkpoint declares its architecture (our metadata, a Hugging Face config.json) or it is
read off the tensors. Either way it is checked here, in this order, before `build_model`
allocates anything: every field has the right type (whole numbers are ints, switches are
true/false, not strings) and a sane range; the fields fit together; and the tensor shapes the
architecture needs, computed on PyTorch's meta device (no memory), are those the file holds.
Only then is the model materialised, so a 7 MB file cannot ask for 177 GB.

Messages name the file, where the field came from and its value, e.g.
`default.safetensors: metadata depth is 100000: at most 64 layers`.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

import torch

from .config import ACTIVATIONS, MAEConfig, norm_problem
from .errors import MAEError

MAX_DEPTH = 64  # transformer layers, encoder or decoder
MAX_WIDTH = 8192  # channels (ViT-22B is 6144 wide)
MAX_IMAGE_SIDE = 4096  # pixels
MAX_HEADS = 1024
MLP_SLACK = 4096  # an MLP may be at most 8 x the width + this many channels

_BOOL_FIELDS = (
    "qkv_bias",
    "encoder_norm",
    "patch_norm_pre",
    "patch_norm_post",
    "has_decoder",
    "decoder_qkv_bias",
    "decoder_norm",
    "use_cls_token",
    "decoder_pos_on_visible",
)

# What a field is called when nothing more specific is known about where it came from
_PLAIN = {
    "embed_dim": "encoder width",
    "depth": "encoder depth",
    "num_heads": "encoder heads",
    "attn_dim": "encoder attention width",
    "mlp_hidden": "encoder MLP width",
    "decoder_embed_dim": "decoder width",
    "decoder_depth": "decoder depth",
    "decoder_num_heads": "decoder heads",
    "decoder_attn_dim": "decoder attention width",
    "decoder_mlp_hidden": "decoder MLP width",
    "in_chans": "input channels",
    "norm_eps": "LayerNorm eps",
}


def own_fields(prefix: str = "metadata") -> dict[str, str]:
    """Labels for a config that names our fields as they are (MAE Desktop metadata)."""
    return {f: f"{prefix} {f}" for f in MAEConfig.__dataclass_fields__ if f != "extra"}


def show(value: Any) -> str:
    """A value as users wrote it: tuples as lists, strings quoted."""
    if isinstance(value, tuple):
        value = list(value)
    return repr(value)


class _Checker:
    def __init__(self, cfg: MAEConfig, name: str, fields: dict[str, str] | None) -> None:
        self.cfg = cfg
        self.name = name
        self.fields = fields or {}

    def label(self, field: str) -> str:
        return self.fields.get(field) or _PLAIN.get(field, field)

    def fail(self, field: str, problem: str, value: Any = None) -> MAEError:
        value = getattr(self.cfg, field) if value is None else value
        return MAEError(f"{self.name}: {self.label(field)} is {show(value)}: {problem}")

    def whole(self, field: str, lo: int, hi: int, unit: str, why: str = "") -> int:
        """An int (bool, float, str refused) from lo to hi; unit is plural ('layers')."""
        v = getattr(self.cfg, field)
        if type(v) is not int:
            raise self.fail(field, "expected a whole number")
        if v < lo:
            raise self.fail(field, f"at least {lo} {unit.removesuffix('s') if lo == 1 else unit}")
        if v > hi:
            raise self.fail(field, f"at most {hi} {unit}{why}")
        return v

    def boolean(self, field: str, allow_none: bool = False) -> None:
        v = getattr(self.cfg, field)
        if isinstance(v, bool) or (allow_none and v is None):
            return
        raise self.fail(field, "expected true or false")

    def number(self, value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)


def validate_config(cfg: MAEConfig, name: str, fields: dict[str, str] | None = None) -> None:
    """Type- and range-check every field of an architecture; MAEError naming the first
    problem. `fields` maps a field to how its source names it ('config.json hidden_size')."""
    c = _Checker(cfg, name, fields)
    for field in _BOOL_FIELDS:
        c.boolean(field)
    c.boolean("norm_pix_loss", allow_none=True)
    size = cfg.image_size
    if (
        not isinstance(size, tuple | list)
        or len(size) != 2
        or not all(type(s) is int for s in size)
    ):
        raise c.fail("image_size", "expected [height, width] in whole pixels")
    if not all(1 <= s <= MAX_IMAGE_SIDE for s in size):
        raise c.fail("image_size", f"each side must be 1 to {MAX_IMAGE_SIDE} pixels")
    p = cfg.patch_size
    if type(p) is not int:
        raise c.fail("patch_size", "expected a whole number")
    if not 1 <= p <= min(size):
        raise c.fail("patch_size", f"expected 1 to {min(size)} pixels (the image side)")
    if size[0] % p or size[1] % p:
        raise c.fail("patch_size", f"it must divide the image size {show(tuple(size))}")
    if type(cfg.in_chans) is not int or cfg.in_chans != 3:
        raise c.fail("in_chans", "only RGB models (3 channels) are supported")
    _branch(c, "", 1)
    if cfg.has_decoder:
        _branch(c, "decoder_", 0)
    eps = cfg.norm_eps
    if not c.number(eps) or not math.isfinite(eps) or not 0 < eps < 1:
        raise c.fail("norm_eps", "expected a positive number below 1")
    if not isinstance(cfg.activation, str) or cfg.activation not in ACTIVATIONS:
        raise c.fail("activation", f"known: {', '.join(ACTIVATIONS)}")
    for field in ("mean", "std"):
        v = getattr(cfg, field)
        if (
            not isinstance(v, tuple | list)
            or len(v) != 3
            or not all(c.number(x) and math.isfinite(x) for x in v)
        ):
            raise c.fail(field, "expected three finite numbers (red, green, blue)")
    if min(cfg.std) <= 0:
        raise c.fail("std", "every std must be positive (pixels are divided by it)")
    problem = norm_problem(cfg.mean, cfg.std)
    if problem:
        raise c.fail("mean" if "mean" in problem else "std", problem)


def _branch(c: _Checker, pre: str, min_depth: int) -> None:
    """The encoder's (pre '') or decoder's (pre 'decoder_') sizes."""
    width = c.whole(pre + "embed_dim", 1, MAX_WIDTH, "channels")
    c.whole(pre + "depth", min_depth, MAX_DEPTH, "layers")
    attn = c.whole(pre + "attn_dim", 1, MAX_WIDTH, "channels")
    heads_field = pre + "num_heads"
    heads = c.whole(heads_field, 1, min(MAX_HEADS, attn), "heads")
    if attn % heads:
        raise c.fail(heads_field, f"it must divide the attention width {attn}")
    limit = 8 * width + MLP_SLACK
    c.whole(pre + "mlp_hidden", 1, limit, "channels", f" (8 x the width {width} + {MLP_SLACK})")


# -- the tensors against the architecture ------------------------------------------------------
def _layers(sd: dict[str, torch.Tensor], prefix: str) -> int:
    rx = re.compile(re.escape(prefix) + r"(\d+)\.")
    return len({m.group(1) for k in sd if (m := rx.match(k))})


def _dim(sd: dict[str, torch.Tensor], key: str, axis: int, ndim: int) -> int | None:
    t = sd.get(key)
    if t is None or t.ndim != ndim:
        return None
    return int(t.shape[axis])


def expected_shapes(cfg: MAEConfig) -> dict[str, tuple[int, ...]]:
    """The tensor shapes MAEModel(cfg) holds, computed on the meta device (no memory); the
    last few architectures are remembered (a load checks twice: at reading and building)."""
    try:
        return dict(_shapes(cfg))
    except TypeError:  # an unhashable field value: not remembered
        return _shapes.__wrapped__(cfg)


@functools.lru_cache(maxsize=8)
def _shapes(cfg: MAEConfig) -> dict[str, tuple[int, ...]]:
    from .model import MAEModel

    try:
        with torch.device("meta"):
            shell = MAEModel(cfg)
    except ValueError as exc:
        raise MAEError(f"inconsistent architecture: {exc}") from exc
    return {k: tuple(v.shape) for k, v in shell.state_dict().items()}


def check_tensors(
    cfg: MAEConfig,
    sd: dict[str, torch.Tensor],
    name: str,
    fields: dict[str, str] | None = None,
) -> None:
    """The state dict (MAEModel names) against the architecture, before anything is built:
    the declared sizes against what the tensors hold, then every tensor's name and shape.
    Raises MAEError naming the field and both values, or listing the tensors."""
    from .formats.common import preview

    c = _Checker(cfg, name, fields)

    def differ(field: str, actual: int | None, what: str = "") -> None:
        declared = getattr(cfg, field)
        if actual is not None and actual != declared:
            raise MAEError(
                f"{name}: {c.label(field)} is {declared}; the tensors hold {actual}{what}"
            )

    differ("depth", _layers(sd, "blocks."), " layers")
    differ("embed_dim", _dim(sd, "patch_embed.weight", 0, 2), " channels")
    qkv = _dim(sd, "blocks.0.attn.qkv.weight", 0, 2)
    differ("attn_dim", None if qkv is None else qkv // 3, " channels")
    differ("mlp_hidden", _dim(sd, "blocks.0.mlp.fc1.weight", 0, 2), " channels")
    pdim = _dim(sd, "patch_embed.weight", 1, 2)
    if pdim is not None and pdim != cfg.patch_dim:
        p = cfg.patch_size
        raise MAEError(
            f"{name}: {c.label('patch_size')} is {p} ({p}x{p}x{cfg.in_chans} = {cfg.patch_dim} "
            f"values a patch); the patch embedding takes {pdim}"
        )
    positions = _dim(sd, "pos_embed", 1, 3)
    if positions is not None and positions - 1 != cfg.num_patches:
        raise MAEError(
            f"{name}: {c.label('image_size')} is {show(tuple(cfg.image_size))} "
            f"({cfg.num_patches} patches of {cfg.patch_size} pixels); the position table "
            f"holds {positions - 1}"
        )
    if cfg.has_decoder:
        differ("decoder_depth", _layers(sd, "decoder_blocks."), " layers")
        differ("decoder_embed_dim", _dim(sd, "decoder_embed.weight", 0, 2), " channels")
        dqkv = _dim(sd, "decoder_blocks.0.attn.qkv.weight", 0, 2)
        differ("decoder_attn_dim", None if dqkv is None else dqkv // 3, " channels")
        differ("decoder_mlp_hidden", _dim(sd, "decoder_blocks.0.mlp.fc1.weight", 0, 2), " channels")
    try:
        expected = expected_shapes(cfg)
    except MAEError as exc:
        raise MAEError(f"{name}: {exc}") from None
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing tensors: {preview(missing)}")
        if unexpected:
            parts.append(f"unexpected tensors: {preview(unexpected)}")
        raise MAEError(f"{name}: " + "; ".join(parts))
    wrong = [
        f"{k} {tuple(sd[k].shape)} (expected {shape})"
        for k, shape in expected.items()
        if tuple(sd[k].shape) != shape
    ]
    if wrong:
        raise MAEError(f"{name}: tensors with the wrong shape: {preview(wrong, 4)}")


def check_dense(tensors: dict[str, torch.Tensor], name: str) -> None:
    """Every tensor plain, dense, real and backed by the values the file holds. A torch file
    can declare a 100000 x 100000 tensor with no data (the meta device) or with one value
    repeated (stride 0), and building a model from it would allocate the full size; such
    files are refused, and so are files whose tensors share storage several times over."""
    declared, stored = 0, {}
    for key, t in tensors.items():
        if t.layout != torch.strided or t.is_quantized or t.is_nested:
            raise MAEError(
                f"{name}: tensor {key} is stored as {str(t.layout).removeprefix('torch.')}"
                f"{' (quantized)' if t.is_quantized else ''}; checkpoints hold plain dense tensors"
            )
        if t.device.type != "cpu":
            raise MAEError(
                f"{name}: tensor {key} {tuple(t.shape)} holds no values (a {t.device.type} "
                "tensor); checkpoints hold every value"
            )
        if t.is_complex():
            raise MAEError(f"{name}: tensor {key} holds complex numbers; weights are real")
        numel = t.numel()
        if numel == 0:
            continue
        span = 1 + sum((s - 1) * st for s, st in zip(t.shape, t.stride(), strict=True))
        if span < numel:
            raise MAEError(
                f"{name}: tensor {key} {tuple(t.shape)} repeats {span} stored values to fill "
                f"{numel}; checkpoints hold every value"
            )
        declared += numel * t.element_size()
        storage = t.untyped_storage()
        stored[storage.data_ptr()] = storage.nbytes()
    if declared > 2 * sum(stored.values()) + (16 << 20):
        raise MAEError(
            f"{name}: its tensors declare {declared:,} bytes but share {sum(stored.values()):,} "
            "stored bytes; checkpoints hold every value"
        )


# floating-point weights we read (float8 and other formats have no CPU kernels to check or run)
WEIGHT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def check_finite(tensors: dict[str, torch.Tensor], name: str) -> None:
    """Refuse tensors holding NaN or infinity (a damaged or diverged file would give
    garbage), naming the first such tensor."""
    for key, t in tensors.items():
        if t.is_floating_point() and t.dtype not in WEIGHT_DTYPES:
            raise MAEError(
                f"{name}: tensor {key} is {str(t.dtype).removeprefix('torch.')}; weights must "
                "be float32, float16, bfloat16 or float64 (convert the file first)"
            )
        if not (t.is_floating_point() or t.is_complex()) or t.numel() == 0:
            continue
        if t.is_floating_point():  # fast path: NaN and infinity show in the extremes
            lo, hi = torch.aminmax(t)
            if bool(torch.isfinite(lo)) and bool(torch.isfinite(hi)):
                continue
        finite = torch.isfinite(t)
        if not bool(finite.all()):
            bad = int(finite.numel() - finite.sum())
            raise MAEError(
                f"{name}: tensor {key} holds {bad} NaN or infinite value"
                f"{'s' if bad != 1 else ''} (of {t.numel()}); the weights are damaged"
            )


__all__ = [
    "MAX_DEPTH",
    "MAX_IMAGE_SIDE",
    "MAX_WIDTH",
    "check_dense",
    "check_finite",
    "check_tensors",
    "expected_shapes",
    "own_fields",
    "validate_config",
]
