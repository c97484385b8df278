"""The main window: it assembles the canvas, the result panels, the docks, the menus and
the status bar, and binds them to the editor state and the live loop. GUI thread only.

Where things happen: a stroke becomes a mask edit in `core.editor.EditorState.paint` and a
request in `EditorState.analyse_request`; a request becomes tensors in `core.worker`
(then `engine.session`); a result becomes pixels in `app.results_view`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from .. import APP_NAME
from ..core.editor import EditorState
from ..core.live import LiveController, Shown
from ..core.readout import patch_readout
from ..engine.brush import pixel_to_patch
from . import settings as settings_mod
from .bridge import LaneBridge
from .canvas import MaskCanvas
from .dialogs import HeadCountsDialog, show_help, show_model_info
from .docks.analysis_dock import AnalysisDock
from .docks.attention_dock import AttentionDock
from .docks.heads_dock import HeadsView
from .docks.mask_dock import MaskDock
from .docks.metrics_dock import MetricsDock
from .files import FileActions, pil_from_qimage
from .menus import Menus
from .panels import LAYOUTS, ResultPanels
from .results_view import ResultsView
from .status import StatusLine
from .tiles import ElidedLabel

# Results are drawn at most about 60 times a second, 30 while the user paints (the mask
# overlay on the canvas follows every mouse event; the panels need not, and the GUI thread
# keeps time for the mouse).
DRAW_INTERVAL_MS = 15
DRAW_INTERVAL_PAINTING_MS = 33
# the canvas's share of the central area per layout (the rest goes to the panels)
CANVAS_SHARE = {"grid": 0.42, "row": 0.6, "tabs": 0.5}
READOUT_HINT = "Point at the image or any panel: the patch's position, mask, error, attention"


class MainWindow(QMainWindow):
    """The application window. `editor` holds the state, `live` runs the models, `files`
    opens and saves; tests and scripts drive those."""

    analysis_drawn = Signal(int)  # id of the analysis just drawn
    model_loaded = Signal(dict)  # the main model's info, after every load or move
    error_shown = Signal(str)

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings(APP_NAME, APP_NAME)
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.dialogs_enabled = True  # tests and one-shot modes read error_shown instead
        self._closed = False
        self._pending: Shown | None = None  # the newest result, waiting for its draw slot
        self._rest: Shown | None = None  # drawn but for its attention panel and docks
        self._shown_image_id = -1  # the editor image the canvas shows
        self._pointer: tuple[float, float] | None = None  # the linked cursor, image pixels
        self._hover_cell: tuple[int, int] | None = None
        self.layout_mode = "grid"
        # the clock of the draw throttle (seconds; a test gives a fake one)
        self.clock: Callable[[], float] = time.perf_counter
        self._last_draw = 0.0
        self._draw_timer = QTimer(self)
        self._draw_timer.setSingleShot(True)
        self._draw_timer.timeout.connect(self._draw_pending)
        self.editor = EditorState()
        self.bridge = LaneBridge(self)
        self.live = LiveController(self.editor, self.bridge.post)
        self.bridge.connect_receiver(self.live.handle_all)
        self._build_central()
        self._build_docks()
        self.status = StatusLine(self.statusBar(), self.editor)
        self.files = FileActions(
            self,
            self.editor,
            self.live,
            self.panels,
            self.settings,
            self.show_error,
            self.status.notice,
        )
        self.results = ResultsView(
            self.editor,
            self.panels,
            self.heads,
            self.analysis,
            self.heads_dock.isVisible,
            self.analysis_dock.isVisible,
        )
        self.menus = Menus(self)
        self._connect()
        self.resize(1400, 820)
        settings_mod.restore(self)

    # -- assembly ----------------------------------------------------------------------------
    def _build_central(self) -> None:
        self.canvas = MaskCanvas()
        self.panels = ResultPanels(self.canvas.view)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.canvas)
        self.splitter.addWidget(self.panels)
        self.splitter.setStretchFactor(0, 4)  # canvas and panels grow together
        self.splitter.setStretchFactor(1, 5)
        self.splitter.setSizes([560, 700])
        self.readout = ElidedLabel(READOUT_HINT)  # the linked cursor's line
        self.readout.setObjectName("readout")
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.splitter, 1)
        box.addWidget(self.readout)
        self.setCentralWidget(central)

    def set_layout(self, mode: str) -> None:
        """grid: canvas beside the panels in an even grid; row: canvas above the panels
        in one row; tabs: canvas beside one large panel at a time."""
        if mode not in LAYOUTS:
            raise ValueError(f"unknown layout {mode!r}")
        self.layout_mode = mode
        vertical = mode == "row"
        orientation = Qt.Orientation.Vertical if vertical else Qt.Orientation.Horizontal
        if self.splitter.orientation() != orientation or self.panels.mode != mode:
            self.splitter.setOrientation(orientation)
            total = max(sum(self.splitter.sizes()), 200)
            first = int(total * CANVAS_SHARE[mode])
            self.splitter.setSizes([first, total - first])
        self.panels.set_layout(mode)
        if hasattr(self, "menus"):
            self.menus.check(self.menus.layout_group, mode)

    def set_mask_style(self, style: str) -> None:
        """How the canvas draws masked patches (imaging.MASK_STYLES)."""
        self.canvas.set_mask_style(style)
        if hasattr(self, "menus"):
            self.menus.check(self.menus.mask_style_group, style)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        widget.setMinimumWidth(250)  # a steady width: growing text wraps, docks stay put
        widget.setMaximumWidth(320)
        dock.setObjectName(title.replace(" ", "_").lower())
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        self.mask_dock = MaskDock(self.editor, self.canvas)
        self.attention_dock = AttentionDock(self.editor)
        self.metrics = MetricsDock()
        self.analysis = AnalysisDock(self.editor, self.live)
        self.heads = HeadsView()
        self.docks = [
            self._dock("Mask", self.mask_dock, left),
            self._dock("Attention", self.attention_dock, left),
            self._dock("Metrics", self.metrics, left),
            self._dock("Analysis", self.analysis, right),
            self._dock("Heads", self.heads, right),
        ]
        self.analysis_dock, self.heads_dock = self.docks[3], self.docks[4]
        self.tabifyDockWidget(self.analysis_dock, self.heads_dock)
        self.analysis_dock.raise_()
        for dock in (self.analysis_dock, self.heads_dock):
            dock.hide()  # drawn when shown (skipped while hidden)
            dock.visibilityChanged.connect(lambda _v: self.results.draw_extras())

    def _connect(self) -> None:
        canvas, editor, live = self.canvas, self.editor, self.live
        canvas.stroke_changed.connect(editor.paint)
        canvas.stroke_finished.connect(editor.end_stroke)
        canvas.query_picked.connect(lambda row, col: editor.pick_query((row, col)))
        canvas.pointer.connect(self.point_at)
        self.panels.pointer.connect(self.point_at)
        editor.image_changed.connect(self._on_image_changed)
        editor.mask_changed.connect(self._on_mask_changed)
        editor.stroke_finished.connect(self._sync_linked_cursor)
        editor.options_changed.connect(lambda _names: self._show_query())
        editor.model_changed.connect(self._on_model_changed)
        editor.compare_changed.connect(
            lambda: self.panels.set_wanted("compare", editor.compare is not None)
        )
        live.analysis_shown.connect(self._on_analysis_shown)
        live.error.connect(self.show_error)
        live.notice.connect(self.status.notice)
        live.busy_changed.connect(self.status.set_busy)

    # -- editor and live events --------------------------------------------------------------
    def _on_image_changed(self) -> None:
        editor = self.editor
        if editor.image is not None and editor.image_id != self._shown_image_id:
            self._shown_image_id = editor.image_id  # (a device switch keeps it, and the zoom)
            self.canvas.set_image(editor.image, editor.patch_size)
            self.panels.fit(editor.image.shape[1], editor.image.shape[0])
        self.canvas.set_mask(editor.mask)
        self._show_query()
        self._update_title()
        self.point_at(self._pointer)

    def _on_mask_changed(self) -> None:
        self.canvas.set_mask(self.editor.mask)
        if not self.editor.stroking:
            self._update_readout()

    def _on_model_changed(self) -> None:
        self._on_image_changed()  # the image may have been refitted to the new model
        self.model_loaded.emit(self.editor.model)
        name = Path(self.editor.model["path"]).name
        self.status.notice(f"Loaded {name}: {self.editor.model['architecture']}", 8000)

    def _on_analysis_shown(self, shown: Shown) -> None:
        """Draw now, or (when the last draw was under the draw interval ago) at the next
        slot; a newer result replaces one waiting for its slot, so a fast model never makes
        the window draw more often than the screen refreshes."""
        self._pending = shown
        if self._draw_timer.isActive():
            return
        interval = DRAW_INTERVAL_PAINTING_MS if self.editor.stroking else DRAW_INTERVAL_MS
        wait_ms = interval - (self.clock() - self._last_draw) * 1000.0
        if wait_ms <= 0:
            self._draw_pending()
        else:
            self._draw_timer.start(int(wait_ms) + 1)

    def _draw_pending(self) -> None:
        shown, self._pending = self._pending, None
        if shown is None or self._closed or not self.live.is_current(shown):
            return
        self._last_draw = self.clock()
        self.results.draw(shown)
        self.metrics.show_result(shown)
        self.status.show_result(shown)
        # the attention panel and the docks in the next turn of the event loop: the window
        # repaints in two shorter pieces, and mouse events get handled in between
        self._rest = shown
        QTimer.singleShot(0, lambda: self._draw_rest(shown))

    def _draw_rest(self, shown: Shown) -> None:
        if self._closed or self._rest is not shown:
            return  # a newer result was drawn meanwhile: its own rest follows
        self._rest = None
        self.results.draw_extras()
        self._sync_linked_cursor()
        self.analysis_drawn.emit(shown.id)

    @property
    def up_to_date(self) -> bool:
        """Nothing asked of the worker is outstanding and its newest result is drawn."""
        return (
            not self.live.busy
            and not self.files.decoder.busy
            and self._pending is None
            and self._rest is None
        )

    def _show_query(self) -> None:
        a = self.editor.attention
        cell = a.cell if a.query == "patch" else None
        self.canvas.set_query(cell)
        self.panels.set_query(cell, self.editor.patch_size)

    def _update_title(self) -> None:
        parts = [APP_NAME]
        if self.editor.model:
            parts.append(self.editor.model_name)
        if self.editor.image is not None:
            parts.append(self.editor.image_name)
        self.setWindowTitle(" — ".join(parts))

    # -- the linked cursor --------------------------------------------------------------------
    def point_at(self, pos: tuple[float, float] | None) -> None:
        """The pointer is at image pixel pos over the canvas or a panel (None: it left):
        its patch is outlined in every view and the readout describes it. While a stroke
        goes on only the canvas follows at once; the panels and the readout follow with the
        next result drawn (each panel outline moved is a repaint of every panel)."""
        self._pointer = pos
        editor = self.editor
        cell = None
        if pos is not None:
            cell = pixel_to_patch(pos[0], pos[1], editor.patch_size, editor.grid)
        if cell != self._hover_cell:
            self._hover_cell = cell
            self.canvas.set_hover(cell)
        if not editor.stroking:
            self._sync_linked_cursor()

    def _sync_linked_cursor(self) -> None:
        self.panels.set_hover(self._hover_cell, self.editor.patch_size)
        self._update_readout()

    def _update_readout(self) -> None:
        """The readout for the pointer, from the mask being edited and the result on
        screen (so it is never stale after a drag or a new result)."""
        pos, editor = self._pointer, self.editor
        text = ""
        if pos is not None and editor.image is not None:
            shown = self.results.shown
            rec = shown.outcome.analysis.reconstruction if shown else None
            att = self.results.attention_values if shown else None
            text = patch_readout(pos, editor.patch_size, editor.mask, editor.image, rec, att)
        self.readout.setText(text or READOUT_HINT)

    # -- actions -----------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        """Tell the user; nothing else changes (state stays as it was)."""
        self.menus.sync_model()  # undo a menu click the worker refused
        self.statusBar().showMessage(message, 10000)
        self.error_shown.emit(message)
        if self.dialogs_enabled:
            QMessageBox.warning(self, APP_NAME, message)

    def set_device(self, device: str | None, dtype: str | None) -> int | None:
        """Move the model (Device/Precision menus); the image and mask stay."""
        if self.editor.model is None:
            self.show_error("open a checkpoint first")
            return None
        device = device or self.editor.device_choice
        dtype = dtype or self.editor.model["dtype"]
        self.menus.check(self.menus.device_group, device)
        return self.live.move_model(device, dtype)

    def show_model_info(self) -> None:
        if self.editor.model is None:
            self.show_error("no model loaded")
        else:
            show_model_info(self, self.editor.model)

    def choose_head_counts(self) -> None:
        if self.editor.model is None:
            self.show_error("no model loaded")
            return
        dialog = HeadCountsDialog(self, self.editor.model)
        if dialog.exec():
            self.live.set_heads(*dialog.values())

    def show_help(self) -> None:
        show_help(self)

    def reset_zoom(self) -> None:
        if self.editor.image is not None:
            self.panels.fit(self.editor.image.shape[1], self.editor.image.shape[0])

    def saved_device(self) -> tuple[str, str]:
        return settings_mod.saved_device(self.settings)

    def save_settings(self) -> None:
        settings_mod.save(self)

    # -- drag and drop, closing --------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        data = event.mimeData()
        if data.hasUrls():
            for url in data.urls():
                if url.isLocalFile():
                    self.files.open_path(url.toLocalFile())
        elif data.hasImage():
            self.editor.set_source(pil_from_qimage(QImage(data.imageData())), None)

    def closeEvent(self, event) -> None:
        """Save the settings, hide at once, and return when the running forward pass ends
        (what was waiting is dropped)."""
        if not self._closed:
            self._closed = True
            self.save_settings()
            self.hide()
            self.files.decoder.close()  # an image still decoding is not shown
            self.live.close()
        super().closeEvent(event)
