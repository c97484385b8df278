"""The shape of what a model sees and of what the user paints, for every MAE family.

A `Geometry` says how many frames of which size a model takes, the patch (or tubelet) each
token covers and predicts, and the mask unit the user paints, which may be coarser than the
patch (Hiera: 32 px units over 16 px predictions) and may span time (VideoMAE: 2 frames).
Masks, generators, the brush, metrics, figures and sessions read it instead of assuming one
square grid of patches, one frame or a CLS token.

Sizes are (frames, pixel rows, pixel columns); grids are (time slots, rows, columns).
"""

from __future__ import annotations

from dataclasses import dataclass

Shape3 = tuple[int, int, int]


@dataclass(frozen=True)
class Geometry:
    """frames: input frames (1: a still image); channels: colour channels; size: (H, W)
    pixels of each frame; patch: (frames, rows, columns) one token covers and one prediction
    holds; unit: the mask unit, a whole multiple of the patch; cls_token: the encoder has
    one."""

    frames: int = 1
    channels: int = 3
    size: tuple[int, int] = (224, 224)
    patch: Shape3 = (1, 16, 16)
    unit: Shape3 = (1, 16, 16)
    cls_token: bool = True

    def __post_init__(self) -> None:
        extent = (self.frames, *self.size)
        for what, cell in (("patch", self.patch), ("mask unit", self.unit)):
            if (
                len(cell) != 3
                or min(cell) < 1
                or any(e % c for e, c in zip(extent, cell, strict=True))
            ):
                raise ValueError(f"the {what} {cell} does not divide the input {extent}")
        if any(u % p for u, p in zip(self.unit, self.patch, strict=True)):
            raise ValueError(f"the mask unit {self.unit} is not made of whole patches")

    @property
    def is_video(self) -> bool:
        return self.frames > 1

    @property
    def patch_grid(self) -> Shape3:
        """(time slots, rows, columns) of tokens / predictions."""
        return _grid((self.frames, *self.size), self.patch)

    @property
    def mask_grid(self) -> Shape3:
        """(time slots, rows, columns) of mask units: what a mask array holds."""
        return _grid((self.frames, *self.size), self.unit)

    @property
    def units_per_cell(self) -> Shape3:
        """Patches per mask unit along (time, rows, columns)."""
        return _grid(self.unit, self.patch)

    @property
    def num_patches(self) -> int:
        t, h, w = self.patch_grid
        return t * h * w

    @property
    def num_units(self) -> int:
        t, h, w = self.mask_grid
        return t * h * w

    @property
    def patch_dim(self) -> int:
        """Values one prediction holds: patch frames x rows x columns x channels."""
        t, h, w = self.patch
        return t * h * w * self.channels

    def patch_mask(self, unit_mask):
        """A bool mask over mask units (mask_grid) as a mask over patches (patch_grid)."""
        import numpy as np

        unit_mask = np.asarray(unit_mask, dtype=bool).reshape(self.mask_grid)
        t, h, w = self.units_per_cell
        return unit_mask.repeat(t, 0).repeat(h, 1).repeat(w, 2)


def _grid(extent: Shape3, cell: Shape3) -> Shape3:
    return extent[0] // cell[0], extent[1] // cell[1], extent[2] // cell[2]


def image_geometry(size: tuple[int, int], patch: int, cls_token: bool) -> Geometry:
    """A still-image ViT MAE: one frame, square patches that are also the mask units."""
    return Geometry(1, 3, tuple(size), (1, patch, patch), (1, patch, patch), cls_token)


__all__ = ["Geometry", "image_geometry"]
