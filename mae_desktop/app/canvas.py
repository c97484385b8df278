"""The mask canvas: the image, the patch grid and the mask overlay, painted with the mouse.

The canvas owns no mask. It shows the one it is given and reports what the user did, in
patch cells: `stroke_changed(cells, value)` while dragging, `stroke_finished()` at the end,
`query_picked(row, col)` for the attention query tool; and the pointer in image pixels
(`pointer((x, y))`, None when it leaves; also while dragging) for the linked cursor.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal

from ..engine.brush import footprint, pixel_to_patch, rectangle, stroke_segment
from .imaging import cell_luminance, mask_overlay, to_uint8
from .tiles import HOVER_COLOR, QUERY_COLOR, ImageArea, outline_item, place_outline

TOOLS = ("brush", "rectangle", "query")


class PaintViewBox(pg.ViewBox):
    """A ViewBox whose left/right drags paint instead of panning (middle button pans)."""

    def __init__(self, canvas: MaskCanvas) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self._canvas = canvas

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            ev.accept()
            if ev.isStart():
                self._canvas.press(self.mapToView(ev.buttonDownPos()), ev.button())
            self._canvas.drag(self.mapToView(ev.pos()))
            if ev.isFinish():
                self._canvas.release()
        else:
            super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev):
        if ev.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            ev.accept()
            self._canvas.press(self.mapToView(ev.pos()), ev.button())
            self._canvas.release()
        else:
            super().mouseClickEvent(ev)


class MaskCanvas(ImageArea):
    """Shows image + mask; turns mouse input into patch edits (see the module docstring)."""

    stroke_changed = Signal(object, bool)  # bool (gh, gw) cells touched so far, value
    stroke_finished = Signal()
    query_picked = Signal(int, int)

    def __init__(self, parent=None) -> None:
        super().__init__()
        if parent is not None:
            self.setParent(parent)
        self.view = PaintViewBox(self)
        self.addItem(self.view)
        self.image_item = pg.ImageItem()
        self.overlay_item = pg.ImageItem()
        self.view.addItem(self.image_item)
        self.view.addItem(self.overlay_item)
        self.hover_item = outline_item(HOVER_COLOR)
        self.query_item = outline_item(QUERY_COLOR, 2)
        self.view.addItem(self.hover_item)
        self.view.addItem(self.query_item)
        self.patch = 16
        self.grid = (14, 14)
        self.tool = "brush"
        self.erase_with_left = False  # the mask/unmask toggle for one-button mice
        self.brush_size = 1
        self.brush_shape = "square"
        self.mask_style = "auto"
        self._luma: np.ndarray | None = None  # each patch's mean luminance, (gh, gw)
        self._mask = np.zeros(self.grid, bool)
        self._stroke: np.ndarray | None = None
        self._value = True
        self._anchor: tuple[int, int] | None = None
        self._last_pos: tuple[float, float] | None = None  # the stroke's last point, pixels
        self.setToolTip("Left drag: mask · right drag: unmask · wheel: zoom · middle drag: pan")

    # -- display -------------------------------------------------------------------------
    def set_image(self, image: np.ndarray, patch: int) -> None:
        """image float (H, W, 3) in [0, 1]; the grid follows from the patch size."""
        self.patch = patch
        self.grid = (image.shape[0] // patch, image.shape[1] // patch)
        self._luma = cell_luminance(image, patch)
        self.image_item.setImage(to_uint8(image), autoLevels=False)

    def set_mask(self, mask: np.ndarray) -> None:
        """Redraw the overlay for a bool (gh, gw) mask (cheap: numpy + one texture)."""
        self._mask = mask
        luma = self._luma if self._luma is not None and self._luma.shape == mask.shape else None
        rgba = mask_overlay(mask, self.patch, style=self.mask_style, cell_luma=luma)
        self.overlay_item.setImage(rgba, autoLevels=False)

    def set_mask_style(self, style: str) -> None:
        """How masked patches are drawn: imaging.MASK_STYLES."""
        self.mask_style = style
        self.set_mask(self._mask)

    def set_query(self, cell: tuple[int, int] | None) -> None:
        place_outline(self.query_item, cell, self.patch)

    def set_hover(self, cell: tuple[int, int] | None) -> None:
        place_outline(self.hover_item, cell, self.patch)

    # -- input ---------------------------------------------------------------------------
    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        return pixel_to_patch(pos.x(), pos.y(), self.patch, self.grid)

    def press(self, pos: QPointF, button: Qt.MouseButton) -> None:
        cell = self.cell_at(pos)
        self._anchor = cell
        self._last_pos = (pos.x(), pos.y())
        if self.tool == "query":
            if cell is not None:
                self.query_picked.emit(*cell)
            self._anchor = None
            return
        right = button == Qt.MouseButton.RightButton
        self._value = not right if not self.erase_with_left else right
        self._stroke = np.zeros(self.grid, bool)
        if cell is not None:
            if self.tool == "rectangle":
                self._add(footprint(cell, 1, "square", self.grid))
            else:
                self._add(footprint(cell, self.brush_size, self.brush_shape, self.grid))

    def drag(self, pos: QPointF) -> None:
        # the linked cursor follows the drag too (the scene reports no hover meanwhile)
        self.pointer.emit((pos.x(), pos.y()))
        if self._stroke is None:
            return
        point = (pos.x(), pos.y())
        if self.tool == "rectangle":
            cell = self.cell_at(pos)
            if cell is not None and self._anchor is not None:
                self._stroke = rectangle(self._anchor, cell, self.grid)
                self.stroke_changed.emit(self._stroke.copy(), self._value)
            return
        # the segment from the last point: only the patches the pointer crossed (out of the
        # image and back in paints nothing along the edge it never touched)
        start = self._last_pos if self._last_pos is not None else point
        self._last_pos = point
        self._add(
            stroke_segment(start, point, self.brush_size, self.brush_shape, self.patch, self.grid)
        )

    def _add(self, touched: np.ndarray) -> None:
        if (touched & ~self._stroke).any():
            self._stroke |= touched
            self.stroke_changed.emit(self._stroke.copy(), self._value)

    def release(self) -> None:
        if self._stroke is not None:
            self._stroke = None
            self._anchor = self._last_pos = None
            self.stroke_finished.emit()
