"""Mask generators and mask files. A mask is bool (grid_h, grid_w), True = masked.

Every generator draws from its own numpy Generator seeded by the caller, on the CPU, so the
same seed gives the same mask on every device and platform.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import MAEError
from .files import atomic_write, regular_file
from .patches import upsample_grid

Grid = tuple[int, int]

MASK_MODES = ("random", "block", "grid", "coarse", "center")


def masked_count(grid: Grid, ratio: float) -> int:
    """Number of masked patches for a ratio in [0, 1]: round(ratio * N), exactly."""
    if not 0.0 <= ratio <= 1.0:
        raise MAEError(f"mask ratio must be between 0 and 1, got {ratio}")
    return int(round(ratio * grid[0] * grid[1]))


def random_mask(grid: Grid, ratio: float, seed: int = 0) -> np.ndarray:
    """Uniformly random mask with exactly round(ratio * N) masked patches."""
    n = grid[0] * grid[1]
    k = masked_count(grid, ratio)
    order = np.random.default_rng(seed).permutation(n)
    mask = np.zeros(n, dtype=bool)
    mask[order[:k]] = True
    return mask.reshape(grid)


def block_mask(
    grid: Grid,
    num_masked: int,
    seed: int = 0,
    min_block: int = 4,
    max_block: int | None = None,
    min_aspect: float = 0.3,
    max_aspect: float | None = None,
) -> np.ndarray:
    """BEiT-style block-wise mask: rectangles of random area and aspect until ~num_masked.

    Each block covers min_block..max_block patches with an aspect ratio (h/w) drawn
    log-uniformly from [min_aspect, max_aspect] (default 1/min_aspect). Like BEiT, a block is
    kept only if it adds at least one and at most the still-missing number of patches, so the
    count never overshoots; it can fall short when no block fits after many tries.
    """
    gh, gw = grid
    n = gh * gw
    if not 0 <= num_masked <= n:
        raise MAEError(f"block mask: number of patches must be 0..{n}, got {num_masked}")
    if min_block < 1 or min_aspect <= 0:
        raise MAEError("block mask: min block must be >= 1 and min aspect > 0")
    rng = np.random.default_rng(seed)
    max_block = max_block or num_masked
    max_aspect = max_aspect or 1.0 / min_aspect
    log_lo, log_hi = math.log(min_aspect), math.log(max_aspect)
    mask = np.zeros(grid, dtype=bool)
    count, failures = 0, 0
    while count < num_masked and failures < 50:
        missing = num_masked - count
        hi = min(missing, max_block)
        added = 0
        for _ in range(10):
            area = rng.uniform(min(min_block, hi), max(min_block, hi))
            aspect = math.exp(rng.uniform(log_lo, log_hi))
            h = int(round(math.sqrt(area * aspect)))
            w = int(round(math.sqrt(area / aspect)))
            if not (1 <= h <= gh and 1 <= w <= gw):
                continue
            top = int(rng.integers(0, gh - h + 1))
            left = int(rng.integers(0, gw - w + 1))
            region = mask[top : top + h, left : left + w]
            new = int((~region).sum())
            if 0 < new <= missing:
                region[:] = True
                added = new
                break
        if added:
            count += added
        else:
            failures += 1
    return mask


def grid_mask(grid: Grid, stride: int = 2) -> np.ndarray:
    """Regular mask: one visible patch (top-left) per stride x stride cell (75% for 2)."""
    rows = np.arange(grid[0])[:, None] % stride == 0
    cols = np.arange(grid[1])[None, :] % stride == 0
    return ~(rows & cols)


def coarse_mask(grid: Grid, ratio: float, seed: int = 0, block: int = 2) -> np.ndarray:
    """SimMIM-style mask: random masking on a coarser grid of block x block patch cells."""
    if block < 1:
        raise MAEError(f"coarse mask: block size must be >= 1, got {block}")
    cg = (math.ceil(grid[0] / block), math.ceil(grid[1] / block))
    coarse = random_mask(cg, ratio, seed)
    fine = upsample_grid(coarse, block)
    return fine[: grid[0], : grid[1]].copy()


def center_mask(grid: Grid, ratio: float) -> np.ndarray:
    """A centred box covering about ratio of the grid (same shape as the grid)."""
    masked_count(grid, ratio)  # validates the ratio
    gh, gw = grid
    h = min(gh, int(round(gh * math.sqrt(ratio))))
    w = min(gw, int(round(gw * math.sqrt(ratio))))
    mask = np.zeros(grid, dtype=bool)
    top, left = (gh - h) // 2, (gw - w) // 2
    mask[top : top + h, left : left + w] = True
    return mask


def generate(mode: str, grid: Grid, ratio: float = 0.75, seed: int = 0) -> np.ndarray:
    """One entry point for the generators; `ratio` sets the masked share where it applies.

    random: exactly round(ratio*N); block: BEiT blocks up to round(ratio*N); grid: one visible
    per 2x2 (75%, ratio ignored); coarse: 2x2-patch cells; center: a centred box.
    Returns bool (grid), True = masked; describe_generation says when its masked share is not
    the ratio.
    """
    if mode == "random":
        return random_mask(grid, ratio, seed)
    if mode == "block":
        return block_mask(grid, masked_count(grid, ratio), seed)
    if mode == "grid":
        return grid_mask(grid)
    if mode == "coarse":
        return coarse_mask(grid, ratio, seed)
    if mode == "center":
        return center_mask(grid, ratio)
    raise MAEError(f"unknown mask mode {mode!r}; known: {', '.join(MASK_MODES)}")


# why a generator's count can differ from round(ratio * N), in words for the note below
_SHORTFALL = {
    "block": "its rectangles could not fill the requested count exactly",
    "coarse": "it masks whole 2x2-patch cells",
    "center": "it masks a centred box of whole patches",
}


def describe_generation(
    mode: str,
    grid: Grid,
    ratio: float,
    mask: np.ndarray | None = None,
    seed: int = 0,
    ratio_label: str | None = None,
) -> str | None:
    """A note when the generated mask's masked share is not the requested ratio, else None.

    mask: the bool (grid) mask that generate(mode, grid, ratio, seed) gave (drawn here when
    None). The note is returned only when the masked count is more than half a patch away from
    ratio * N, so 'random' never gets one and 'grid' gets one whenever the ratio is not its
    fixed share. ratio_label names the request in the note (default 'ratio 0.5'; the command
    line passes '--mask-ratio 0.5'). Example: 'the grid generator keeps one patch of every 2x2
    cell visible: it masks 75.0% (147 of 196 patches); --mask-ratio 0.5 was ignored'.
    """
    if mask is None:
        mask = generate(mode, grid, ratio, seed)
    n, k = mask.size, int(mask.sum())
    label = ratio_label or f"ratio {ratio:g}"
    # half a patch, with room for float error in ratio * n (0.75 * 196 is exact, 0.29 * 100 not)
    if abs(k - ratio * n) <= 0.5 + 1e-9:
        return None
    share = f"{100.0 * k / n:.1f}% ({k} of {n} patches)"
    if mode == "grid":
        return (
            f"the grid generator keeps one patch of every 2x2 cell visible: it masks {share}; "
            f"{label} was ignored"
        )
    reason = _SHORTFALL.get(mode, "that is how it draws masks")
    return f"the {mode} generator masks {share} for {label}: {reason}"


def invert(mask: np.ndarray) -> np.ndarray:
    return ~mask


def clear(grid: Grid) -> np.ndarray:
    return np.zeros(grid, dtype=bool)


def mask_all(grid: Grid) -> np.ndarray:
    return np.ones(grid, dtype=bool)


def describe(mask: np.ndarray) -> str:
    """'147 / 196 masked (75.0%)'."""
    n, k = mask.size, int(mask.sum())
    return f"{k} / {n} masked ({100.0 * k / n:.1f}%)"


def _reduce_to_grid(values: np.ndarray, grid: Grid, what: str) -> np.ndarray:
    """(H, W) 0/1 values -> (grid) bool by majority per patch, if H, W are multiples of grid."""
    h, w = values.shape
    gh, gw = grid
    if h < 1 or w < 1:
        raise MAEError(f"{what} is empty ({w}x{h}); expected the patch grid ({gw}x{gh})")
    if (h, w) == (gh, gw):
        return values > 0.5
    if h % gh or w % gw or h // gh != w // gw:
        raise MAEError(
            f"{what} is {w}x{h}; expected the patch grid ({gw}x{gh}) or an image of "
            f"{gw}x{gh} equal patches (e.g. {gw * 16}x{gh * 16})"
        )
    p = h // gh
    return values.reshape(gh, p, gw, p).mean(axis=(1, 3)) > 0.5


# A mask image pixel is black (visible) at or below NEAR_BLACK and white (masked) at or above
# NEAR_WHITE, on 0..255: the slack absorbs the few levels that resampling or a soft brush edge
# leaves behind, while a photo, a greyscale gradient or a colour picture is refused.
NEAR_BLACK = 8
NEAR_WHITE = 247
# an RGB pixel counts as grey when its channels are this close (same slack as above)
GREY_SPREAD = 8


def _image_mask_pixels(path: Path) -> np.ndarray:
    """bool (H, W) pixels of a black-and-white mask image, True = white = masked.

    Accepted: 1-bit; 8-bit greyscale, palette or RGB(A) (alpha ignored) whose pixels are all
    near black (<= NEAR_BLACK) or near white (>= NEAR_WHITE) grey (16-bit greyscale: the same
    on 0..65535), white masked; or any of these with exactly two grey levels (e.g. 0 and 1 from
    an array saved as is), the brighter one masked. Anything else raises MAEError naming the
    file.
    """
    from .images import open_image

    name = path.name
    scale = 1  # 8-bit levels
    try:
        with open_image(path, "mask") as im:
            mode = im.mode
            if mode == "1":
                return np.asarray(im, dtype=bool).copy()
            if mode in ("L", "LA"):
                grey = np.asarray(im.getchannel("L"), dtype=np.int64)
            elif mode in ("P", "PA", "RGB", "RGBA", "RGBX"):
                rgb = np.asarray(im.convert("RGB"), dtype=np.int64)
                spread = rgb.max(axis=2) - rgb.min(axis=2)
                if (spread > GREY_SPREAD).any():
                    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
                    colours = len(np.unique(packed))
                    raise MAEError(
                        f"mask image {name} is not black and white: {colours} distinct "
                        "colours; a mask has white = masked, black = visible"
                    )
                grey = rgb.max(axis=2)
            elif mode in ("I", "I;16", "I;16B", "I;16L"):
                # 16-bit greyscale: the same rule on 0..65535 (257 = 65535 / 255)
                grey = np.asarray(im, dtype=np.int64)
                scale = 257
            else:
                raise MAEError(
                    f"mask image {name} has pixel mode {mode}; save it as a black-and-white "
                    "(1-bit, greyscale or RGB) PNG, white = masked, black = visible"
                )
    except (OSError, ValueError) as exc:
        raise MAEError(f"cannot read mask {name}: {exc}") from exc
    black, white = grey <= NEAR_BLACK * scale, grey >= NEAR_WHITE * scale
    levels = np.unique(grey)
    # two levels that are not one black and one white (0/1 from an array saved as is, 0/128)
    # are still unambiguous: the brighter is masked
    if len(levels) == 2 and not (black.any() and white.any()):
        return grey == levels[1]
    if (black | white).all():
        return white
    count = f"{len(levels)} distinct grey levels" if len(levels) > 1 else "one mid-grey level"
    raise MAEError(
        f"mask image {name} is not black and white: {count}; "
        "a mask has white = masked, black = visible"
    )


# The largest mask file read: each side at most this many cells or pixels, and no more
# values than an image may have pixels (images.MAX_PIXELS)
MAX_MASK_SIDE = 16384


def _read_npy(path: Path) -> np.ndarray:
    """A 2-D bool or numeric array from a .npy file. The header is read and checked (shape,
    type, that the file holds the data) before any data is, so a header that claims
    10^5 x 10^5 values is refused instead of allocated."""
    from .images import MAX_PIXELS

    name = path.name
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            data_at = fh.tell()
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MAEError(f"cannot read mask {name}: not a plain .npy array ({reason})") from exc
    if dtype.hasobject or not (dtype.kind == "b" or np.issubdtype(dtype, np.number)):
        raise MAEError(
            f"cannot read mask {name}: not a plain .npy array (it holds {dtype} values); "
            "expected a 2-D bool array (True = masked)"
        )
    if len(shape) != 2:
        raise MAEError(
            f"mask {name} holds a {dtype} array of shape {shape}; "
            "expected a 2-D bool array (True = masked)"
        )
    h, w = shape
    if h < 1 or w < 1:
        raise MAEError(f"mask {name} is empty ({w}x{h}); a mask has one value per patch or pixel")
    if max(h, w) > MAX_MASK_SIDE or h * w > MAX_PIXELS:
        raise MAEError(
            f"mask {name} claims {w}x{h} values, more than any mask can need (at most "
            f"{MAX_MASK_SIDE} a side and {MAX_PIXELS:,} in all)"
        )
    if path.stat().st_size < data_at + h * w * dtype.itemsize:
        raise MAEError(f"cannot read mask {name}: the file is shorter than its header says")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, MemoryError) as exc:
        raise MAEError(f"cannot read mask {name}: not a plain .npy array ({exc})") from exc
    return arr


def load_mask(path: str | Path, grid: Grid) -> np.ndarray:
    """Read a .npy or .png mask for the given grid; returns bool (grid), True = masked.

    .npy: a 2-D bool array, or numbers that are all 0 or 1. .png: a black-and-white image,
    white = masked (see _image_mask_pixels for what counts as black and white). Grid-sized
    masks are taken as they are; image-sized ones (a whole number of pixels per patch) are
    reduced by majority vote per patch.
    """
    path = regular_file(path, "mask file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        arr = _read_npy(path)
        if arr.dtype != bool:
            bad = arr[~np.isin(arr, (0, 1))]
            if bad.size:
                raise MAEError(
                    f"mask {path.name} holds values other than 0 and 1 ({bad.size} of "
                    f"{arr.size}, e.g. {bad.flat[0]:g}); a mask is bool or 0/1, 1 = masked"
                )
        return _reduce_to_grid(arr.astype(np.float32), grid, f"mask {path.name}")
    if suffix == ".png":
        pixels = _image_mask_pixels(path)
        return _reduce_to_grid(pixels.astype(np.float32), grid, f"mask {path.name}")
    raise MAEError(f"unsupported mask file {path.name}: use .npy or .png")


def save_mask(path: str | Path, mask: np.ndarray, patch: int | None = None) -> None:
    """Write a mask as .npy (grid bool) or .png (white = masked; image-sized if patch given)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".png"):
        raise MAEError(f"unsupported mask file {path.name}: use .npy or .png")
    with atomic_write(path, "mask") as tmp:  # whole or not at all
        if suffix == ".npy":
            with open(tmp, "wb") as fh:  # np.save(path) would write mask.NPY.npy for mask.NPY
                np.save(fh, mask.astype(bool))
        else:
            img = mask.astype(np.uint8) * 255
            if patch:
                img = upsample_grid(img, patch)
            Image.fromarray(img).save(tmp, format="PNG")
