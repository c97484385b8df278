"""Properties of the patch layout and of the brush, each against a simple model written here.

Guards: images <-> patch vectors in official MAE's order (pixel row, pixel column, channel)
for any grid shape and patch size, numpy and torch alike; per-patch values upsampled to
pixels; the pixel -> patch mapping at all four borders; the square and round brush
footprints on non-square grids; Bresenham lines; strokes that leave the image and come back
(nothing is painted along ANY of the four borders); and the rectangle tool.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mae_desktop.engine.brush import (
    BRUSH_SHAPES,
    footprint,
    line_cells,
    pixel_to_patch,
    rectangle,
    segment_cells,
    stroke_footprint,
    stroke_segment,
)
from mae_desktop.engine.patches import (
    patchify,
    patchify_batch,
    unpatchify,
    unpatchify_batch,
    upsample_grid,
)

Cell = tuple[int, int]
Point = tuple[float, float]

FAST = settings(max_examples=60, deadline=None)
grids = st.tuples(st.integers(1, 9), st.integers(1, 9))
patch_sizes = st.integers(1, 6)
channels = st.integers(1, 4)


# -- the official MAE layout, written out as models_mae.py does it ---------------------------
def official_patchify(imgs: np.ndarray, p: int) -> np.ndarray:
    """models_mae.MaskedAutoencoderViT.patchify, (N, C, H, W) -> (N, L, p*p*C), for any h, w."""
    n, c, hh, ww = imgs.shape
    h, w = hh // p, ww // p
    x = imgs.reshape(n, c, h, p, w, p)
    x = np.einsum("nchpwq->nhwpqc", x)
    return x.reshape(n, h * w, p * p * c)


def official_unpatchify(x: np.ndarray, h: int, w: int, p: int) -> np.ndarray:
    """models_mae.MaskedAutoencoderViT.unpatchify, (N, L, p*p*C) -> (N, C, H, W)."""
    n, c = x.shape[0], x.shape[-1] // (p * p)
    x = x.reshape(n, h, w, p, p, c)
    x = np.einsum("nhwpqc->nchpwq", x)
    return x.reshape(n, c, h * p, w * p)


def _image(gh: int, gw: int, p: int, c: int, batch: int = 1) -> np.ndarray:
    """(batch, H, W, C) with every value different, so any reordering shows."""
    return np.arange(batch * gh * p * gw * p * c, dtype=np.float64).reshape(
        batch, gh * p, gw * p, c
    )


def test_the_official_formula_is_pixel_row_then_column_then_channel():
    """Guards the model above: the einsum spelled out as loops on a 2x3 grid of 2x2 patches."""
    img = _image(2, 3, 2, 3)
    got = official_patchify(img.transpose(0, 3, 1, 2), 2)[0]
    for r, c, i, j, ch in itertools.product(range(2), range(3), range(2), range(2), range(3)):
        assert got[r * 3 + c, (i * 2 + j) * 3 + ch] == img[0, r * 2 + i, c * 2 + j, ch]


@FAST
@given(grid=grids, p=patch_sizes, c=channels)
@example(grid=(2, 3), p=2, c=3)
def test_patchify_matches_official_mae_and_round_trips(grid: Cell, p: int, c: int) -> None:
    gh, gw = grid
    img = _image(gh, gw, p, c)
    want = official_patchify(img.transpose(0, 3, 1, 2), p)[0]
    got = patchify(img[0], p)
    assert got.shape == (gh * gw, p * p * c)
    np.testing.assert_array_equal(got, want)
    # unpatchify reads official-order vectors back into the same image
    np.testing.assert_array_equal(unpatchify(want, grid, p), img[0])
    back = official_unpatchify(want[None], gh, gw, p).transpose(0, 2, 3, 1)[0]
    np.testing.assert_array_equal(back, img[0])  # the model's own inverse agrees


@FAST
@given(grid=grids, p=patch_sizes, c=channels, batch=st.integers(1, 3))
@example(grid=(2, 3), p=2, c=3, batch=2)
def test_torch_batches_match_official_mae_and_round_trip(
    grid: Cell, p: int, c: int, batch: int
) -> None:
    gh, gw = grid
    img = _image(gh, gw, p, c, batch)
    want = official_patchify(img.transpose(0, 3, 1, 2), p)
    got = patchify_batch(torch.from_numpy(img), p)
    assert tuple(got.shape) == (batch, gh * gw, p * p * c)
    np.testing.assert_array_equal(got.numpy(), want)
    back = unpatchify_batch(torch.from_numpy(want), grid, p)
    np.testing.assert_array_equal(back.numpy(), img)


@FAST
@given(grid=grids, p=patch_sizes, extra=st.sampled_from([(), (1,), (3,), (2, 2)]))
@example(grid=(2, 3), p=2, extra=())
def test_upsample_grid_is_nearest_neighbour(grid: Cell, p: int, extra: tuple[int, ...]) -> None:
    values = np.arange(math.prod(grid) * math.prod(extra)).reshape(*grid, *extra)
    got = upsample_grid(values, p)
    assert got.shape == (grid[0] * p, grid[1] * p, *extra)
    if not extra:
        np.testing.assert_array_equal(got, np.kron(values, np.ones((p, p), dtype=values.dtype)))
    # pixel (y, x) shows patch (y // p, x // p)
    rows, cols = np.arange(grid[0] * p) // p, np.arange(grid[1] * p) // p
    np.testing.assert_array_equal(got, values[rows[:, None], cols[None, :]])


# -- pixel -> patch -----------------------------------------------------------------------------
def ref_patch(x: float, y: float, p: int, grid: Cell) -> Cell | None:
    """Exact (rational) floor division: the cell whose half-open square holds (x, y)."""
    row, col = math.floor(Fraction(y) / p), math.floor(Fraction(x) / p)
    if 0 <= row < grid[0] and 0 <= col < grid[1]:
        return row, col
    return None


@settings(max_examples=150, deadline=None)
@given(grid=grids, p=st.integers(1, 32), fx=st.floats(0, 1), fy=st.floats(0, 1))
def test_pixel_inside_maps_to_floor(grid: Cell, p: int, fx: float, fy: float) -> None:
    w, h = grid[1] * p, grid[0] * p
    x, y = min(fx * w, np.nextafter(w, 0)), min(fy * h, np.nextafter(h, 0))
    got = pixel_to_patch(x, y, p, grid)
    assert got == ref_patch(x, y, p, grid)
    assert got == (math.floor(Fraction(y) / p), math.floor(Fraction(x) / p))


@settings(max_examples=100, deadline=None)
@given(
    grid=grids,
    p=st.integers(1, 32),
    inside=st.floats(0, 1, exclude_max=True),
    out=st.sampled_from(["0", "W-eps", "W", "W+", "-eps", "-half", "-far"]),
    axis=st.sampled_from("xy"),
)
def test_pixel_at_every_border(grid: Cell, p: int, inside: float, out: str, axis: str) -> None:
    """x or y at 0, just below the far side, on it, past it, and just below 0; the other
    coordinate anywhere inside: left, right, top and bottom border alike."""
    size = grid[1] * p if axis == "x" else grid[0] * p
    cells = grid[1] if axis == "x" else grid[0]
    value = {
        "0": 0.0,
        "W-eps": float(np.nextafter(size, 0)),
        "W": float(size),
        "W+": size + 0.25,
        "-eps": -5e-324,
        "-half": -p / 2,
        "-far": -3.0 * size,
    }[out]
    other = inside * (grid[0] * p if axis == "x" else grid[1] * p)
    x, y = (value, other) if axis == "x" else (other, value)
    got = pixel_to_patch(x, y, p, grid)
    assert got == ref_patch(x, y, p, grid)
    if out in ("0", "W-eps"):
        assert got is not None
        index = got[1] if axis == "x" else got[0]
        assert index == (0 if out == "0" else cells - 1)
    else:
        assert got is None


# -- footprints -----------------------------------------------------------------------------------
def ref_footprint(center: Cell, size: int, shape: str, grid: Cell) -> np.ndarray:
    """Brute force from footprint's docstring. Square: size x size cells, even sizes reaching
    one further down/right. Round: the cells whose centres lie within size/2 of the brush
    centre, which is the centre patch's centre (odd sizes) or the patch corner down-right of
    it (even sizes), in doubled integer coordinates so nothing is rounded."""
    out = np.zeros(grid, dtype=bool)
    r0, c0 = center
    top, left = r0 - (size - 1) // 2, c0 - (size - 1) // 2
    br, bc = 2 * r0 + 1 + (size % 2 == 0), 2 * c0 + 1 + (size % 2 == 0)
    for r, c in itertools.product(range(grid[0]), range(grid[1])):
        if shape == "square":
            out[r, c] = top <= r < top + size and left <= c < left + size
        else:
            out[r, c] = (2 * r + 1 - br) ** 2 + (2 * c + 1 - bc) ** 2 <= size * size
    return out


def test_reference_footprints_by_hand():
    """Guards the model: a few brushes drawn out."""
    grid = (5, 5)
    sq2 = ref_footprint((2, 2), 2, "square", grid)
    assert set(zip(*np.nonzero(sq2), strict=True)) == {(2, 2), (2, 3), (3, 2), (3, 3)}
    r3 = ref_footprint((2, 2), 3, "round", grid)  # radius 1.5: the 3x3 block (corners 1.41)
    assert r3.sum() == 9 and r3[1:4, 1:4].all()
    r5 = ref_footprint((2, 2), 5, "round", grid)  # radius 2.5: 5x5 less its 4 corners (2.83)
    assert r5.sum() == 21 and not r5[0, 0] and r5[0, 1] and r5[2, 0]


def _edge_centres(grid: Cell) -> list[Cell]:
    gh, gw = grid
    rows, cols = {0, gh // 2, gh - 1}, {0, gw // 2, gw - 1}
    return [(r, c) for r in rows for c in cols]


@pytest.mark.parametrize("grid", [(5, 9), (9, 4), (1, 7), (6, 1), (1, 1)])
def test_footprints_at_corners_and_edges(grid: Cell) -> None:
    for centre, size, shape in itertools.product(_edge_centres(grid), range(1, 10), BRUSH_SHAPES):
        got = footprint(centre, size, shape, grid)
        assert got.dtype == bool and got.shape == grid
        np.testing.assert_array_equal(got, ref_footprint(centre, size, shape, grid))


@settings(max_examples=150, deadline=None)
@given(
    grid=grids,
    size=st.integers(1, 9),
    shape=st.sampled_from(BRUSH_SHAPES),
    data=st.data(),
)
def test_footprint_matches_brute_force(grid: Cell, size: int, shape: str, data) -> None:
    centre = (data.draw(st.integers(0, grid[0] - 1)), data.draw(st.integers(0, grid[1] - 1)))
    got = footprint(centre, size, shape, grid)
    np.testing.assert_array_equal(got, ref_footprint(centre, size, shape, grid))
    if shape == "square" and size % 2:
        # odd squares are the Chebyshev ball of radius size // 2
        rows, cols = np.mgrid[0 : grid[0], 0 : grid[1]]
        cheb = np.maximum(abs(rows - centre[0]), abs(cols - centre[1]))
        np.testing.assert_array_equal(got, cheb <= size // 2)
    assert got[centre]  # the brush always covers the patch under the cursor


# -- lines ----------------------------------------------------------------------------------------
cells = st.tuples(st.integers(-12, 12), st.integers(-12, 12))


@settings(max_examples=200, deadline=None)
@given(a=cells, b=cells)
@example(a=(0, 0), b=(3, 9))
@example(a=(5, -2), b=(-4, 7))
def test_line_cells_is_a_bresenham_line(a: Cell, b: Cell) -> None:
    got = line_cells(a, b)
    assert got[0] == a and got[-1] == b
    assert len(got) == max(abs(b[0] - a[0]), abs(b[1] - a[1])) + 1  # one cell per major step
    assert len(set(got)) == len(got)
    for (r0, c0), (r1, c1) in itertools.pairwise(got):
        assert max(abs(r1 - r0), abs(c1 - c0)) == 1  # 8-connected, no gap
    # each cell is the nearest one to the true line on its major-axis step (ties either way)
    dr, dc = b[0] - a[0], b[1] - a[1]
    for r, c in got:
        if abs(dc) >= abs(dr) and dc:
            assert abs(Fraction(r - a[0]) - Fraction(dr * (c - a[1]), dc)) <= Fraction(1, 2)
        elif dr:
            assert abs(Fraction(c - a[1]) - Fraction(dc * (r - a[0]), dr)) <= Fraction(1, 2)
    # drawn backwards: the same cells up to the rounding of exact ties
    back = line_cells(b, a)[::-1]
    assert len(back) == len(got)
    for (r0, c0), (r1, c1) in zip(got, back, strict=True):
        assert abs(r0 - r1) + abs(c0 - c1) <= 1


@FAST
@given(grid=grids, size=st.integers(1, 5), shape=st.sampled_from(BRUSH_SHAPES), data=st.data())
def test_stroke_footprint_is_the_union_along_the_line(
    grid: Cell, size: int, shape: str, data
) -> None:
    rc = st.tuples(st.integers(0, grid[0] - 1), st.integers(0, grid[1] - 1))
    a, b = data.draw(rc), data.draw(rc)
    want = np.zeros(grid, dtype=bool)
    for cell in line_cells(a, b):
        want |= ref_footprint(cell, size, shape, grid)
    np.testing.assert_array_equal(stroke_footprint(a, b, size, shape, grid), want)


# -- strokes between mouse positions, leaving the image and coming back --------------------------
def touches(cell: Cell, p0: Point, p1: Point, p: int) -> bool:
    """Whether segment p0 -> p1 meets the closed square of `cell` (exact, rational)."""
    (r, c), (x0, y0), (x1, y1) = cell, map(Fraction, p0), map(Fraction, p1)
    dx, dy = x1 - x0, y1 - y0
    t0, t1 = Fraction(0), Fraction(1)
    for q_p, q in (
        (-dx, x0 - c * p),
        (dx, (c + 1) * p - x0),
        (-dy, y0 - r * p),
        (dy, (r + 1) * p - y0),
    ):
        if q_p == 0:
            if q < 0:
                return False
            continue
        t = q / q_p
        t0, t1 = (max(t0, t), t1) if q_p < 0 else (t0, min(t1, t))
    return t0 <= t1


def sampled(p0: Point, p1: Point, p: int, grid: Cell, steps: int = 300) -> set[Cell]:
    """The cells under points sampled along p0 -> p1 (exact floor), those inside only."""
    out = set()
    for t in np.linspace(0.0, 1.0, steps):
        x, y = p0[0] + t * (p1[0] - p0[0]), p0[1] + t * (p1[1] - p0[1])
        if x % p == 0 and y % p == 0:
            continue  # exactly on a patch corner: the path steps diagonally (segment_cells)
        cell = ref_patch(x, y, p, grid)
        if cell is not None:
            out.add(cell)
    return out


def inside_point(data, grid: Cell, p: int) -> Point:
    """A point well inside some cell (not on a patch line, so sampling sees all it crosses)."""
    r, c = data.draw(st.integers(0, grid[0] - 1)), data.draw(st.integers(0, grid[1] - 1))
    fx, fy = data.draw(st.floats(0.1, 0.9)), data.draw(st.floats(0.1, 0.9))
    return ((c + fx) * p, (r + fy) * p)


def outside_point(border: str, along: float, d: float, grid: Cell, p: int) -> Point:
    """A point beyond `border`, `d` >= 0 past its line (on it for the right and bottom: those
    lines are outside, as pixel_to_patch says; the top and left lines x, y = 0 are inside)."""
    w, h = grid[1] * p, grid[0] * p
    return {
        "top": (along, -d - 1e-6),
        "bottom": (along, h + d),
        "left": (-d - 1e-6, along),
        "right": (w + d, along),
    }[border]


BORDERS = ("top", "bottom", "left", "right")


@settings(max_examples=80, deadline=None)
@given(
    grid=grids,
    p=st.integers(1, 16),
    border=st.sampled_from(BORDERS),
    along=st.tuples(st.floats(-1.5, 2.5), st.floats(-1.5, 2.5)),
    d=st.tuples(st.sampled_from([0.0, 0.5, 3.0]), st.floats(0, 40)),
    size=st.integers(1, 9),
    shape=st.sampled_from(BRUSH_SHAPES),
    data=st.data(),
)
def test_a_stroke_out_and_back_paints_nothing_along_any_border(
    grid: Cell,
    p: int,
    border: str,
    along: tuple[float, float],
    d: tuple[float, float],
    size: int,
    shape: str,
    data,
) -> None:
    """A -> O1 -> O2 -> B with A, B inside and O1 -> O2 running outside, parallel to one
    border (on the right/bottom border line, or past it): the middle leg paints nothing with
    any brush, the others only cells their segment really crosses inside the grid."""
    span = grid[1] * p if border in ("top", "bottom") else grid[0] * p
    a, b = inside_point(data, grid, p), inside_point(data, grid, p)
    o1 = outside_point(border, along[0] * span, d[0], grid, p)
    o2 = outside_point(
        border, along[1] * span, d[0] + d[1] if data.draw(st.booleans()) else d[0], grid, p
    )
    assert segment_cells(o1, o2, p, grid) == []
    assert not stroke_segment(o1, o2, size, shape, p, grid).any()
    painted = np.zeros(grid, dtype=bool)
    for leg in ((a, o1), (o1, o2), (o2, b)):
        got = segment_cells(*leg, p, grid)
        assert len(set(got)) == len(got)
        assert all(touches(cell, *leg, p) for cell in got), (leg, got)  # none it misses
        assert sampled(*leg, p, grid) <= set(got), leg  # none it skips
        stroke = stroke_segment(*leg, size, shape, p, grid)
        want = np.zeros(grid, dtype=bool)
        for cell in got:
            want |= ref_footprint(cell, size, shape, grid)
        np.testing.assert_array_equal(stroke, want)
        painted |= stroke
    # with a one-patch brush only cells the two inside legs touch, none along the border
    thin = np.zeros(grid, dtype=bool)
    for leg in ((a, o1), (o1, o2), (o2, b)):
        thin |= stroke_segment(*leg, 1, "square", p, grid)
    for cell in zip(*np.nonzero(thin), strict=True):
        assert touches(cell, a, o1, p) or touches(cell, o2, b, p)


@pytest.mark.parametrize("border", BORDERS)
def test_a_stroke_along_each_border_by_hand(border: str) -> None:
    """4 x 6 patches of 10 pixels: in at one cell next to the border, out, along the border
    (on its line for right/bottom, just past it for top/left), back in four cells further."""
    grid, p = (4, 6), 10
    path = {
        "bottom": [(15.0, 35.0), (15.0, 40.0), (45.0, 40.0), (45.0, 35.0)],
        "top": [(15.0, 5.0), (15.0, -0.01), (45.0, -0.01), (45.0, 5.0)],
        "left": [(5.0, 5.0), (-0.01, 5.0), (-0.01, 35.0), (5.0, 35.0)],
        "right": [(55.0, 5.0), (60.0, 5.0), (60.0, 35.0), (55.0, 35.0)],
    }[border]
    want = {
        "bottom": {(3, 1), (3, 4)},
        "top": {(0, 1), (0, 4)},
        "left": {(0, 0), (3, 0)},
        "right": {(0, 5), (3, 5)},
    }[border]
    painted = np.zeros(grid, dtype=bool)
    for p0, p1 in itertools.pairwise(path):
        painted |= stroke_segment(p0, p1, 1, "square", p, grid)
    assert set(zip(*np.nonzero(painted), strict=True)) == want
    # and running further out along the border paints nothing at all
    for off in (0.0, 0.5, 7.0):
        shift = {"bottom": (0, off), "top": (0, -off), "left": (-off, 0), "right": (off, 0)}[border]
        o1 = (path[1][0] + shift[0], path[1][1] + shift[1])
        o2 = (path[2][0] + shift[0], path[2][1] + shift[1])
        assert not stroke_segment(o1, o2, 3, "round", p, grid).any()


# -- rectangles -----------------------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(grid=grids, data=st.data())
def test_rectangle_is_the_box_between_two_corners(grid: Cell, data) -> None:
    rc = st.tuples(st.integers(0, grid[0] - 1), st.integers(0, grid[1] - 1))
    a, b = data.draw(rc), data.draw(rc)
    want = np.zeros(grid, dtype=bool)
    for r, c in itertools.product(range(grid[0]), range(grid[1])):
        want[r, c] = min(a[0], b[0]) <= r <= max(a[0], b[0]) and min(a[1], b[1]) <= c <= max(
            a[1], b[1]
        )
    for u, v in ((a, b), (b, a), ((a[0], b[1]), (b[0], a[1]))):  # any two opposite corners
        got = rectangle(u, v, grid)
        assert got.dtype == bool and got.shape == grid
        np.testing.assert_array_equal(got, want)
