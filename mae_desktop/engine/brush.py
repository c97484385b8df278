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
