"""Reading photographs and fitting them to a model's input size.

Images in the engine are float32 (H, W, 3) RGB in [0, 1]. Resizing is done on the 8-bit image
with Pillow's bicubic filter, as the official demo and Hugging Face's processor do, so the
same photo gives the same input tensor as the reference code.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import MAEError
from .files import atomic_write, regular_file

RESIZE_POLICIES = ("stretch", "center-crop", "pad")

# Pillow warns above MAX_IMAGE_PIXELS and errors above twice that; we refuse at the warning.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485

# The only decoders Pillow may use, chosen by the file's content (never its name): Pillow
# would otherwise try every plugin it has, PostScript through Ghostscript among them (an EPS
# named .png is run by an external program). PPM covers PBM/PGM/PNM too.
TRUSTED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")
ROWS_AT_ONCE = 512  # high-bit-depth images are converted this many rows at a time


def _to_grey8(arr: np.ndarray, mode: str) -> np.ndarray:
    """A 16/32-bit integer or float greyscale array (H, W) -> uint8 (H, W), scaled to 8 bits
    (I;16: /65535, I: /65535 above 255 else /255, F: /1 when <= 1 else /255), rounded, in
    blocks of ROWS_AT_ONCE rows: no full-size float64 temporary (a 9000 x 9000 16-bit scan
    would need 650 MB for one)."""
    if mode == "F":
        top = 1.0 if arr.max(initial=0.0) <= 1.0 else 255.0
    elif mode.startswith("I;16") or arr.max(initial=0) > 255:
        top = 65535.0
    else:
        top = 255.0
    out = np.empty(arr.shape, dtype=np.uint8)
    for r in range(0, arr.shape[0], ROWS_AT_ONCE):
        block = arr[r : r + ROWS_AT_ONCE].astype(np.float64) * (255.0 / top)
        out[r : r + ROWS_AT_ONCE] = np.clip(np.round(block), 0, 255)
    return out


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB.

    Transparent images are composited over white (what a viewer shows); 16/32-bit integer and
    float greyscale are scaled to 8 bits, not clipped.
    """
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return Image.fromarray(_to_grey8(np.asarray(img), img.mode)).convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


@contextmanager
def open_image(path: Path, what: str = "image") -> Iterator[Image.Image]:
    """Pillow's Image.open on an ordinary file, refusing decompression bombs (more than
    MAX_PIXELS pixels) before the pixels are decoded; the image is loaded. Every way a
    damaged or hostile file can fail, Pillow's plugins raise many kinds of exception, is an
    MAEError naming the file. `what` names the file in messages ('image', 'mask')."""
    path = regular_file(path, what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=TRUSTED_FORMATS) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise MAEError(
                        f"{what} {path.name} is {im.width}x{im.height} pixels, more than the "
                        f"{MAX_PIXELS:,} allowed (a possible decompression bomb)"
                    )
                if im.width < 1 or im.height < 1:
                    raise MAEError(f"{what} {path.name} has no pixels ({im.width}x{im.height})")
                im.load()
                yield im
    except MAEError:
        raise
    except UnidentifiedImageError as exc:
        raise MAEError(
            f"cannot read {what} {path.name}: not an image of a kind MAE Desktop reads "
            f"({', '.join(TRUSTED_FORMATS)})"
        ) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)):,} pixels, " if found else ""
        raise MAEError(
            f"{what} {path.name} is too large to open safely: {size}more than the "
            f"{MAX_PIXELS:,} allowed (a possible decompression bomb)"
        ) from exc
    except MemoryError as exc:
        raise MAEError(f"{what} {path.name} needs more memory than there is to decode") from exc
    except Exception as exc:  # Pillow's decoders raise many kinds on bad files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MAEError(f"cannot read {what} {path.name}: {reason}") from exc


def read_image(path: str | Path) -> Image.Image:
    """Open a PNG, JPEG, BMP, GIF, TIFF, WebP or PPM image (TRUSTED_FORMATS, known by its
    content), apply its EXIF orientation, return 8-bit RGB.

    Raises MAEError for missing, non-image, truncated and oversized (decompression bomb)
    files, and for anything that is not an ordinary file (a pipe, a device).
    """
    path = Path(path)
    with open_image(path) as im:
        try:
            img = ImageOps.exif_transpose(im)
            return to_rgb(img)
        except MemoryError as exc:
            raise MAEError(f"image {path.name} needs more memory than there is") from exc
        except Exception as exc:  # a damaged EXIF block or palette
            raise MAEError(f"cannot read image {path.name}: {exc}") from exc


def fit_image(
    img: Image.Image,
    size: tuple[int, int],
    policy: str = "stretch",
    pad_rgb: tuple[float, float, float] = (0.5, 0.5, 0.5),
) -> np.ndarray:
    """Fit an RGB image to size=(H, W) -> float32 (H, W, 3) in [0, 1].

    stretch: squash to the size (bicubic); center-crop: scale the short side, crop the middle;
    pad: scale the long side, pad the rest with pad_rgb (the model's mean colour by default in
    the callers). An image already at the size is used pixel for pixel.
    """
    if policy not in RESIZE_POLICIES:
        raise MAEError(f"unknown resize policy {policy!r}; known: {', '.join(RESIZE_POLICIES)}")
    h, w = size
    img = to_rgb(img)
    if img.size != (w, h):
        if policy == "stretch":
            img = img.resize((w, h), Image.Resampling.BICUBIC)
        elif policy == "center-crop":
            img = ImageOps.fit(img, (w, h), Image.Resampling.BICUBIC)
        else:
            fill = tuple(int(round(c * 255)) for c in pad_rgb)
            img = ImageOps.pad(img, (w, h), Image.Resampling.BICUBIC, color=fill)
    return np.asarray(img, dtype=np.float32) / 255.0


def load_image(
    path: str | Path,
    size: tuple[int, int],
    policy: str = "stretch",
    pad_rgb: tuple[float, float, float] = (0.5, 0.5, 0.5),
) -> np.ndarray:
    """read_image + fit_image: a file -> float32 (H, W, 3) in [0, 1] at the model size."""
    return fit_image(read_image(path), size, policy, pad_rgb)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float (H, W, 3) in [0, 1] (clipped) -> uint8."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_png(path: str | Path, image: np.ndarray) -> None:
    """Save float (H, W, 3) in [0, 1] (clipped) as an 8-bit PNG, whole or not at all
    (MAEError naming the file)."""
    with atomic_write(path, "image") as tmp:
        Image.fromarray(to_uint8(image)).save(tmp, format="PNG")
