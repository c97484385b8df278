"""Heatmaps and overlays (engine/render.py): what the error and attention panels and the
exported figures colour.

Guards: values are scaled by their finite min and max (NaN and infinities are marked absent
and do not stretch the scale; a constant map does not divide by zero); the lowest value gets
the colormap's first colour and the highest its last, as matplotlib's inferno and viridis
have them, and every value between the nearest of the colormap's 256 levels; absent cells
are dark grey; heatmaps are nearest-neighbour per patch; overlays blend with the chosen
alpha and show absent cells as the image dimmed to 35%.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mae_desktop.engine.render import colorize, heatmap, overlay, unit_range

NAN = float("nan")
DARK_GREY = (0.18, 0.18, 0.18)  # what an absent cell shows


def mpl(cmap: str, t: float) -> np.ndarray:
    return np.asarray(matplotlib.colormaps[cmap](t)[:3])


def test_unit_range_by_hand() -> None:
    t, finite = unit_range(np.array([[2.0, 4.0], [6.0, NAN]]))
    np.testing.assert_allclose(t, [[0.0, 0.5], [1.0, 0.0]])
    assert finite.tolist() == [[True, True], [True, False]]


def test_absent_cells_scale_to_zero_also_below_a_negative_minimum() -> None:
    t, finite = unit_range(np.array([[-4.0, NAN, 4.0]]))
    np.testing.assert_allclose(t, [[0.0, 0.0, 1.0]])
    assert finite.tolist() == [[True, False, True]]


def test_infinities_are_absent_and_do_not_stretch_the_scale() -> None:
    t, finite = unit_range(np.array([[1.0, 3.0, np.inf, -np.inf]]))
    np.testing.assert_allclose(t[0, :2], [0.0, 1.0])
    assert finite.tolist() == [[True, True, False, False]]
    assert ((t >= 0.0) & (t <= 1.0)).all()


def test_a_constant_map_and_an_all_absent_map_scale_to_zero() -> None:
    t, finite = unit_range(np.full((2, 3), 7.5))
    np.testing.assert_array_equal(t, np.zeros((2, 3)))
    assert finite.all()
    t, finite = unit_range(np.full((2, 2), NAN))
    np.testing.assert_array_equal(t, np.zeros((2, 2)))
    assert not finite.any()


def test_a_tiny_range_is_still_stretched_to_0_1() -> None:
    t, _ = unit_range(np.array([[1.0, 1.0 + 1e-9]]))
    np.testing.assert_allclose(t, [[0.0, 1.0]], atol=1e-6)


@pytest.mark.parametrize("cmap", ["inferno", "viridis"])
def test_lowest_middle_and_highest_values_get_matplotlibs_colours(cmap: str) -> None:
    rgb = colorize(np.array([[10.0, 15.0, 20.0]]), cmap)
    assert rgb.shape == (1, 3, 3) and rgb.dtype == np.float32
    for i, t in enumerate((0.0, 0.5, 1.0)):
        np.testing.assert_allclose(rgb[0, i], mpl(cmap, t), atol=2e-3)


def test_the_default_colormap_is_inferno() -> None:
    values = np.array([[0.0, 1.0]])
    np.testing.assert_array_equal(colorize(values), colorize(values, "inferno"))
    assert not np.allclose(colorize(values), colorize(values, "viridis"))


@settings(max_examples=40, deadline=None)
@given(cmap=st.sampled_from(["inferno", "viridis"]), t=st.floats(0.0, 1.0))
def test_every_value_gets_the_nearest_of_matplotlibs_256_levels(cmap: str, t: float) -> None:
    # values 0 and 1 pin the scale, so a value's colour is the colour of t = value
    rgb = colorize(np.array([[0.0, 1.0, t]]), cmap)
    level = int(np.floor(t * 255 + 0.5))
    lut = np.asarray(matplotlib.colormaps[cmap](level)[:3])  # an int indexes the 256-entry LUT
    np.testing.assert_allclose(rgb[0, 2], lut, atol=1e-6)


def test_absent_cells_are_dark_grey_and_present_ones_are_not() -> None:
    rgb = colorize(np.array([[NAN, 0.0], [1.0, np.inf]]))
    np.testing.assert_allclose(rgb[0, 0], DARK_GREY, atol=1e-6)
    np.testing.assert_allclose(rgb[1, 1], DARK_GREY, atol=1e-6)
    np.testing.assert_allclose(rgb[0, 1], mpl("inferno", 0.0), atol=2e-3)
    np.testing.assert_allclose(rgb[1, 0], mpl("inferno", 1.0), atol=2e-3)


def test_heatmap_is_nearest_neighbour_per_patch() -> None:
    out = heatmap(np.array([[0.0, 1.0], [1.0, NAN]]), patch=3)
    assert out.shape == (6, 6, 3) and out.dtype == np.float32
    cells = {
        (0, 0): mpl("inferno", 0.0),
        (0, 1): mpl("inferno", 1.0),
        (1, 0): mpl("inferno", 1.0),
        (1, 1): np.array(DARK_GREY),
    }
    for (r, c), colour in cells.items():
        block = out[3 * r : 3 * r + 3, 3 * c : 3 * c + 3].reshape(-1, 3)
        np.testing.assert_allclose(block, np.broadcast_to(colour, block.shape), atol=2e-3)


def test_heatmap_takes_the_colormap() -> None:
    out = heatmap(np.array([[0.0, 1.0]]), patch=1, cmap="viridis")
    np.testing.assert_allclose(out[0, 0], mpl("viridis", 0.0), atol=2e-3)


def test_overlay_blends_and_dims_absent_cells_by_hand() -> None:
    image = np.empty((2, 4, 3), dtype=np.float32)
    image[:, :2] = (0.2, 0.4, 0.6)
    image[:, 2:] = (1.0, 0.5, 0.0)
    values = np.array([[0.0, NAN]])
    out = overlay(image, values, patch=2)  # default alpha 0.6
    assert out.shape == image.shape and out.dtype == np.float32
    left = 0.4 * np.array([0.2, 0.4, 0.6]) + 0.6 * mpl("inferno", 0.0)
    np.testing.assert_allclose(out[:, :2].reshape(-1, 3), np.tile(left, (4, 1)), atol=2e-3)
    np.testing.assert_allclose(out[:, 2:].reshape(-1, 3), np.tile([0.35, 0.175, 0.0], (4, 1)))


def test_overlay_takes_alpha_and_colormap() -> None:
    image = np.full((1, 2, 3), 0.5, dtype=np.float32)
    out = overlay(image, np.array([[0.0, 1.0]]), patch=1, alpha=0.25, cmap="viridis")
    for i, t in enumerate((0.0, 1.0)):
        np.testing.assert_allclose(out[0, i], 0.75 * 0.5 + 0.25 * mpl("viridis", t), atol=2e-3)
