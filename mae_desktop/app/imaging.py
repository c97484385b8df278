"""numpy -> what pyqtgraph draws: uint8 images, mask overlays, colormapped heatmaps."""

from __future__ import annotations

import functools

import numpy as np
import pyqtgraph as pg

from ..engine.patches import upsample_grid
from ..engine.render import unit_range

COLORMAPS = ("inferno", "viridis", "magma", "plasma", "cividis", "turbo")
MASK_RGBA = (18, 18, 28, 185)  # "tint": masked patches dark, most of the image hidden
GRID_RGBA = (255, 255, 255, 38)
ABSENT_RGBA = (90, 90, 100, 255)  # attention cells with no token (masked in the encoder)

MASK_STYLES = ("auto", "tint", "outline", "hatch")
# Two tones far apart: each style pairs one with the other, so that whatever the image
# under a masked patch, one of them stands out against it.
LIGHT_RGB = (246, 246, 250)
DARK_RGB = (14, 14, 22)
# "auto": a tint opposite to the patch's luminance (light over dark patches, dark over
# bright ones) moves every masked patch by at least AUTO_ALPHA/255 * 1/2 of the full range;
# a one-pixel edge in the other tone marks it even where the luminance is unknown, without
# the busy look of stripes over the whole picture.
AUTO_ALPHA = 140
AUTO_EDGE_ALPHA = 210
AUTO_THRESHOLD = 0.5  # patches at least this bright get the dark tint
# "hatch": alternating light and dark diagonal stripes, the rest a translucent grey.
HATCH_STRIPE_ALPHA = 225
HATCH_FILL_RGBA = (128, 128, 136, 70)
HATCH_PERIOD = 8  # pixels per light+dark pair, rounded so a patch holds whole periods
# "outline": a light line on the patch's edge with a dark line inside it; the rest clear.
OUTLINE_ALPHA = 255
BOUNDARY_WIDTH = 2  # mask_outline's lines, in pixels inside the masked patches
LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)  # Rec. 709


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float (H, W, 3) in [0, 1] (clipped) -> uint8 (H, W, 3)."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def cell_luminance(image: np.ndarray, patch: int) -> np.ndarray:
    """float (H, W, 3) in [0, 1] -> float64 (gh, gw) in [0, 1]: each patch's mean luminance
    (Rec. 709 weights on the stored values). Once per image, for mask_overlay's "auto"."""
    gh, gw = image.shape[0] // patch, image.shape[1] // patch
    luma = np.clip(image[: gh * patch, : gw * patch], 0.0, 1.0) @ np.asarray(LUMA_WEIGHTS)
    return luma.reshape(gh, patch, gw, patch).mean(axis=(1, 3))


