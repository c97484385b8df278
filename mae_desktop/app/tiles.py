"""One result panel: a one-line title over an image view with its overlays (marks, the
hovered and the query patch outlines) and, for value maps, a colorbar with the value range."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QSizePolicy, QVBoxLayout, QWidget

from .imaging import lut

# around the images: a neutral dark grey (not black) that frames photos without glare
VIEW_BACKGROUND = (38, 40, 46)
HOVER_COLOR = QColor(255, 210, 60)
QUERY_COLOR = QColor(60, 220, 255)


class ElidedLabel(QLabel):
    """A one-line label: text that does not fit ends in '…' and the full text is the
    tooltip. `text()` stays the full text. A new text only repaints the label: it never
    changes its size, so it never re-lays out the window (titles change with every
    result)."""

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self._text = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setText(text)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        if text != self._text:
            self._text = text
            self.setToolTip(text)
            self.update()

    def sizeHint(self) -> QSize:
        return QSize(10, self.fontMetrics().height() + 4)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        metrics = self.fontMetrics()
        shown = metrics.elidedText(self._text, Qt.TextElideMode.ElideRight, self.width())
        painter.setPen(self.palette().windowText().color())
        painter.drawText(self.rect(), int(self.alignment()), shown)


def format_values(values: tuple[float, ...], lo: float, hi: float) -> list[str]:
    """Colorbar labels with as many decimals as the range needs to tell them apart
    (0.0000 / 0.0369 / 0.0739 for a range of 0.07), exponents only for huge or tiny ranges."""
    span = abs(hi - lo) or abs(hi) or 1.0
    decimals = 2 - math.floor(math.log10(span))
    if not 0 <= decimals <= 6:
        return [f"{v:.3g}" for v in values]
    return [f"{v:.{decimals}f}" for v in values]


class ColorScale(QWidget):
    """A horizontal colorbar under a value map: the colormap from lo to hi with the two
    ends and the middle labelled. Painted by Qt only when the range or map changes (a
    plot item with axes costs milliseconds per result)."""

    BAR_HEIGHT = 8

    def __init__(self) -> None:
        super().__init__()
        self._levels: tuple[float, float] | None = None
        self._cmap = ""
        self._lut: np.ndarray | None = None  # uint8 (1, 256, 3), kept alive for _image
        self._image: QImage | None = None
        self.setFixedHeight(self.BAR_HEIGHT + self.fontMetrics().height() + 6)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def levels(self) -> tuple[float, float] | None:
        return self._levels

    def set_scale(self, lo: float, hi: float, cmap: str) -> None:
        changed = cmap != self._cmap or (lo, hi) != self._levels
        if cmap != self._cmap:
            self._cmap = cmap
            self._lut = np.ascontiguousarray(lut(cmap)[None, :, :])
            self._image = QImage(self._lut.data, 256, 1, 256 * 3, QImage.Format.Format_RGB888)
        self._levels = (lo, hi)
        if changed:
            self.update()

    def paintEvent(self, _event) -> None:
        if self._image is None or self._levels is None:
            return
        painter = QPainter(self)
        margin = 4
        bar = QRectF(margin, 1, self.width() - 2 * margin, self.BAR_HEIGHT)
        painter.drawImage(bar, self._image)
        painter.setPen(self.palette().windowText().color())
        lo, hi = self._levels
        top = int(bar.bottom()) + 2
        height = self.height() - top
        width = int(bar.width())
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
        centre = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop
        texts = format_values((lo, (lo + hi) / 2, hi), lo, hi)
        for text, align in zip(texts, (left, centre, right), strict=True):
            painter.drawText(QRect(margin, top, width, height), int(align), text)


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
        if item.isVisible():
            item.setVisible(False)
        return
    rect = QRectF(cell[1] * patch, cell[0] * patch, patch, patch)
    if rect != item.rect():  # (an unchanged outline costs no repaint)
        item.setRect(rect)
    if not item.isVisible():
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
    """Title + image view (+ a colorbar under value maps). `items` draw in order: the image,
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
        self.colorbar = ColorScale() if colorbar else None
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.title)
        box.addWidget(self.area, 1)
        if self.colorbar is not None:
            box.addWidget(self.colorbar)
            self.colorbar.setVisible(False)

    def set_scale(self, lo: float, hi: float, cmap: str) -> None:
        """Show the colorbar for values in [lo, hi] under colormap `cmap`."""
        if self.colorbar is None:
            return
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
            hi = lo + 1e-12 if np.isfinite(lo) else 1.0
            lo = lo if np.isfinite(lo) else 0.0
        self.colorbar.set_scale(lo, hi, cmap)
        self.colorbar.setVisible(True)

    def hide_scale(self) -> None:
        if self.colorbar is not None:
            self.colorbar.setVisible(False)
