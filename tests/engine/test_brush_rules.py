"""Brush rules the other brush tests leave open (engine/brush.py): how far back undo reaches
(200 steps by default, as many as asked otherwise, the oldest forgotten first); the words
for an unknown brush shape; strokes that run along, start on, end on or only touch the
image's edges paint the patches pixel_to_patch gives for their points inside the image,
and a clipped stroke ends in the patch under the pointer."""

from __future__ import annotations

import numpy as np
import pytest

from mae_desktop.engine.brush import MaskHistory, footprint, pixel_to_patch, segment_cells


def numbered(i: int) -> np.ndarray:
    """A distinct (4, 4) mask for each i < 2**16: the bits of i."""
    return np.array([(i >> b) & 1 for b in range(16)], bool).reshape(4, 4)


@pytest.mark.parametrize("limit", [None, 3, 1])
def test_undo_reaches_back_exactly_limit_steps(limit: int | None) -> None:
    steps = 200 if limit is None else limit
    h = MaskHistory(numbered(0)) if limit is None else MaskHistory(numbered(0), limit)
    for i in range(1, steps + 2):  # one step more than is kept
        assert h.push(numbered(i))
    seen = [h.undo() for _ in range(steps)]
    for k, mask in enumerate(seen):
        np.testing.assert_array_equal(mask, numbered(steps - k))
    assert h.undo() is None  # numbered(0), the oldest, was forgotten
    assert not h.can_undo
    np.testing.assert_array_equal(h.current, numbered(1))


def test_an_unknown_brush_shape_is_named() -> None:
    with pytest.raises(ValueError, match="unknown brush shape 'star'"):
        footprint((0, 0), 1, "star", (3, 3))


# -- strokes at the image's edges (segment_cells), 3 x 3 patches of 4 pixels -------------------
G3, P4 = (3, 3), 4


@pytest.mark.parametrize(
    ("p0", "p1", "cells"),
    [
        ((0.0, 1.0), (0.0, 11.0), [(0, 0), (1, 0), (2, 0)]),  # along the left edge line
        ((0.5, 1.0), (0.5, 11.0), [(0, 0), (1, 0), (2, 0)]),  # half a pixel inside it
        ((1.0, 0.0), (11.0, 0.0), [(0, 0), (0, 1), (0, 2)]),  # along the top edge line
    ],
)
def test_a_stroke_along_the_left_or_top_edge_paints_the_first_column_or_row(p0, p1, cells) -> None:
    # pixel column 0 and row 0 are inside the image (pixel_to_patch maps them to patches)
    assert pixel_to_patch(*p0, P4, G3) is not None
    assert segment_cells(p0, p1, P4, G3) == cells


def test_a_stroke_touching_only_the_top_left_corner_paints_that_patch() -> None:
    assert segment_cells((-4.0, 4.0), (4.0, -4.0), P4, G3) == [(0, 0)]


def test_a_stroke_entering_the_image_at_its_last_point_paints_only_that_patch() -> None:
    # from outside on the left to (0, 8): the one point inside is in patch row 2, column 0
    assert pixel_to_patch(0.0, 8.0, P4, G3) == (2, 0)
    assert segment_cells((-8.0, 0.0), (0.0, 8.0), P4, G3) == [(2, 0)]


@pytest.mark.parametrize(
    ("p0", "p1", "cells"),
    [
        ((2.0, 12.0), (2.0, 1.0), [(2, 0), (1, 0), (0, 0)]),  # starts on the bottom edge line
        ((2.0, 1.0), (2.0, 12.0), [(0, 0), (1, 0), (2, 0)]),  # ends on it
        ((1.0, 2.0), (12.0, 2.0), [(0, 0), (0, 1), (0, 2)]),  # ends on the right edge line
        ((12.0, 2.0), (1.0, 2.0), [(0, 2), (0, 1), (0, 0)]),  # starts on it
    ],
)
def test_strokes_from_or_to_the_bottom_or_right_edge_stay_inside(p0, p1, cells) -> None:
    assert segment_cells(p0, p1, P4, G3) == cells


@pytest.mark.parametrize("axis", ["x", "y"])
def test_a_stroke_from_outside_ends_in_the_patch_under_the_pointer(axis: str) -> None:
    # the pointer rests exactly on a patch line (x = 32: the first pixel of column 2); the
    # start lies outside, so the segment is clipped, but its end must not be recomputed
    # (-26.70... + (32 - -26.70...) is 31.999... in floating point: column 1)
    start, end = -26.700838476755823, 32.0
    if axis == "x":
        p0, p1, grid = (start, 8.0), (end, 8.0), (2, 4)
    else:
        p0, p1, grid = (8.0, start), (8.0, end), (4, 2)
    cells = segment_cells(p0, p1, 16, grid)
    assert cells[-1] == pixel_to_patch(*p1, 16, grid)
    assert len(cells) == 3
