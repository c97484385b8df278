"""The architecture of an MAE, as one dataclass that every checkpoint format maps onto."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

ACTIVATIONS = ("gelu", "gelu_tanh")

Triple = tuple[float, float, float]
# Input normalisation choices by name; anything else is spelled MEAN:STD (see parse_input_norm)
INPUT_NORMS: dict[str, tuple[Triple, Triple]] = {
    "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    "imagenet": (IMAGENET_MEAN, IMAGENET_STD),
}
# Normalisation constants a model can use: checked as the float32 the pass computes in, so
# that (x - mean) / std of [0, 1] pixels stays finite and meaningful (a std of 1e-40 is
# positive as a Python float but divides by zero in float32).
STD_RANGE = (1e-4, 1e4)
MEAN_LIMIT = 1e4


def norm_problem(mean: Any, std: Any) -> str | None:
    """Why (mean, std) cannot normalise pixels in float32, or None when they can: each value
    finite as float32, |mean| <= MEAN_LIMIT, std within STD_RANGE."""
    import numpy as np

    with np.errstate(over="ignore"):
        m32 = np.asarray(mean, dtype=np.float64).astype(np.float32)
        s32 = np.asarray(std, dtype=np.float64).astype(np.float32)
    if not (np.isfinite(m32).all() and np.abs(m32).max(initial=0) <= MEAN_LIMIT):
        return f"every mean must be a number from {-MEAN_LIMIT:g} to {MEAN_LIMIT:g}"
    lo, hi = (np.float32(v) for v in STD_RANGE)  # compared as float32: 1e-4 itself passes
    if not (np.isfinite(s32).all() and s32.min(initial=1) >= lo and s32.max(initial=1) <= hi):
        return f"every std must be from {lo:g} to {hi:g} (pixels are divided by it)"
    return None


INPUT_NORM_HELP = (
    "none ([0, 1] pixels), imagenet, or MEAN:STD with one or three comma-separated "
    "numbers on each side, e.g. 0.5:0.25 or 0.485,0.456,0.406:0.229,0.224,0.225"
)


def parse_input_norm(spec: str) -> tuple[Triple, Triple]:
    """'none' | 'imagenet' | 'MEAN:STD' -> (mean, std), RGB triples that normalise [0, 1]
    pixels as (x - mean) / std. One number on a side stands for all three channels; every
    std must be > 0. Raises ValueError with a message for users."""
    text = spec.strip().lower()
    if text in INPUT_NORMS:
        return INPUT_NORMS[text]
    parts = text.split(":")
    if len(parts) != 2:
        raise ValueError(f"input normalisation {spec!r}: expected {INPUT_NORM_HELP}")
    sides = []
    for part, what in zip(parts, ("mean", "std"), strict=True):
        try:
            values = [float(v) for v in part.split(",")]
        except ValueError:
            raise ValueError(f"input normalisation {spec!r}: {what} is not numbers") from None
        if len(values) not in (1, 3) or not all(abs(v) < float("inf") for v in values):
            raise ValueError(
                f"input normalisation {spec!r}: {what} needs one or three finite numbers"
            )
        sides.append(tuple(values * 3) if len(values) == 1 else tuple(values))
    mean, std = sides
    if min(std) <= 0:
        raise ValueError(f"input normalisation {spec!r}: std must be positive")
    problem = norm_problem(mean, std)
    if problem:
        raise ValueError(f"input normalisation {spec!r}: {problem}")
    return mean, std


def input_norm_spec(mean: Triple, std: Triple) -> str:
    """The canonical spelling of (mean, std): a name when it has one, else MEAN:STD."""
    for name, (m, s) in INPUT_NORMS.items():
        if tuple(mean) == m and tuple(std) == s:
            return name

    def number(v: float) -> str:
        text = repr(float(v))  # round-trips exactly
        return text[:-2] if text.endswith(".0") else text

    def side(values: Triple) -> str:
        if len(set(values)) == 1:
            return number(values[0])
        return ",".join(number(v) for v in values)

    return f"{side(mean)}:{side(std)}"


def config_from_dict(cls: type, d: dict[str, Any], skip: frozenset[str] | set[str] = frozenset()):
    """A config dataclass from its to_dict() (JSON gives lists where the fields hold tuples:
    image_size, mean, std); ValueError naming fields it does not have. Every family's
    config reads itself back this way."""
    names = {f.name for f in dataclasses.fields(cls)} - set(skip)
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown config fields: {sorted(unknown)}")
    kw = dict(d)
    for key in ("image_size", "mean", "std"):
        if key in kw:
            kw[key] = tuple(kw[key])
    return cls(**kw)


@dataclass(frozen=True)
class MAEConfig:
    """Everything needed to build an `MAEModel` and feed it.

    Sizes are in pixels (image, patch) or channels (widths). `attn_dim` is the width of the
    query/key/value projections (the PaperWeekly from-scratch MAE allows it to differ from
    `embed_dim`).
    `mean`/`std` normalise [0, 1] RGB pixels before the model sees them; (0, 0, 0)/(1, 1, 1)
    means raw pixels. `norm_pix_loss` is None when the checkpoint does not say.
    """

    image_size: tuple[int, int] = (224, 224)
    patch_size: int = 16
    in_chans: int = 3
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    attn_dim: int = 768
    mlp_hidden: int = 3072
    qkv_bias: bool = True
    encoder_norm: bool = True
    patch_norm_pre: bool = False
    patch_norm_post: bool = False
    has_decoder: bool = True
    decoder_embed_dim: int = 512
    decoder_depth: int = 8
    decoder_num_heads: int = 16
    decoder_attn_dim: int = 512
    decoder_mlp_hidden: int = 2048
    decoder_qkv_bias: bool = True
    decoder_norm: bool = True
    norm_eps: float = 1e-6
    activation: str = "gelu"
    use_cls_token: bool = True
    # Official/HF/vit-pytorch add the decoder position embedding to every token; the
    # PaperWeekly from-scratch MAE only to the mask tokens (visible tokens keep their encoder one).
    decoder_pos_on_visible: bool = True
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    norm_pix_loss: bool | None = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def grid_size(self) -> tuple[int, int]:
        """(grid_h, grid_w): patches per column and per row."""
        return self.image_size[0] // self.patch_size, self.image_size[1] // self.patch_size

    @property
    def num_patches(self) -> int:
        gh, gw = self.grid_size
        return gh * gw

    @property
    def geometry(self):
        """The family-independent shape (engine.geometry.Geometry): one frame, square patches
        that are the mask units."""
        from .geometry import image_geometry

        return image_geometry(self.image_size, self.patch_size, self.use_cls_token)

    @property
    def patch_dim(self) -> int:
        """Length of one patch vector: patch_size**2 * in_chans, (row, col, channel) order."""
        return self.patch_size * self.patch_size * self.in_chans

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("extra")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MAEConfig:
        return config_from_dict(cls, d, skip={"extra"})

    def replace(self, **changes: Any) -> MAEConfig:
        return dataclasses.replace(self, **changes)

    @property
    def raw_pixels(self) -> bool:
        """True when the model sees [0, 1] pixels as they are (mean 0, std 1)."""
        return self.mean == (0.0, 0.0, 0.0) and self.std == (1.0, 1.0, 1.0)

    @property
    def pad_rgb(self) -> tuple[float, float, float]:
        """Padding colour for the 'pad' resize policy: the model's mean (zero after
        normalisation), mid-grey for raw-pixel models."""
        return (0.5, 0.5, 0.5) if self.raw_pixels else self.mean

    def describe(self) -> str:
        """A one-line summary, e.g. 'ViT 768x12 (12 heads), patch 16, 224x224; decoder 512x8'."""
        h, w = self.image_size
        enc = f"encoder {self.embed_dim}x{self.depth} ({self.num_heads} heads)"
        dec = "no decoder"
        if self.has_decoder:
            dec = (
                f"decoder {self.decoder_embed_dim}x{self.decoder_depth} "
                f"({self.decoder_num_heads} heads)"
            )
        return f"{enc}, patch {self.patch_size}, {h}x{w} input; {dec}"
