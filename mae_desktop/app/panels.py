"""The result panels: masked input, reconstruction, composite, per-patch error, attention.

Every panel is a pyqtgraph ViewBox linked to the canvas's, so zoom and pan are shared.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from .imaging import heatmap_rgba, to_uint8

PANELS = ("masked", "reconstruction", "composite", "error", "attention", "compare")
TITLES = {
    "masked": "Masked input",
    "reconstruction": "Reconstruction",
    "composite": "Composite",
    "error": "Per-patch error",
    "attention": "Attention",
    "compare": "Compare: Model ▸ Compare with checkpoint…",
}


class ViewSync:
    """Shared zoom and pan: when one view's range changes, the others show the same rect.

    (pyqtgraph's setXLink/setYLink fight each other between aspect-locked views of
    different sizes; copying the visible rect does not.)
    """

    def __init__(self, views: list[pg.ViewBox]) -> None:
        self.views = views
        self._busy = False
        for v in views:
            v.sigRangeChangedManually.connect(lambda *_a, src=v: self.follow(src))

    def follow(self, source: pg.ViewBox) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            rect = source.viewRect()
            for v in self.views:
                if v is not source:
                    v.setRange(rect=rect, padding=0)
        finally:
            self._busy = False

    def show_all(self, width: int, height: int) -> None:
        rect = QRectF(0, 0, width, height)
        for v in self.views:
            v.setRange(rect=rect, padding=0.02)


class ResultPanels(QWidget):
    """A grid of titled image views (equal sizes); `show_image`/`show_heatmap` fill them."""

    def __init__(self, link_to: pg.ViewBox, parent=None) -> None:
        super().__init__(parent)
        self.views: dict[str, pg.ViewBox] = {}
        self.items: dict[str, pg.ImageItem] = {}
        self.titles: dict[str, QLabel] = {}
        self.overlays: dict[str, pg.ImageItem] = {}
        self.data: dict[str, np.ndarray] = {}  # what each panel shows, RGB uint8
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)
        for i, name in enumerate(PANELS):
            row, col = divmod(i, 3)
            title = QLabel(TITLES[name])
            title.setAlignment(Qt.AlignmentFlag.AlignCenter)
            # long titles must not widen their column: the grid stays even
            title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            title.setMinimumWidth(20)
            title.setWordWrap(True)
            title.setToolTip(TITLES[name])
            widget = pg.GraphicsLayoutWidget()
            widget.setMinimumSize(60, 60)
            view = widget.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
            item = pg.ImageItem()
            view.addItem(item)
            box = QVBoxLayout()
            box.addWidget(title)
            box.addWidget(widget, 1)
            grid.addLayout(box, row, col)
            self.views[name], self.items[name], self.titles[name] = view, item, title
        for col in range(3):
            grid.setColumnStretch(col, 1)
        for row in range(2):
            grid.setRowStretch(row, 1)
        overlay = pg.ImageItem()
        self.views["attention"].addItem(overlay)
        self.overlays["attention"] = overlay
        self.sync = ViewSync([link_to, *self.views.values()])

    def set_title(self, name: str, text: str) -> None:
        self.titles[name].setText(text)
        self.titles[name].setToolTip(text)

    def show_image(self, name: str, image: np.ndarray) -> None:
        """image float (H, W, 3) in [0, 1] (clipped for display), or uint8 (H, W, 3)."""
        data = image if image.dtype == np.uint8 else to_uint8(image)
        self.data[name] = data
        self.items[name].setImage(data, levels=(0, 255))

    def show_heatmap(
        self,
        name: str,
        values: np.ndarray,
        patch: int,
        cmap: str,
        base: np.ndarray | None = None,
        opacity: float = 1.0,
    ) -> None:
        """Per-patch values (gh, gw) as a colormapped image; over `base` (float in [0, 1] or
        uint8, (H, W, 3)) when given."""
        rgba = heatmap_rgba(values, patch, cmap)
        if base is None:
            self.data[name] = rgba[..., :3]
            self.items[name].setImage(rgba, levels=(0, 255))
            return
        base8 = base if base.dtype == np.uint8 else to_uint8(base)
        self.items[name].setImage(base8, levels=(0, 255))
        overlay = self.overlays[name]
        overlay.setImage(rgba, levels=(0, 255))
        overlay.setOpacity(opacity)
        blend = base8 * (1 - opacity) + rgba[..., :3] * opacity
        self.data[name] = blend.astype(np.uint8)

    def clear(self, name: str) -> None:
        if self.data.pop(name, None) is None:
            return  # already empty: no repaint
        self.items[name].clear()
        if name in self.overlays:
            self.overlays[name].clear()

    def fit(self, width: int, height: int) -> None:
        """Show the whole image in every view (the canvas's too)."""
        self.sync.show_all(width, height)
