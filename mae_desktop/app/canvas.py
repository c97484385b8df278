"""The mask canvas: the image, the patch grid and the mask overlay, painted with the mouse.

The canvas owns no mask. It shows the one it is given and reports what the user did, in
patch cells: `stroke_changed(cells, value)` while dragging, `stroke_finished()` at the end,
`query_picked(row, col)` for the attention query tool, `hovered(row, col)` for the cursor.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from ..engine.brush import footprint, pixel_to_patch, rectangle, stroke_footprint
from .imaging import mask_overlay, to_uint8

TOOLS = ("brush", "rectangle", "query")


class PaintViewBox(pg.ViewBox):
    """A ViewBox whose left/right drags paint instead of panning (middle button pans)."""

    def __init__(self, canvas: MaskCanvas) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self._canvas = canvas

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            ev.accept()
            pos = self.mapToView(ev.pos())
            if ev.isStart():
                self._canvas.press(self.mapToView(ev.buttonDownPos()), ev.button())
            self._canvas.drag(pos)
            if ev.isFinish():
                self._canvas.release()
        else:
            super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev):
        if ev.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            ev.accept()
            pos = self.mapToView(ev.pos())
            self._canvas.press(pos, ev.button())
            self._canvas.release()
        else:
            super().mouseClickEvent(ev)


class MaskCanvas(pg.GraphicsLayoutWidget):
    """Shows image + mask; turns mouse input into patch edits (see the module docstring)."""

    stroke_changed = Signal(object, bool)  # bool (gh, gw) cells touched so far, value
    stroke_finished = Signal()
    query_picked = Signal(int, int)
    hovered = Signal(int, int)  # (-1, -1) when outside

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.view = PaintViewBox(self)
        self.addItem(self.view)
        self.image_item = pg.ImageItem()
        self.overlay_item = pg.ImageItem()
        self.view.addItem(self.image_item)
        self.view.addItem(self.overlay_item)
        self.hover_item = QGraphicsRectItem()
        self.hover_item.setPen(QPen(QColor(255, 210, 60), 0))
        self.hover_item.setVisible(False)
        self.query_item = QGraphicsRectItem()
        self.query_item.setPen(QPen(QColor(60, 220, 255), 0))
        self.query_item.setVisible(False)
        self.view.addItem(self.hover_item)
        self.view.addItem(self.query_item)
        self.patch = 16
        self.grid = (14, 14)
        self.tool = "brush"
        self.erase_with_left = False  # the mask/unmask toggle for one-button mice
        self.brush_size = 1
        self.brush_shape = "square"
        self._mask = np.zeros(self.grid, bool)
        self._stroke: np.ndarray | None = None
        self._value = True
        self._anchor: tuple[int, int] | None = None
        self._last: tuple[int, int] | None = None
        self._hover: tuple[int, int] | None = None
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.setToolTip("Left drag: mask · right drag: unmask · wheel: zoom · middle drag: pan")

    # -- display -------------------------------------------------------------------------
    def set_image(self, image: np.ndarray, patch: int) -> None:
        """image float (H, W, 3) in [0, 1]; the grid follows from the patch size."""
        self.patch = patch
        self.grid = (image.shape[0] // patch, image.shape[1] // patch)
        self.image_item.setImage(to_uint8(image), levels=(0, 255))

    def set_mask(self, mask: np.ndarray) -> None:
        """Redraw the overlay for a bool (gh, gw) mask (cheap: numpy + one texture)."""
        self._mask = mask
        self.overlay_item.setImage(mask_overlay(mask, self.patch), levels=(0, 255))

    def set_query(self, cell: tuple[int, int] | None) -> None:
        self._place(self.query_item, cell)

    def _place(self, item: QGraphicsRectItem, cell: tuple[int, int] | None) -> None:
        if cell is None:
            item.setVisible(False)
            return
        p = self.patch
        item.setRect(QRectF(cell[1] * p, cell[0] * p, p, p))
        item.setVisible(True)

    # -- input ---------------------------------------------------------------------------
    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        return pixel_to_patch(pos.x(), pos.y(), self.patch, self.grid)

    def press(self, pos: QPointF, button: Qt.MouseButton) -> None:
        cell = self.cell_at(pos)
        self._anchor = self._last = cell
        if self.tool == "query":
            if cell is not None:
                self.query_picked.emit(*cell)
            self._anchor = None
            return
        right = button == Qt.MouseButton.RightButton
        self._value = not right if not self.erase_with_left else right
        self._stroke = np.zeros(self.grid, bool)
        if cell is not None:
            self._extend(cell)

    def drag(self, pos: QPointF) -> None:
        if self._stroke is None:
            return
        cell = self.cell_at(pos)
        self._place(self.hover_item, cell)
        if cell is None:
            return
        if self.tool == "rectangle":
            if self._anchor is not None:
                self._stroke = rectangle(self._anchor, cell, self.grid)
                self.stroke_changed.emit(self._stroke.copy(), self._value)
            return
        self._extend(cell)

    def _extend(self, cell: tuple[int, int]) -> None:
        start = self._last if self._last is not None else cell
        touched = stroke_footprint(start, cell, self.brush_size, self.brush_shape, self.grid)
        if self.tool == "rectangle":
            touched = footprint(cell, 1, "square", self.grid)
        self._last = cell
        new = touched & ~self._stroke
        if new.any() or not self._stroke.any():
            self._stroke |= touched
            self.stroke_changed.emit(self._stroke.copy(), self._value)

    def release(self) -> None:
        if self._stroke is not None:
            self._stroke = None
            self._anchor = self._last = None
            self.stroke_finished.emit()

    def _on_mouse_moved(self, scene_pos) -> None:
        cell = self.cell_at(self.view.mapSceneToView(scene_pos))
        if cell == self._hover:  # most moves stay in a patch: nothing to redraw or say
            return
        self._hover = cell
        self._place(self.hover_item, cell)
        self.hovered.emit(*(cell if cell is not None else (-1, -1)))
