"""The Heads dock: every head of one attention layer, side by side (small multiples)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ..imaging import heatmap_rgba


class HeadsView(pg.GraphicsLayoutWidget):
    """Small multiples: every head of one layer, side by side, same colormap."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._items: list[pg.ImageItem] = []
        self._labels: list[pg.LabelItem] = []

    @property
    def labels(self) -> list[str]:
        """The heads' captions, in order."""
        return [label.text for label in self._labels]

    def show_heads(self, layer_maps: np.ndarray, patch: int, cmap: str) -> None:
        """layer_maps: (heads, gh, gw) with NaN for absent cells; labelled "head 1".."head N"
        (heads count from 1 on screen)."""
        heads = layer_maps.shape[0]
        if len(self._items) != heads:
            self.clear()
            self._items, self._labels = [], []
            cols = int(np.ceil(np.sqrt(heads)))
            for h in range(heads):
                view = self.addViewBox(
                    row=2 * (h // cols) + 1,
                    col=h % cols,
                    lockAspect=True,
                    invertY=True,
                    enableMouse=False,
                    enableMenu=False,
                )
                label = self.addLabel(
                    f"head {h + 1}", row=2 * (h // cols), col=h % cols, size="8pt"
                )
                self._labels.append(label)
                item = pg.ImageItem()
                view.addItem(item)
                self._items.append(item)
        for item, values in zip(self._items, layer_maps, strict=True):
            item.setImage(heatmap_rgba(values, max(1, patch // 4), cmap), autoLevels=False)
