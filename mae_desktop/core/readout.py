"""The linked cursor's readout: what every panel shows at the patch under the pointer, in
one line (Qt-free; the window places the outlines and shows the text)."""

from __future__ import annotations

import numpy as np

from ..engine.reconstruction import Reconstruction


def _rgb(image: np.ndarray, x: int, y: int) -> str:
    """float (H, W, 3) in [0, 1] -> 'R G B' in 0-255 at pixel (x, y)."""
    r, g, b = (np.clip(image[y, x], 0.0, 1.0) * 255.0 + 0.5).astype(int)
    return f"{r} {g} {b}"


def patch_readout(
    pixel: tuple[float, float],
    patch: int,
    mask: np.ndarray,
    image: np.ndarray | None,
    rec: Reconstruction | None = None,
    attention: np.ndarray | None = None,
) -> str:
    """One line for the patch under image pixel (x, y): grid position (rows and columns
    count from 1), masked or visible, the patch's error and attention weight, and the pixel's
    value in the image and the reconstruction. '' outside the image.

    mask: bool (gh, gw) as shown; image: float (H, W, 3) in [0, 1]; attention: float
    (gh, gw) as shown (NaN = no token); rec: the reconstruction on screen."""
    gh, gw = mask.shape
    x, y = int(np.floor(pixel[0])), int(np.floor(pixel[1]))
    row, col = y // patch, x // patch
    if x < 0 or y < 0 or row >= gh or col >= gw:
        return ""
    parts = [
        f"row {row + 1}, col {col + 1} of {gh}×{gw}",
        "masked" if mask[row, col] else "visible",
    ]
    if rec is not None:
        err = float(rec.patch_error[row, col])
        parts.append(f"error {err:.4f}" if np.isfinite(err) else "error n/a")
    if attention is not None:
        weight = float(attention[row, col])
        parts.append(f"attention {weight:.4f}" if np.isfinite(weight) else "attention: no token")
    if image is not None:
        pixel_text = f"pixel ({x + 1}, {y + 1}) RGB {_rgb(image, x, y)}"
        if rec is not None:
            pixel_text += f" → reconstruction {_rgb(rec.viewable()[0], x, y)}"
        parts.append(pixel_text)
    return " · ".join(parts)
