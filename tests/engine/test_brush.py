"""Pixel -> patch mapping, brush footprints, stroke interpolation and undo history."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mae_desktop.engine.brush import (
    MaskHistory,
    footprint,
    line_cells,
    pixel_to_patch,
    rectangle,
    segment_cells,
    stroke_footprint,
    stroke_segment,
)

GRID = (14, 14)


def test_pixel_to_patch():
    assert pixel_to_patch(0, 0, 16, GRID) == (0, 0)
    assert pixel_to_patch(15.9, 16.0, 16, GRID) == (1, 0)
    assert pixel_to_patch(223.5, 223.5, 16, GRID) == (13, 13)
    assert pixel_to_patch(224, 10, 16, GRID) is None
    assert pixel_to_patch(-0.1, 10, 16, GRID) is None


def test_footprints():
    assert footprint((5, 5), 1, "square", GRID).sum() == 1
    sq = footprint((5, 5), 3, "square", GRID)
    assert sq.sum() == 9 and sq[4:7, 4:7].all()
    assert footprint((0, 0), 3, "square", GRID).sum() == 4  # clipped at the corner
    rnd = footprint((7, 7), 5, "round", GRID)
    assert rnd.sum() < 25 and rnd[7, 5] and not rnd[5, 5]
    with pytest.raises(ValueError):
        footprint((0, 0), 1, "star", GRID)


def test_line_cells_are_connected_and_complete():
    cells = line_cells((0, 0), (3, 9))
    assert cells[0] == (0, 0) and cells[-1] == (3, 9)
    for (r0, c0), (r1, c1) in itertools.pairwise(cells):
        assert max(abs(r1 - r0), abs(c1 - c0)) == 1
    assert len(line_cells((4, 4), (4, 4))) == 1


def test_fast_drag_skips_no_patch():
    m = stroke_footprint((2, 0), (2, 13), 1, "square", GRID)
    assert m[2].all() and m.sum() == 14


def test_rectangle():
    r = rectangle((5, 9), (2, 3), GRID)
    assert r.sum() == 4 * 7 and r[2, 3] and r[5, 9]


def test_history_undo_redo_and_stroke_as_one_step():
    m0 = np.zeros(GRID, bool)
    h = MaskHistory(m0)
    assert h.undo() is None
    m1 = m0.copy()
    m1[0, 0:5] = True  # a whole stroke
    assert h.push(m1)
    assert not h.push(m1)  # no change, no step
    m2 = m1.copy()
    m2[3, 3] = True
    h.push(m2)
    assert (h.undo() == m1).all() and (h.undo() == m0).all() and h.undo() is None
    assert (h.redo() == m1).all()
    h.push(np.ones(GRID, bool))  # a new edit clears redo
    assert h.redo() is None and h.can_undo


PATCH = 16


def _touches(cell, p0, p1, patch=PATCH):
    """Whether the segment p0 -> p1 meets the closed square of `cell` (Liang-Barsky)."""
    (r, c), (x0, y0), (x1, y1) = cell, p0, p1
    dx, dy = x1 - x0, y1 - y0
    t0, t1 = 0.0, 1.0
    for p, q in (
        (-dx, x0 - c * patch),
        (dx, (c + 1) * patch - x0),
        (-dy, y0 - r * patch),
        (dy, (r + 1) * patch - y0),
    ):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        t0, t1 = (max(t0, t), t1) if p < 0 else (t0, min(t1, t))
    return t0 <= t1


def _sampled_cells(p0, p1, steps=20000):
    """The patches under points sampled densely along p0 -> p1, in order of first visit."""
    seen = {}
    for t in np.linspace(0.0, 1.0, steps):
        x, y = p0[0] + t * (p1[0] - p0[0]), p0[1] + t * (p1[1] - p0[1])
        cell = pixel_to_patch(x, y, PATCH, GRID)
        if cell is not None:
            seen.setdefault(cell, None)
    return list(seen)


def test_out_and_back_in_paints_only_near_the_two_points():
    # inside near the top-left, out above the image, back in near the top-right
    p0, outside, p2 = (20.0, 8.0), (112.0, -40.0), (200.0, 8.0)
    m = stroke_segment(p0, outside, 1, "square", PATCH, GRID)
    m |= stroke_segment(outside, p2, 1, "square", PATCH, GRID)
    assert m[0, 1] and m[0, 12]  # where the two points are
    assert not m[:, 4:10].any()  # nothing along the edge the cursor never crossed
    assert m.sum() == 4 and m[1:].sum() == 0  # (0,1)->(0,2) out, (0,11)->(0,12) in
    assert segment_cells(p0, outside, PATCH, GRID) == [(0, 1), (0, 2)]
    assert segment_cells(outside, p2, PATCH, GRID) == [(0, 11), (0, 12)]


def test_segment_fully_outside_paints_nothing():
    assert segment_cells((-10.0, -10.0), (-1.0, 300.0), PATCH, GRID) == []
    assert segment_cells((-30.0, 20.0), (20.0, -30.0), PATCH, GRID) == []  # cuts past a corner
    assert segment_cells((230.0, 5.0), (300.0, 200.0), PATCH, GRID) == []
    assert not stroke_segment((-5.0, 240.0), (300.0, 250.0), 3, "round", PATCH, GRID).any()


def test_diagonal_matches_dense_sampling_in_order():
    p0, p1 = (5.3, 7.1), (200.7, 150.2)
    cells = segment_cells(p0, p1, PATCH, GRID)
    assert cells == _sampled_cells(p0, p1)
    for (r0, c0), (r1, c1) in itertools.pairwise(cells):
        assert abs(r1 - r0) + abs(c1 - c0) == 1  # no exact corner here: 4-connected


def test_random_segments_cross_exactly_the_cells_they_touch():
    rng = np.random.default_rng(0)
    for _ in range(200):
        p0, p1 = (tuple(v) for v in rng.uniform(-80.0, 304.0, (2, 2)))
        cells = segment_cells(p0, p1, PATCH, GRID)
        assert len(set(cells)) == len(cells)
        assert all(_touches(cell, p0, p1) for cell in cells)  # none it does not cross
        assert set(_sampled_cells(p0, p1, 4000)) <= set(cells)  # none it skips
        if cells:  # in order from p0 to p1
            assert cells[0] == _sampled_cells(p0, p1, 4000)[0]


def test_fast_horizontal_drag_skips_no_patch():
    assert segment_cells((3.0, 40.0), (220.0, 40.0), PATCH, GRID) == [(2, c) for c in range(14)]
    back = segment_cells((300.0, 40.0), (-50.0, 40.0), PATCH, GRID)
    assert back == [(2, c) for c in reversed(range(14))]
    m = stroke_segment((3.0, 40.0), (220.0, 40.0), 1, "square", PATCH, GRID)
    assert m[2].all() and m.sum() == 14


def test_segment_edge_cases():
    assert segment_cells((10.0, 10.0), (10.0, 10.0), PATCH, GRID) == [(0, 0)]
    assert segment_cells((300.0, 10.0), (300.0, 10.0), PATCH, GRID) == []
    # through exact patch corners: a diagonal step, no patch that only touches a corner
    assert segment_cells((8.0, 8.0), (40.0, 40.0), PATCH, GRID) == [(0, 0), (1, 1), (2, 2)]
    # along the right border line: outside, as for pixel_to_patch
    assert segment_cells((224.0, -5.0), (224.0, 300.0), PATCH, GRID) == []
    # entering from the right edge
    assert segment_cells((230.0, 10.0), (200.0, 10.0), PATCH, GRID) == [(0, 13), (0, 12)]
    big = stroke_segment((8.0, 8.0), (8.0, 100.0), 3, "square", PATCH, GRID)
    assert (big == stroke_footprint((0, 0), (6, 0), 3, "square", GRID)).all()
