"""The linked cursor's readout (core/readout.py): the one line the status bar shows for the
patch under the pointer.

Guards: the grid position counts from 1 and is the patch under the pixel (floor, also for
fractional and negative coordinates); nothing is shown outside the image on any side;
masked/visible follows the mask as shown; the patch error and attention weight have four
decimals and say so when undefined; pixel values are 0-255 rounded to nearest and clipped;
the reconstruction's value is the prediction's, as its panel shows it (stretched in mode
'raw'), not the composite's.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mae_desktop.core.readout import patch_readout
from mae_desktop.engine.reconstruction import Reconstruction

PATCH = 4
GRID = (2, 3)  # 2 rows, 3 columns: an 8 x 12 pixel image
H, W = GRID[0] * PATCH, GRID[1] * PATCH
MASK = np.array([[False, True, False], [True, False, False]])


def rec(mode: str = "plain") -> Reconstruction:
    prediction = np.zeros((H, W, 3), dtype=np.float32)
    prediction[..., 0] = 0.3
    prediction[..., 1] = 1.5  # clipped to 255
    prediction[..., 2] = -0.2  # clipped to 0
    composite = np.full((H, W, 3), 0.9, dtype=np.float32)  # differs from the prediction
    error = np.arange(6, dtype=np.float32).reshape(GRID) / 7.0
    error[1, 2] = np.nan
    return Reconstruction(
        image=np.zeros((H, W, 3), np.float32),
        mask=MASK,
        prediction=prediction,
        composite=composite,
        patch_error=error,
        loss=None,
        masked_mse=None,
        masked_psnr=None,
        mode=mode,
        target="pixels",
    )


def image() -> np.ndarray:
    img = np.zeros((H, W, 3), dtype=np.float32)
    img[..., 0] = np.arange(W)[None, :] / (W - 1)  # red grows to the right
    img[..., 1] = 0.5  # 127.5 -> 128
    img[..., 2] = 1.0
    return img


def test_position_and_state_count_from_one() -> None:
    assert patch_readout((5.7, 2.2), PATCH, MASK, None) == "row 1, col 2 of 2×3 · masked"
    assert patch_readout((0.0, 0.0), PATCH, MASK, None) == "row 1, col 1 of 2×3 · visible"
    assert patch_readout((11.99, 7.99), PATCH, MASK, None) == "row 2, col 3 of 2×3 · visible"
    assert patch_readout((0.5, 4.0), PATCH, MASK, None) == "row 2, col 1 of 2×3 · masked"


@pytest.mark.parametrize(
    "pixel",
    [(-0.5, 2.0), (2.0, -0.01), (-3.0, -3.0), (12.0, 0.0), (0.0, 8.0), (40.0, 40.0)],
)
def test_nothing_outside_the_image(pixel: tuple[float, float]) -> None:
    assert patch_readout(pixel, PATCH, MASK, image(), rec(), np.ones(GRID)) == ""


def test_error_and_attention_have_four_decimals_or_say_why_not() -> None:
    attention = np.full(GRID, 0.123456)
    attention[0, 0] = np.nan
    line = patch_readout((5.0, 1.0), PATCH, MASK, None, rec(), attention)
    assert line == "row 1, col 2 of 2×3 · masked · error 0.1429 · attention 0.1235"
    line = patch_readout((9.0, 5.0), PATCH, MASK, None, rec(), attention)
    assert line == "row 2, col 3 of 2×3 · visible · error n/a · attention 0.1235"
    line = patch_readout((1.0, 1.0), PATCH, MASK, None, None, attention)
    assert line == "row 1, col 1 of 2×3 · visible · attention: no token"


def test_pixel_values_are_rounded_and_clipped_0_255() -> None:
    # pixel x = 6: red = 6 / 11 * 255 = 139.09 -> 139; green 127.5 -> 128; blue 255
    line = patch_readout((6.9, 3.5), PATCH, MASK, image(), rec())
    assert line == (
        "row 1, col 2 of 2×3 · masked · error 0.1429 · "
        "pixel (7, 4) RGB 139 128 255 → reconstruction 77 255 0"
    )
    assert patch_readout((11.0, 0.0), PATCH, MASK, image()) == (
        "row 1, col 3 of 2×3 · visible · pixel (12, 1) RGB 255 128 255"
    )


def test_the_reconstruction_value_is_the_one_on_screen_in_raw_mode() -> None:
    # raw: the prediction stretched by the composite's min/max to [0, 1]
    raw = rec("raw")
    raw.composite[0, 0] = (-0.2, 1.5, 0.0)  # min -0.2, max 1.5
    r = 75  # (0.3 + 0.2) / 1.7 * 255 = 75.0
    line = patch_readout((0.0, 0.0), PATCH, MASK, image(), raw)
    assert line.endswith(f"RGB 0 128 255 → reconstruction {r} 255 0")


def test_every_field_of_a_reconstruction_it_reads_is_the_one_given() -> None:
    # the readout takes the error from the reconstruction, not from elsewhere
    base = rec()
    other = dataclasses.replace(base, patch_error=np.full(GRID, 0.5, np.float32))
    assert "error 0.5000" in patch_readout((1.0, 1.0), PATCH, MASK, None, other)
    assert "error 0.0000" in patch_readout((1.0, 1.0), PATCH, MASK, None, base)
