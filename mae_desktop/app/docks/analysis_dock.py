"""The Analysis dock: masked PSNR against mask ratio (run on the worker, with progress and
Cancel) and the per-patch error histogram of the result on screen."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core.editor import EditorState
from ...core.live import LiveController
from ...core.requests import CANCELLED, DONE, Progress, Result, Sweep
from .common import plural

SWEEP_TITLE = "Masked PSNR vs mask ratio"
CURVE_NAME = "mean ± std over random masks"


class AnalysisDock(QWidget):
    """A sweep plot belongs to one image and one model: it is cleared when either changes.
    GUI thread only."""

    def __init__(self, editor: EditorState, live: LiveController) -> None:
        super().__init__()
        self.editor, self.live = editor, live
        self.plotted: tuple[int, int] | None = None  # (image_id, generation) of the curve
        # the last mark_current call (ratio, psnr, image_id, generation), redrawn with a curve
        self._current: tuple[float, float | None, int, int] | None = None
        lay = QVBoxLayout(self)
        self.sweep_plot = pg.PlotWidget(title=SWEEP_TITLE)
        self.sweep_plot.setLabel("bottom", "mask ratio")
        self.sweep_plot.setLabel("left", "PSNR", units="dB")
        self.sweep_plot.showGrid(x=True, y=True, alpha=0.3)
        self.sweep_legend = self.sweep_plot.addLegend(offset=(-10, -10))
        self.sweep_curve = self.sweep_plot.plot(
            [], [], pen=pg.mkPen("#f0a030", width=2), symbol="o", symbolSize=5, name=CURVE_NAME
        )
        self.sweep_err = pg.ErrorBarItem(pen=pg.mkPen("#f0a030"))
        self.sweep_plot.addItem(self.sweep_err)
        self.current_marker = pg.ScatterPlotItem(
            [],
            [],
            symbol="star",
            size=16,
            pen=pg.mkPen("#000000", width=1),
            brush=pg.mkBrush("#ffffff"),
            name="current mask",
        )
        self.current_marker.setZValue(10)  # above the curve and its error bars
        self.sweep_plot.addItem(self.current_marker)
        self.seeds_spin = QSpinBox()
        self.seeds_spin.setRange(1, 10)
        self.seeds_spin.setValue(3)
        self.seeds_spin.setPrefix("seeds: ")
        self.run_button = QPushButton("Run ratio sweep")
        self.run_button.setToolTip(
            "Reconstruct the current image at mask ratios 0.10-0.95 with several random "
            "masks each (on the worker, one pass at a time: painting stays live)"
        )
        self.run_button.clicked.connect(lambda _c=False: self.run())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(lambda _c=False: live.cancel_sweep())
        buttons = QHBoxLayout()
        buttons.addWidget(self.seeds_spin)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.sweep_note = QLabel("")
        self.sweep_note.setWordWrap(True)
        self.hist_plot = pg.PlotWidget(title="Per-patch error (pixel MSE)")
        self.hist_plot.setLabel("bottom", "MSE")
        self.hist_plot.setLabel("left", "patches")
        self.hist_plot.addLegend()
        self.hist_masked = pg.BarGraphItem(
            x=[], height=[], width=0, brush="#f0a030", name="masked patches"
        )
        self.hist_visible = pg.BarGraphItem(
            x=[], height=[], width=0, brush="#3090f0", name="visible patches"
        )
        self.hist_plot.addItem(self.hist_masked)
        self.hist_plot.addItem(self.hist_visible)
        lay.addWidget(self.sweep_plot, 1)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.sweep_note)
        lay.addWidget(self.hist_plot, 1)
        live.sweep_progress.connect(self._on_sweep_progress)
        live.sweep_finished.connect(self._on_sweep_finished)
        editor.image_changed.connect(self._on_subject_changed)
        editor.model_changed.connect(self._on_subject_changed)

    # -- the sweep ---------------------------------------------------------------------------
    def run(self) -> int | None:
        rid = self.live.request_sweep(self.seeds_spin.value())
        if rid is not None:
            self.cancel_button.setEnabled(True)
            self.progress.setRange(0, 0)
            self.progress.setVisible(True)
            self.sweep_note.setText(
                f"running on {self.editor.image_name} with {self.editor.model_name}…"
            )
        return rid

    def _on_sweep_progress(self, p: Progress) -> None:
        self.progress.setRange(0, p.total)
        self.progress.setValue(p.done)

    def _on_sweep_finished(self, r: Result) -> None:
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)
        request = r.request
        assert isinstance(request, Sweep)
        if r.status == DONE and self._is_current(request):
            self._plot(r)
        elif r.status == CANCELLED:
            self.sweep_note.setText(f"sweep stopped: {r.message}")
        elif r.status != DONE:
            self.sweep_note.setText(f"sweep failed: {r.message}")

    def _is_current(self, request: Sweep) -> bool:
        return (request.image_id, request.generation) == (
            self.editor.image_id,
            self.editor.generation,
        )

    def _plot(self, r: Result) -> None:
        data, request = r.payload, r.request
        x, y, e = data.ratios, data.mean, data.std
        self.sweep_curve.setData(x, y)
        self.sweep_err.setData(x=x, y=y, height=2 * e)
        self.plotted = (request.image_id, request.generation)
        self.sweep_plot.setTitle(f"{SWEEP_TITLE} — {request.image_name} · {request.model_name}")
        self._name_curve(f"mean ± std over {plural(data.seeds, 'seed')}")
        self.sweep_note.setText(
            f"{request.image_name} · {request.model_name}: {plural(len(x), 'ratio')} × "
            f"{plural(data.seeds, 'seed')}, mean ± std ({r.seconds:.1f} s)"
        )
        self._draw_current()

    def clear_sweep(self, why: str = "") -> None:
        self.sweep_curve.setData([], [])
        self.sweep_err.setData(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0))
        self.plotted = None
        self.sweep_plot.setTitle(SWEEP_TITLE)
        self._name_curve(CURVE_NAME)
        self.sweep_note.setText(why)
        self._draw_current()

    def _name_curve(self, name: str) -> None:
        label = self.sweep_legend.getLabel(self.sweep_curve)
        if label is not None:
            label.setText(name)

    def mark_current(
        self, ratio: float, psnr: float | None, image_id: int, generation: int
    ) -> None:
        """Mark the result on screen on the sweep plot: its mask ratio in [0, 1] and masked
        PSNR in dB (None: not known), made for image `image_id` by model `generation`. Shown
        only beside a curve of the same image and model."""
        self._current = (float(ratio), psnr, int(image_id), int(generation))
        self._draw_current()

    def _draw_current(self) -> None:
        cur = self._current
        if (
            cur is None
            or cur[1] is None
            or not np.isfinite(cur[1])
            or self.plotted != (cur[2], cur[3])
        ):
            self.current_marker.setData([], [])
        else:
            self.current_marker.setData([cur[0]], [float(cur[1])])

    def _on_subject_changed(self) -> None:
        if self.plotted is not None and self.plotted != (
            self.editor.image_id,
            self.editor.generation,
        ):
            self.clear_sweep("the image or model changed: run the sweep again")

    # -- the histogram -----------------------------------------------------------------------
    def show_histogram(self, patch_error: np.ndarray, mask: np.ndarray) -> None:
        """Per-patch errors (gh, gw), masked (orange) and visible (blue) patches."""
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
