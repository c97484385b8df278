"""Analysis plots: masked PSNR against mask ratio, per-patch error histogram; and the heads
view (all heads of one layer side by side). pyqtgraph widgets; the numbers come from the
engine (the sweep runs on the inference lane)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from ..engine import masks as masks_mod
from ..engine.session import ModelSession
from .imaging import heatmap_rgba

SWEEP_RATIOS = tuple(round(r, 2) for r in np.arange(0.10, 0.951, 0.05))


def ratio_sweep(
    session: ModelSession,
    image: np.ndarray,
    seeds: int = 3,
    ratios: tuple[float, ...] = SWEEP_RATIOS,
) -> dict[str, np.ndarray]:
    """Masked PSNR (dB) at each ratio over `seeds` random masks (runs on the worker).

    Returns ratios (R,), mean (R,) and std (R,) float64.
    """
    grid = session.config.grid_size
    means, stds = [], []
    for r in ratios:
        values = []
        for seed in range(seeds):
            mask = masks_mod.random_mask(grid, r, seed)
            rec = session.reconstruct(image, mask)
            if rec.masked_psnr is not None and np.isfinite(rec.masked_psnr):
                values.append(rec.masked_psnr)
        means.append(np.mean(values) if values else np.nan)
        stds.append(np.std(values) if values else np.nan)
    return {"ratios": np.asarray(ratios), "mean": np.asarray(means), "std": np.asarray(stds)}


class AnalysisPanel(QWidget):
    """PSNR-vs-ratio plot (with a Run button) and the per-patch error histogram."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        self.sweep_plot = pg.PlotWidget(title="Masked PSNR vs mask ratio")
        self.sweep_plot.setLabel("bottom", "mask ratio")
        self.sweep_plot.setLabel("left", "PSNR", units="dB")
        self.sweep_plot.showGrid(x=True, y=True, alpha=0.3)
        self.sweep_curve = self.sweep_plot.plot(
            [], [], pen=pg.mkPen("#f0a030", width=2), symbol="o", symbolSize=5
        )
        self.sweep_err = pg.ErrorBarItem(pen=pg.mkPen("#f0a030"))
        self.sweep_plot.addItem(self.sweep_err)
        self.run_button = QPushButton("Run ratio sweep")
        self.run_button.setToolTip(
            "Reconstruct the current image at mask ratios 0.10-0.95 "
            "with several random masks each (on the worker)"
        )
        self.seeds_spin = QSpinBox()
        self.seeds_spin.setRange(1, 10)
        self.seeds_spin.setValue(3)
        self.seeds_spin.setPrefix("seeds: ")
        self.sweep_note = QLabel("")
        self.hist_plot = pg.PlotWidget(title="Per-patch error (pixel MSE)")
        self.hist_plot.setLabel("bottom", "MSE")
        self.hist_plot.setLabel("left", "patches")
        self.hist_masked = pg.BarGraphItem(x=[], height=[], width=0, brush="#f0a030")
        self.hist_visible = pg.BarGraphItem(x=[], height=[], width=0, brush="#3090f0")
        self.hist_plot.addItem(self.hist_visible)
        self.hist_plot.addItem(self.hist_masked)
        self.hist_plot.addLegend()
        lay.addWidget(self.sweep_plot, 1)
        lay.addWidget(self.seeds_spin)
        lay.addWidget(self.run_button)
        lay.addWidget(self.sweep_note)
        lay.addWidget(self.hist_plot, 1)

    def show_sweep(self, data: dict[str, np.ndarray]) -> None:
        x, y, e = data["ratios"], data["mean"], data["std"]
        self.sweep_curve.setData(x, y)
        self.sweep_err.setData(x=x, y=y, height=2 * e)
        self.sweep_note.setText(f"{len(x)} ratios, mean ± std")

    def show_histogram(self, patch_error: np.ndarray, mask: np.ndarray) -> None:
        """Histogram of per-patch errors, masked (orange) and visible (blue) patches."""
        finite = np.isfinite(patch_error)
        if not finite.any():
            self.hist_masked.setOpts(x=[], height=[])
            self.hist_visible.setOpts(x=[], height=[])
            return
        edges = np.histogram_bin_edges(patch_error[finite], bins=20)
        width = float(edges[1] - edges[0]) if len(edges) > 1 else 1.0
        centres = (edges[:-1] + edges[1:]) / 2
        hm, _ = np.histogram(patch_error[mask & finite], edges)
        hv, _ = np.histogram(patch_error[~mask & finite], edges)
        self.hist_masked.setOpts(x=centres - width * 0.2, height=hm, width=width * 0.4)
        self.hist_visible.setOpts(x=centres + width * 0.2, height=hv, width=width * 0.4)


class HeadsView(pg.GraphicsLayoutWidget):
    """Small multiples: every head of one layer, side by side, same colormap."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._items: list[pg.ImageItem] = []
        self._labels: list[pg.LabelItem] = []

    def show_heads(self, layer_maps: np.ndarray, patch: int, cmap: str) -> None:
        """layer_maps: (heads, gh, gw) with NaN for absent cells."""
        heads = layer_maps.shape[0]
        if len(self._items) != heads:
            self.clear()
            self._items = []
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
                self.addLabel(f"head {h}", row=2 * (h // cols), col=h % cols, size="8pt")
                item = pg.ImageItem()
                view.addItem(item)
                self._items.append(item)
        for item, values in zip(self._items, layer_maps, strict=True):
            item.setImage(heatmap_rgba(values, max(1, patch // 4), cmap), levels=(0, 255))
