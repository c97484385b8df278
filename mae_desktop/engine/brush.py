"""Pure functions behind mask painting: pixels -> patches, brush footprints, strokes.

Coordinates: (x, y) in image pixels, x to the right, y down; patches as (row, col).
"""

from __future__ import annotations

import numpy as np

Grid = tuple[int, int]
BRUSH_SHAPES = ("square", "round")


def pixel_to_patch(x: float, y: float, patch: int, grid: Grid) -> tuple[int, int] | None:
    """The (row, col) under image pixel (x, y), or None outside the image."""
    if x < 0 or y < 0:
        return None
    row, col = int(y // patch), int(x // patch)
    if row >= grid[0] or col >= grid[1]:
        return None
    return row, col


def footprint(center: tuple[int, int], size: int, shape: str, grid: Grid) -> np.ndarray:
    """Bool (grid) of the patches a brush of `size` patches covers at `center`.

    Square: a size x size block (centred; even sizes extend down/right); round: the patches
    whose centres lie within size/2 of the brush centre. Clipped to the grid.
    """
    if shape not in BRUSH_SHAPES:
        raise ValueError(f"unknown brush shape {shape!r}")
    r0, c0 = center
    rows = np.arange(grid[0])[:, None]
    cols = np.arange(grid[1])[None, :]
    half = (size - 1) / 2.0
    # the brush centre, shifted half a patch down/right for even sizes
    cr, cc = r0 + (0.5 if size % 2 == 0 else 0.0), c0 + (0.5 if size % 2 == 0 else 0.0)
    if shape == "square":
        return (np.abs(rows - cr) <= half + 1e-9) & (np.abs(cols - cc) <= half + 1e-9)
    return (rows - cr) ** 2 + (cols - cc) ** 2 <= (size / 2.0) ** 2 + 1e-9


def line_cells(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[int, int]]:
    """Every patch on the straight line from a to b (Bresenham), both ends included, so a
    fast drag that jumps several patches between two mouse events skips none."""
    (r0, c0), (r1, c1) = a, b
    dr, dc = abs(r1 - r0), abs(c1 - c0)
    sr, sc = (1 if r1 > r0 else -1), (1 if c1 > c0 else -1)
    err = dc - dr
    cells = []
    r, c = r0, c0
    while True:
        cells.append((r, c))
        if (r, c) == (r1, c1):
            return cells
        e2 = 2 * err
        if e2 > -dr:
            err -= dr
            c += sc
        if e2 < dc:
            err += dc
            r += sr


def stroke_footprint(
    a: tuple[int, int], b: tuple[int, int], size: int, shape: str, grid: Grid
) -> np.ndarray:
    """Union of brush footprints along the segment a -> b: bool (grid)."""
    out = np.zeros(grid, dtype=bool)
    for cell in line_cells(a, b):
        out |= footprint(cell, size, shape, grid)
    return out


def segment_cells(
    p0: tuple[float, float], p1: tuple[float, float], patch: int, grid: Grid
) -> list[tuple[int, int]]:
    """The patches (row, col) the straight segment from image pixel p0 = (x, y) to p1
    crosses, in order from p0 to p1, each once. Either end may lie outside the image; only
    the part inside counts, so a drag that leaves the image and comes back paints nothing
    along the way. Points on the line between two patches belong to the one below / to the
    right, as in pixel_to_patch; where the segment passes exactly through a patch corner
    the path steps diagonally, adding neither of the two patches that only touch it.
    """
    gh, gw = grid
    clipped = _clip_to_box(p0, p1, gw * patch, gh * patch)
    if clipped is None:
        return []
    (x0, y0), (x1, y1) = clipped
    # a segment lying on the right or bottom border line is outside (pixel_to_patch agrees)
    if (x0 >= gw * patch and x1 >= gw * patch) or (y0 >= gh * patch and y1 >= gh * patch):
        return []
    # Amanatides-Woo on the patch grid, in patch units
    u0, v0, u1, v1 = x0 / patch, y0 / patch, x1 / patch, y1 / patch
    col, row = min(int(u0), gw - 1), min(int(v0), gh - 1)
    end_col, end_row = min(int(u1), gw - 1), min(int(v1), gh - 1)
    du, dv = u1 - u0, v1 - v0
    step_c, step_r = (1 if du > 0 else -1), (1 if dv > 0 else -1)
    inf = float("inf")
    # parameter t in [0, 1] along the segment at which it next crosses a column / row line
    next_c = ((col + 1 - u0) if du > 0 else (u0 - col)) / abs(du) if du else inf
    next_r = ((row + 1 - v0) if dv > 0 else (v0 - row)) / abs(dv) if dv else inf
    delta_c = 1.0 / abs(du) if du else inf
    delta_r = 1.0 / abs(dv) if dv else inf
    cells = [(row, col)]
    # every step moves one column or row nearer the end cell, so rounding in t can reorder
    # near-simultaneous crossings but never overshoot or loop
    while (row, col) != (end_row, end_col):
        go_c = col != end_col and (row == end_row or next_c <= next_r)
        go_r = row != end_row and (col == end_col or next_r <= next_c)
        if go_c:
            col += step_c
            next_c += delta_c
        if go_r:
            row += step_r
            next_r += delta_r
        cells.append((row, col))
    return cells


def _clip_to_box(
    p0: tuple[float, float], p1: tuple[float, float], width: float, height: float
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The part of segment p0 -> p1 inside the closed box [0, width] x [0, height]
    (Liang-Barsky), same direction, or None if it misses the box."""
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    t0, t1 = 0.0, 1.0
    for p, q in ((-dx, x0), (dx, width - x0), (-dy, y0), (dy, height - y0)):
        if p == 0:
            if q < 0:  # parallel to this side and outside it
                return None
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    # the ends that were inside stay exact; clipped ones are clamped against rounding
    a = (x0, y0) if t0 == 0.0 else (x0 + t0 * dx, y0 + t0 * dy)
    b = (x1, y1) if t1 == 1.0 else (x0 + t1 * dx, y0 + t1 * dy)
    return (
        (min(max(a[0], 0.0), width), min(max(a[1], 0.0), height)),
        (min(max(b[0], 0.0), width), min(max(b[1], 0.0), height)),
    )


def stroke_segment(
    p0: tuple[float, float],
    p1: tuple[float, float],
    size: int,
    shape: str,
    patch: int,
    grid: Grid,
) -> np.ndarray:
    """Bool (grid): the union of brush footprints over the patches the segment p0 -> p1
    (image pixels (x, y), either end possibly outside) crosses; see segment_cells."""
    out = np.zeros(grid, dtype=bool)
    for cell in segment_cells(p0, p1, patch, grid):
        out |= footprint(cell, size, shape, grid)
    return out


def rectangle(a: tuple[int, int], b: tuple[int, int], grid: Grid) -> np.ndarray:
    """Bool (grid) of the patch rectangle spanned by corners a and b (inclusive)."""
    out = np.zeros(grid, dtype=bool)
    r0, r1 = sorted((a[0], b[0]))
    c0, c1 = sorted((a[1], b[1]))
    out[r0 : r1 + 1, c0 : c1 + 1] = True
    return out


class MaskHistory:
    """Undo/redo of whole masks. A stroke (many edits) becomes one step.

    `push(mask)` records a finished change; `undo()`/`redo()` return the mask to show, or
    None when there is nothing to undo/redo. Masks are copied in and out.
    """

    def __init__(self, initial: np.ndarray, limit: int = 200) -> None:
        if limit < 1:  # del undo[:-0] would delete nothing: an unlimited history
            raise ValueError(f"the undo limit must be at least 1, got {limit}")
        self._undo: list[np.ndarray] = []
        self._redo: list[np.ndarray] = []
        self._current = initial.copy()
        self._limit = limit

    @property
    def current(self) -> np.ndarray:
        return self._current.copy()

    def push(self, mask: np.ndarray) -> bool:
        """Record `mask` as the new state; False (nothing recorded) if it did not change."""
        if mask.shape == self._current.shape and (mask == self._current).all():
            return False
        self._undo.append(self._current)
        del self._undo[: -self._limit]
        self._current = mask.copy()
        self._redo.clear()
        return True

    def reset(self, mask: np.ndarray) -> None:
        """Start over (a new image or model grid): no undo across it."""
        self._undo.clear()
        self._redo.clear()
        self._current = mask.copy()

    def undo(self) -> np.ndarray | None:
        if not self._undo:
            return None
        self._redo.append(self._current)
        self._current = self._undo.pop()
        return self._current.copy()

    def redo(self) -> np.ndarray | None:
        if not self._redo:
            return None
        self._undo.append(self._current)
        self._current = self._redo.pop()
        return self._current.copy()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)
