"""One result panel: a one-line title over an image view with its overlays (marks, the
hovered and the query patch outlines) and, for value maps, a colorbar with the value range."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QSizePolicy, QVBoxLayout, QWidget

# around the images: a neutral dark grey (not black) that frames photos without glare
VIEW_BACKGROUND = (38, 40, 46)
HOVER_COLOR = QColor(255, 210, 60)
QUERY_COLOR = QColor(60, 220, 255)


class ElidedLabel(QLabel):
    """A one-line label: text that does not fit ends in '…' and the full text is the
    tooltip. `text()` stays the full text; the label never widens its column."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setToolTip(text)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:
        return QSize(10, super().minimumSizeHint().height())

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        metrics = self.fontMetrics()
        shown = metrics.elidedText(self.text(), Qt.TextElideMode.ElideRight, self.width())
        painter.setPen(self.palette().windowText().color())
        painter.drawText(self.rect(), int(self.alignment()), shown)


def outline_item(color: QColor, width: float = 0) -> QGraphicsRectItem:
    """A hidden rectangle outline in view coordinates (0 = one screen pixel wide)."""
    item = QGraphicsRectItem()
    pen = QPen(color, width)
    pen.setCosmetic(True)
    item.setPen(pen)
    item.setVisible(False)
    item.setZValue(10)
    return item


def place_outline(item: QGraphicsRectItem, cell: tuple[int, int] | None, patch: int) -> None:
    """Outline patch (row, col) of `patch` pixels, or hide the outline for None."""
    if cell is None:
        item.setVisible(False)
        return
    item.setRect(QRectF(cell[1] * patch, cell[0] * patch, patch, patch))
    item.setVisible(True)


class ImageArea(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget that reports the pointer in image pixels while it moves over
    the widget, and None when it leaves (the linked cursor)."""

    pointer = Signal(object)  # (x, y) floats in image pixels, or None

    def __init__(self) -> None:
        super().__init__()
        self.setBackground(VIEW_BACKGROUND)
        self.ci.setContentsMargins(2, 2, 2, 2)
        self.view: pg.ViewBox | None = None
        self.scene().sigMouseMoved.connect(self._moved)

    def _moved(self, scene_pos) -> None:
        if self.view is not None:
            p = self.view.mapSceneToView(scene_pos)
            self.pointer.emit((p.x(), p.y()))

    def leaveEvent(self, event) -> None:
        self.pointer.emit(None)
        super().leaveEvent(event)


class PanelTile(QWidget):
    """Title + image view (+ colorbar for value maps). `items` draw in order: the image,
    an overlay (attention over the image), marks (the mask outline on the error map), then
    the hover and query outlines."""

    def __init__(self, title: str, colorbar: bool = False) -> None:
        super().__init__()
        self.title = ElidedLabel(title)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.area = ImageArea()
        self.area.setMinimumSize(60, 60)
        self.view = self.area.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.area.view = self.view
        self.image = pg.ImageItem()
        self.overlay = pg.ImageItem()
        self.marks = pg.ImageItem()
        for item in (self.image, self.overlay, self.marks):
            self.view.addItem(item)
        self.hover = outline_item(HOVER_COLOR)
        self.query = outline_item(QUERY_COLOR, 2)
        self.view.addItem(self.hover)
        self.view.addItem(self.query)
        self.colorbar: pg.ColorBarItem | None = None
        if colorbar:
            self.colorbar = pg.ColorBarItem(
                values=(0.0, 1.0),
                colorMap=pg.colormap.get("inferno"),
                interactive=False,
                orientation="horizontal",
                width=10,
                colorMapMenu=False,
            )
            self.area.addItem(self.colorbar, row=1, col=0)
            self.colorbar.setVisible(False)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.title)
        box.addWidget(self.area, 1)

    def set_scale(self, lo: float, hi: float, cmap: str) -> None:
        """Show the colorbar for values in [lo, hi] under colormap `cmap`."""
        if self.colorbar is None:
            return
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
            hi = lo + 1e-12 if np.isfinite(lo) else 1.0
            lo = lo if np.isfinite(lo) else 0.0
        self.colorbar.setColorMap(pg.colormap.get(cmap))
        self.colorbar.setLevels((lo, hi))
        self.colorbar.setVisible(True)

    def hide_scale(self) -> None:
        if self.colorbar is not None:
            self.colorbar.setVisible(False)
