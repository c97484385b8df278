"""The result panels (masked input, reconstruction, composite, per-patch error, attention,
compare) and how they share the window: an even grid whose column count makes the images
largest, one row, or tabs (one large panel at a time).

Every panel's view is kept on the canvas's visible rect (shared zoom and pan), and the
pointer over any panel is reported in image pixels (the linked cursor).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import QGridLayout, QStackedLayout, QTabWidget, QWidget

from .imaging import heatmap_rgba, to_uint8
from .tiles import PanelTile, place_outline

PANELS = ("masked", "reconstruction", "composite", "error", "attention", "compare")
TITLES = {
    "masked": "Masked input",
    "reconstruction": "Reconstruction",
    "composite": "Composite",
    "error": "Per-patch error",
    "attention": "Attention",
    "compare": "Compare",
}
OPTIONAL = frozenset({"compare"})  # shown only while they have something to show
WITH_SCALE = frozenset({"error", "attention"})
LAYOUTS = ("grid", "row", "tabs")
SPACING = 4
TILE_CHROME = (4, 40)  # (width, height) a tile spends beside its image: title, colorbar


def best_columns(
    n: int, width: float, height: float, aspect: float = 1.0, chrome=TILE_CHROME
) -> int:
    """How many columns make n equal tiles' images largest in width x height pixels
    (aspect = image width / height; chrome = what a tile spends on title and scale)."""
    best, best_side = 1, -math.inf
    for cols in range(1, max(n, 1) + 1):
        rows = math.ceil(n / cols)
        cell_w = (width - SPACING * (cols - 1)) / cols - chrome[0]
        cell_h = (height - SPACING * (rows - 1)) / rows - chrome[1]
        side = min(cell_w, cell_h * aspect)
        if side > best_side + 1e-6:
            best, best_side = cols, side
    return best


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
            v.setRange(rect=rect, padding=0.01)


class ResultPanels(QWidget):
    """The panels and their arrangement; `show_image`/`show_heatmap` fill them, `data`
    keeps what each shows (RGB uint8) for exports and tests."""

    pointer = Signal(object)  # (x, y) in image pixels over any panel, None when it leaves

    def __init__(self, link_to: pg.ViewBox, parent=None) -> None:
        super().__init__(parent)
        self.tiles = {n: PanelTile(TITLES[n], colorbar=n in WITH_SCALE) for n in PANELS}
        self.views = {n: t.view for n, t in self.tiles.items()}
        self.items = {n: t.image for n, t in self.tiles.items()}
        self.titles = {n: t.title for n, t in self.tiles.items()}
        self.overlays = {n: t.overlay for n, t in self.tiles.items()}
        self.data: dict[str, np.ndarray] = {}  # what each panel shows, RGB uint8
        self.mode = "grid"
        self.aspect = 1.0  # the image's width / height
        self._wanted: set[str] = set()  # optional panels that have something to show
        self._arranged: tuple | None = None
        self._grid_host = QWidget()
        self._grid = QGridLayout(self._grid_host)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(SPACING)
        self._tabs = QTabWidget()
        self._tabs.setDocumentMode(True)
        self._stack = QStackedLayout(self)
        self._stack.addWidget(self._grid_host)
        self._stack.addWidget(self._tabs)
        for tile in self.tiles.values():
            tile.area.pointer.connect(self.pointer)
        self.sync = ViewSync([link_to, *self.views.values()])
        self.arrange()

    # -- arrangement ---------------------------------------------------------------------------
    def visible_names(self) -> tuple[str, ...]:
        return tuple(n for n in PANELS if n not in OPTIONAL or n in self._wanted)

    def set_layout(self, mode: str) -> None:
        if mode not in LAYOUTS:
            raise ValueError(f"unknown layout {mode!r}")
        self.mode = mode
        self.arrange()

    def set_wanted(self, name: str, on: bool) -> None:
        """Show or hide an optional panel."""
        if (name in self._wanted) != on:
            (self._wanted.add if on else self._wanted.discard)(name)
            self.arrange()

    def columns(self) -> int:
        names = self.visible_names()
        if self.mode == "row":
            return len(names)
        return best_columns(len(names), self.width(), self.height(), self.aspect)

    def arrange(self) -> None:
        """Place the visible tiles for the layout mode and the widget's size (nothing
        moves when neither changed)."""
        names = self.visible_names()
        cols = 0 if self.mode == "tabs" else self.columns()
        key = (self.mode, names, cols)
        if key == self._arranged:
            return
        self._arranged = key
        self._tabs.clear()
        for tile in self.tiles.values():
            self._grid.removeWidget(tile)
        for i in range(len(PANELS)):
            self._grid.setRowStretch(i, 0)
            self._grid.setColumnStretch(i, 0)
        if self.mode == "tabs":
            current = self._tabs.currentIndex()
            for name in names:
                self._tabs.addTab(self.tiles[name], TITLES[name])  # (it shows one at a time)
            self._tabs.setCurrentIndex(max(current, 0))
            self._stack.setCurrentWidget(self._tabs)
            for name, tile in self.tiles.items():
                if name not in names:
                    tile.setVisible(False)
        else:
            for i, name in enumerate(names):
                self._grid.addWidget(self.tiles[name], *divmod(i, cols))
            rows = math.ceil(len(names) / cols)
            for r in range(rows):
                self._grid.setRowStretch(r, 1)
            for c in range(cols):
                self._grid.setColumnStretch(c, 1)
            self._stack.setCurrentWidget(self._grid_host)
            for name, tile in self.tiles.items():
                tile.setVisible(name in names)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.arrange()

    # -- content -------------------------------------------------------------------------------
    def set_title(self, name: str, text: str) -> None:
        self.titles[name].setText(text)

    def show_image(self, name: str, image: np.ndarray) -> None:
        """image float (H, W, 3) in [0, 1] (clipped for display), or uint8 (H, W, 3)."""
        data = image if image.dtype == np.uint8 else to_uint8(image)
        self.data[name] = data
        # uint8 without levels is drawn as it is (with levels pyqtgraph rescales every time)
        self.items[name].setImage(data, autoLevels=False)

    def show_heatmap(
        self,
        name: str,
        values: np.ndarray,
        patch: int,
        cmap: str,
        base: np.ndarray | None = None,
        opacity: float = 1.0,
    ) -> None:
        """Per-patch values (gh, gw) as a colormapped image (its colorbar spans the finite
        values' min to max); over `base` (float in [0, 1] or uint8, (H, W, 3)) when given."""
        rgba = heatmap_rgba(values, patch, cmap)
        finite = values[np.isfinite(values)]
        if finite.size:
            self.tiles[name].set_scale(float(finite.min()), float(finite.max()), cmap)
        else:
            self.tiles[name].hide_scale()
        if base is None:
            self.data[name] = rgba[..., :3]
            self.items[name].setImage(rgba, autoLevels=False)
            return
        base8 = base if base.dtype == np.uint8 else to_uint8(base)
        self.items[name].setImage(base8, autoLevels=False)
        overlay = self.overlays[name]
        overlay.setImage(rgba, autoLevels=False)
        overlay.setOpacity(opacity)
        blend = base8 * (1 - opacity) + rgba[..., :3] * opacity
        self.data[name] = blend.astype(np.uint8)

    def show_marks(self, name: str, rgba: np.ndarray | None) -> None:
        """An RGBA (H, W, 4) layer over a panel's image (None removes it)."""
        marks = self.tiles[name].marks
        if rgba is None:
            marks.clear()
        else:
            marks.setImage(rgba, autoLevels=False)

    def clear(self, name: str) -> None:
        if self.data.pop(name, None) is None:
            return  # already empty: no repaint
        tile = self.tiles[name]
        for item in (tile.image, tile.overlay, tile.marks):
            item.clear()
        tile.hide_scale()

    # -- geometry and the linked cursor --------------------------------------------------------
    def fit(self, width: int, height: int) -> None:
        """Show the whole image in every view (the canvas's too)."""
        self.aspect = width / max(height, 1)
        self.sync.show_all(width, height)
        self.arrange()

    def set_hover(self, cell: tuple[int, int] | None, patch: int) -> None:
        for tile in self.tiles.values():
            place_outline(tile.hover, cell, patch)

    def set_query(self, cell: tuple[int, int] | None, patch: int) -> None:
        for tile in self.tiles.values():
            place_outline(tile.query, cell, patch)
