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
    stroke_footprint,
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