def composite_over(image: np.ndarray, rgba: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) under uint8 RGBA (H, W, 4) -> uint8 (H, W, 3), alpha-blended."""
    if image.shape[:2] != rgba.shape[:2]:
        raise ValueError(f"image {image.shape[:2]} and overlay {rgba.shape[:2]} differ")
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    out = image.astype(np.float32) * (1.0 - alpha) + rgba[..., :3].astype(np.float32) * alpha
    return (out + 0.5).astype(np.uint8)


def mask_overlay(
    mask: np.ndarray,
    patch: int,
    style: str = "auto",
    cell_luma: np.ndarray | None = None,
    grid_lines: bool = True,
) -> np.ndarray:
    """RGBA uint8 (gh*patch, gw*patch, 4) over the image: masked patches marked in `style`
    (one of MASK_STYLES), thin patch grid lines, the rest clear.

    mask: bool (gh, gw), True = masked. cell_luma: float (gh, gw) in [0, 1] from
    cell_luminance, used by "auto" only; None treats every patch as mid-grey.
    (Drawn on every edit while painting: a cached grid and cached per-patch pictures,
    written through a (gh, gw, patch, patch) view instead of an upsampled boolean image.)
    """
    gh, gw = mask.shape
    pictures = _masked_cells(style, patch)
    out = _grid_lines((gh, gw), patch, grid_lines).copy()
    cells = out.reshape(gh, patch, gw, patch, 4).transpose(0, 2, 1, 3, 4)
    if len(pictures) == 1:
        cells[mask] = pictures[0]
    else:  # "auto": picture 1 (dark tint) for bright patches, 0 (light tint) for dark ones
        luma = np.full(mask.shape, 0.5) if cell_luma is None else cell_luma  # unknown: grey
        cells[mask] = pictures[(luma[mask] >= AUTO_THRESHOLD).astype(np.intp)]
    return out


@functools.lru_cache(maxsize=16)
def _masked_cells(style: str, patch: int) -> np.ndarray:
    """uint8 (n, patch, patch, 4): the picture of one masked patch in `style`; "auto" has
    two (0: light tint for dark patches, 1: dark tint for bright ones), the others one."""
    if style not in MASK_STYLES:
        raise ValueError(f"unknown mask style {style!r}")
    light, dark = _diagonal_stripes(patch)
    if style == "tint":
        return _frozen(np.broadcast_to(np.array(MASK_RGBA, np.uint8), (1, patch, patch, 4)))
    if style == "outline":
        out = np.zeros((1, patch, patch, 4), np.uint8)
        ring = _ring(patch)
        out[0, ring == 0] = (*LIGHT_RGB, OUTLINE_ALPHA)
        out[0, ring == 1] = (*DARK_RGB, OUTLINE_ALPHA)
        return _frozen(out)
    if style == "hatch":
        out = np.empty((1, patch, patch, 4), np.uint8)
        out[0] = HATCH_FILL_RGBA
        out[0, light] = (*LIGHT_RGB, HATCH_STRIPE_ALPHA)
        out[0, dark] = (*DARK_RGB, HATCH_STRIPE_ALPHA)
        return _frozen(out)
    edge = _ring(patch) == 0
    out = np.empty((2, patch, patch, 4), np.uint8)
    out[0] = (*LIGHT_RGB, AUTO_ALPHA)
    out[0, edge] = (*DARK_RGB, AUTO_EDGE_ALPHA)
    out[1] = (*DARK_RGB, AUTO_ALPHA)
    out[1, edge] = (*LIGHT_RGB, AUTO_EDGE_ALPHA)
    return _frozen(out)


def _diagonal_stripes(patch: int) -> tuple[np.ndarray, np.ndarray]:
    """Two bool (patch, patch): light and dark anti-diagonal stripes, each a quarter of a
    period wide, half a period apart. A patch holds a whole number of periods, so the
    stripes run on unbroken across neighbouring patches."""
    periods = max(1, round(patch / HATCH_PERIOD))
    yy, xx = np.mgrid[0:patch, 0:patch]
    phase = ((xx + yy + 1) * periods / patch) % 1.0
    return phase < 0.25, (phase >= 0.5) & (phase < 0.75)


def _ring(patch: int) -> np.ndarray:
    """int (patch, patch): each pixel's distance in pixels from the patch's nearest edge."""
    i = np.arange(patch)
    d = np.minimum(i, patch - 1 - i)
    return np.minimum(d[:, None], d[None, :])


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def mask_outline(
    mask: np.ndarray, patch: int, rgba: tuple[int, int, int, int] = (255, 255, 255, 230)
) -> np.ndarray:
    """RGBA uint8 (gh*patch, gw*patch, 4): the boundary of the masked region, to draw over a
    per-patch map. Lines BOUNDARY_WIDTH px wide (1 px for patches under 8 px) run inside
    masked patches, along each edge they share with a visible patch or the image border;
    everything else is clear. mask: bool (gh, gw), True = masked."""
    gh, gw = mask.shape
    pad = np.pad(mask, 1, constant_values=False)
    # which edges of each patch are boundaries: bit 0 top, 1 bottom, 2 left, 3 right
    code = (
        (mask & ~pad[:-2, 1:-1]) * 1
        + (mask & ~pad[2:, 1:-1]) * 2
        + (mask & ~pad[1:-1, :-2]) * 4
        + (mask & ~pad[1:-1, 2:]) * 8
    )
    out = np.zeros((gh * patch, gw * patch, 4), np.uint8)
    cells = out.reshape(gh, patch, gw, patch, 4).transpose(0, 2, 1, 3, 4)
    edged = code > 0
    cells[edged] = _edge_cells(patch, tuple(int(v) for v in rgba))[code[edged]]
    return out


@functools.lru_cache(maxsize=8)
def _edge_cells(patch: int, rgba: tuple[int, int, int, int]) -> np.ndarray:
    """uint8 (16, patch, patch, 4): one patch's boundary lines for each 4-bit edge code."""
    w = BOUNDARY_WIDTH if patch >= 8 else 1
    out = np.zeros((16, patch, patch, 4), np.uint8)
    for code in range(16):
        if code & 1:
            out[code, :w] = rgba
        if code & 2:
            out[code, -w:] = rgba
        if code & 4:
            out[code, :, :w] = rgba
        if code & 8:
            out[code, :, -w:] = rgba
    return _frozen(out)


@functools.lru_cache(maxsize=8)
def _grid_lines(grid: tuple[int, int], patch: int, lines: bool) -> np.ndarray:
    out = np.zeros((grid[0] * patch, grid[1] * patch, 4), np.uint8)
    if lines:
        out[::patch, :] = GRID_RGBA
        out[:, ::patch] = GRID_RGBA
    out.setflags(write=False)
    return out


def heatmap_rgba(
    values: np.ndarray, patch: int, cmap: str = "inferno", hatch: bool = True
) -> np.ndarray:
    """Per-patch values (gh, gw) -> RGBA uint8 (gh*patch, gw*patch, 4) with pyqtgraph's
    colormap; NaN cells (absent) are grey with a diagonal hatch, never a colour of the map."""
    table = lut(cmap)
    t, finite = unit_range(values)
    rgb = table[np.round(t * 255).astype(np.int64)]
    rgba = np.concatenate([rgb, np.full((*values.shape, 1), 255, np.uint8)], axis=-1)
    rgba[~finite] = ABSENT_RGBA
    big = upsample_grid(rgba, patch)
    if hatch and not finite.all():
        stripes = _diagonals(big.shape[:2]) & upsample_grid(~finite, patch)
        big[stripes] = (40, 40, 48, 255)
    return big


@functools.lru_cache(maxsize=16)
def lut(cmap: str) -> np.ndarray:
    """pyqtgraph's colormap as a uint8 (256, 3) table (cached: drawn per result)."""
    lut = pg.colormap.get(cmap).getLookupTable(nPts=256, alpha=False)
    lut.setflags(write=False)
    return lut


@functools.lru_cache(maxsize=8)
def _diagonals(shape: tuple[int, int]) -> np.ndarray:
    """Bool (H, W): a diagonal hatch, every 8th anti-diagonal (cached: drawn per result)."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    out = (xx + yy) % 8 == 0
    out.setflags(write=False)
    return out
