"""The main window: canvas, result panels, tool docks, menus; all inference goes to the lane.

Threads: every method here runs on the GUI thread. The model lives in the lane's worker;
the GUI sends frozen requests (image and a copy of the mask) and draws results whose job id
is still the newest of its kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from .. import APP_NAME
from ..engine import masks as masks_mod
from ..engine.brush import MaskHistory
from ..engine.config import MAEConfig
from ..engine.device import available_devices, resolve_device, supported_dtypes
from ..engine.errors import MAEError
from ..engine.images import RESIZE_POLICIES, fit_image, read_image
from ..engine.reconstruction import MODES, masked_view
from ..engine.session import Analysis, ModelSession
from ..paths import package_resources
from ..session_file import Session, file_sha256, load_session, save_session
from .analysis import AnalysisPanel, HeadsView, ratio_sweep
from .canvas import MaskCanvas
from .imaging import COLORMAPS
from .lane import InferenceLane, JobResult
from .panels import PANELS, TITLES, ResultPanels

CHECKPOINT_SUFFIXES = {".pth", ".pt", ".bin", ".ckpt", ".safetensors", ".tar"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm"}
SHORTCUTS = [
    ("Open image", "Ctrl+O"),
    ("Open checkpoint", "Ctrl+Shift+O"),
    ("Paste image", "Ctrl+V"),
    ("Undo", "Ctrl+Z"),
    ("Redo", "Ctrl+Shift+Z"),
    ("Brush tool", "B"),
    ("Rectangle tool", "R"),
    ("Pick attention query", "Q"),
    ("Toggle mask/unmask", "X"),
    ("Brush smaller / larger", "[ / ]"),
    ("Invert mask", "I"),
    ("Clear mask", "C"),
    ("Mask everything", "A"),
    ("New random mask", "N"),
    ("Model info", "Ctrl+I"),
    ("Reset zoom", "0"),
    ("Help", "F1"),
]


def _pil_from_qimage(qimage: QImage) -> Image.Image:
    img = qimage.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = img.width(), img.height(), img.bytesPerLine()
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(h, stride)[:, : w * 3]
    return Image.fromarray(arr.reshape(h, w, 3).copy())


class MainWindow(QMainWindow):
    """The application window. Public methods are what menus, tests and scripts call."""

    analysis_drawn = Signal(int)  # job id of a reconstruction/attention result just drawn
    model_loaded = Signal(dict)  # the model's info
    error_shown = Signal(str)

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings(APP_NAME, APP_NAME)
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.lane = InferenceLane()
        self.lane.signals.finished.connect(self._on_job_finished)
        self.model_info: dict[str, Any] | None = None
        self.cfg: MAEConfig | None = None
        self.checkpoint_path: str | None = None
        self.source: Image.Image | None = None
        self.image_path: str | None = None
        self.image: np.ndarray | None = None
        self.mask = masks_mod.random_mask((14, 14), 0.75, 0)  # the start-up mask
        self.history = MaskHistory(self.mask)
        self.query: str | tuple[int, int] = "cls"
        self.last: Analysis | None = None
        self.last_mask: np.ndarray | None = None
        self.latest: dict[str, int] = {}
        self.pending: dict[str, int] = {}
        self.stale_drawn = 0
        self.dialogs_enabled = True  # tests switch dialogs off and read error_shown
        self._stroke_base: np.ndarray | None = None
        self._session_mask: np.ndarray | None = None
        self._closed = False  # applied once the session's model is in
        self._build_ui()
        self._restore_settings()

    # -- UI construction -----------------------------------------------------------------
    def _build_ui(self) -> None:
        self.canvas = MaskCanvas()
        self.panels = ResultPanels(self.canvas.view)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.canvas)
        splitter.addWidget(self.panels)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 5)
        splitter.setSizes([560, 700])
        self.splitter = splitter
        self.setCentralWidget(splitter)
        self.canvas.stroke_changed.connect(self._on_stroke_changed)
        self.canvas.stroke_finished.connect(self._on_stroke_finished)
        self.canvas.query_picked.connect(self._on_query_picked)
        self.canvas.hovered.connect(self._on_hovered)
        self._build_mask_dock()
        self._build_attention_dock()
        self._build_metrics_dock()
        self.analysis = AnalysisPanel()
        self.analysis.run_button.clicked.connect(self.request_sweep)
        self.analysis_dock = self._dock(
            "Analysis", self.analysis, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.heads = HeadsView()
        self.heads_dock = self._dock("Heads", self.heads, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.analysis_dock, self.heads_dock)
        # drawn when shown (they are skipped while hidden)
        self.analysis_dock.visibilityChanged.connect(lambda _v: self._redraw_extras())
        self.heads_dock.visibilityChanged.connect(lambda _v: self._redraw_extras())
        self.analysis_dock.raise_()
        self.analysis_dock.hide()
        self.heads_dock.hide()
        self._build_menus()
        self._build_status()
        self.resize(1400, 820)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        widget.setMaximumWidth(320)
        dock.setObjectName(title.replace(" ", "_").lower())
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_mask_dock(self) -> None:
        w = QWidget()
        form = QFormLayout(w)
        self.tool_combo = QComboBox()
        self.tool_combo.addItems(["brush", "rectangle", "query"])
        self.tool_combo.setToolTip("Brush (B), rectangle (R), or pick the attention query (Q)")
        self.tool_combo.currentTextChanged.connect(self.set_tool)
        form.addRow("Tool", self.tool_combo)
        self.erase_check = QCheckBox("Left button unmasks")
        self.erase_check.setToolTip("Mask/unmask toggle for one-button mice and tablets (X)")
        self.erase_check.toggled.connect(lambda on: setattr(self.canvas, "erase_with_left", on))
        form.addRow(self.erase_check)
        self.brush_spin = QSpinBox()
        self.brush_spin.setRange(1, 9)
        self.brush_spin.setSuffix(" patches")
        self.brush_spin.setToolTip("Brush size in patches ([ and ])")
        self.brush_spin.valueChanged.connect(lambda v: setattr(self.canvas, "brush_size", v))
        form.addRow("Brush", self.brush_spin)
        self.shape_combo = QComboBox()
        self.shape_combo.addItems(["square", "round"])
        self.shape_combo.currentTextChanged.connect(
            lambda s: setattr(self.canvas, "brush_shape", s)
        )
        form.addRow("Shape", self.shape_combo)
        self.gen_combo = QComboBox()
        self.gen_combo.addItems(list(masks_mod.MASK_MODES))
        self.gen_combo.setToolTip("Mask generator")
        form.addRow("Generator", self.gen_combo)
        self.ratio_slider = QSlider(Qt.Orientation.Horizontal)
        self.ratio_slider.setRange(0, 100)
        self.ratio_slider.setValue(75)
        self.ratio_label = QLabel("75%")
        self.ratio_slider.valueChanged.connect(lambda v: self.ratio_label.setText(f"{v}%"))
        row = QHBoxLayout()
        row.addWidget(self.ratio_slider)
        row.addWidget(self.ratio_label)
        form.addRow("Ratio", row)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        form.addRow("Seed", self.seed_spin)
        buttons = QHBoxLayout()
        apply_btn = QPushButton("Generate")
        apply_btn.setToolTip("Replace the mask with the generator's")
        apply_btn.clicked.connect(self.generate_mask)
        new_btn = QPushButton("New seed")
        new_btn.setToolTip("Next seed, and generate (N)")
        new_btn.clicked.connect(self.new_seed)
        buttons.addWidget(apply_btn)
        buttons.addWidget(new_btn)
        form.addRow(buttons)
        ops = QHBoxLayout()
        for text, fn, tip in (
            ("Invert", self.invert_mask, "I"),
            ("Clear", self.clear_mask, "C"),
            ("All", self.mask_everything, "A"),
        ):
            b = QPushButton(text)
            b.setToolTip(f"{text} ({tip})")
            b.clicked.connect(fn)
            ops.addWidget(b)
        form.addRow(ops)
        self.count_label = QLabel("")
        form.addRow(self.count_label)
        self.mask_dock = self._dock("Mask", w, Qt.DockWidgetArea.LeftDockWidgetArea)

    def _build_attention_dock(self) -> None:
        w = QWidget()
        form = QFormLayout(w)
        self.part_combo = QComboBox()
        self.part_combo.addItems(["encoder", "decoder"])
        self.part_combo.currentTextChanged.connect(lambda _: self.request_analysis())
        form.addRow("Part", self.part_combo)
        self.layer_slider = QSlider(Qt.Orientation.Horizontal)
        self.layer_slider.setRange(0, 0)
        self.layer_label = QLabel("1")
        self.layer_slider.valueChanged.connect(self._on_view_option_changed)
        row = QHBoxLayout()
        row.addWidget(self.layer_slider)
        row.addWidget(self.layer_label)
        form.addRow("Layer", row)
        self.head_combo = QComboBox()
        self.head_combo.addItems(["mean", "max"])
        self.head_combo.currentIndexChanged.connect(self._on_view_option_changed)
        form.addRow("Head", self.head_combo)
        self.query_combo = QComboBox()
        self.query_combo.addItems(["CLS", "mean of queries", "picked patch"])
        self.query_combo.setToolTip(
            "Whose attention: CLS token, all queries averaged, or the "
            "patch picked with the query tool (Q)"
        )
        self.query_combo.currentIndexChanged.connect(self._on_query_mode_changed)
        form.addRow("Query", self.query_combo)
        self.rollout_check = QCheckBox("Attention rollout (encoder)")
        self.rollout_check.toggled.connect(self._on_view_option_changed)
        form.addRow(self.rollout_check)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(70)
        self.opacity_slider.valueChanged.connect(self._on_view_option_changed)
        form.addRow("Opacity", self.opacity_slider)
        self.cmap_combo = QComboBox()
        self.cmap_combo.addItems(list(COLORMAPS))
        self.cmap_combo.currentTextChanged.connect(self._on_view_option_changed)
        form.addRow("Colormap", self.cmap_combo)
        self.mode_combo = QComboBox()
        self.mode_combo.addItem("auto", "auto")
        for key, label in MODES.items():
            self.mode_combo.addItem(f"{key}: {label}", key)
        self.mode_combo.setToolTip("How predictions are turned into pixels (norm_pix models)")
        self.mode_combo.currentIndexChanged.connect(lambda _: self.request_analysis())
        form.addRow("Display", self.mode_combo)
        self.attention_dock = self._dock("Attention", w, Qt.DockWidgetArea.LeftDockWidgetArea)

    def _build_metrics_dock(self) -> None:
        self.metrics_label = QLabel("No result yet")
        self.metrics_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.metrics_label.setWordWrap(True)
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.addWidget(self.metrics_label)
        lay.addStretch(1)
        self.metrics_dock = self._dock("Metrics", box, Qt.DockWidgetArea.LeftDockWidgetArea)

    def _action(
        self, menu, text: str, fn, shortcut: str | QKeySequence | None = None, tip: str = ""
    ) -> QAction:
        act = QAction(text, self)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setToolTip(tip)
            act.setStatusTip(tip)
        act.triggered.connect(lambda checked=False: fn())
        menu.addAction(act)
        self.addAction(act)
        return act

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "Open image…", self.choose_image, QKeySequence.StandardKey.Open)
        self._action(file, "Open checkpoint file…", self.choose_checkpoint, "Ctrl+Shift+O")
        self._action(file, "Open Hugging Face folder…", self.choose_checkpoint_folder)
        self._action(file, "Paste image", self.paste_image, QKeySequence.StandardKey.Paste)
        self.samples_menu = file.addMenu("Samples")
        samples = package_resources() / "samples"
        for path in sorted(samples.glob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                self._action(self.samples_menu, path.stem, lambda p=path: self.open_image(p))
        self.recent_menu = file.addMenu("Recent")
        file.addSeparator()
        self._action(file, "Open session…", self.choose_session_to_open)
        self._action(file, "Save session…", self.choose_session_to_save, "Ctrl+S")
        file.addSeparator()
        self._action(file, "Load mask…", self.choose_mask_to_load)
        self._action(file, "Save mask…", self.choose_mask_to_save)
        export_menu = file.addMenu("Export panel")
        for name in PANELS:
            self._action(
                export_menu,
                TITLES[name].split(":")[0] + "…",
                lambda n=name: self.choose_panel_export(n),
            )
        self._action(file, "Export figure…", self.choose_figure_export)
        file.addSeparator()
        self._action(file, "Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit, "Redo", self.redo, "Ctrl+Shift+Z")
        edit.addSeparator()
        self._action(edit, "Invert mask", self.invert_mask, "I")
        self._action(edit, "Clear mask", self.clear_mask, "C")
        self._action(edit, "Mask everything", self.mask_everything, "A")
        self._action(edit, "New random mask", self.new_seed, "N")
        tools = bar.addMenu("&Tools")
        self._action(tools, "Brush", lambda: self.set_tool("brush"), "B")
        self._action(tools, "Rectangle", lambda: self.set_tool("rectangle"), "R")
        self._action(tools, "Pick attention query", lambda: self.set_tool("query"), "Q")
        self._action(tools, "Toggle mask/unmask", self.erase_check.toggle, "X")
        self._action(tools, "Smaller brush", lambda: self.brush_spin.stepBy(-1), "[")
        self._action(tools, "Larger brush", lambda: self.brush_spin.stepBy(1), "]")
        view = bar.addMenu("&View")
        self._action(view, "Reset zoom", self._reset_zoom, "0")
        for dock in (
            self.mask_dock,
            self.attention_dock,
            self.metrics_dock,
            self.analysis_dock,
            self.heads_dock,
        ):
            view.addAction(dock.toggleViewAction())
        model = bar.addMenu("&Model")
        self._action(model, "Model info…", self.show_model_info, "Ctrl+I")
        self._action(model, "Compare with checkpoint…", self.choose_compare_checkpoint)
        self._action(model, "Stop comparing", self.stop_compare)
        self.device_menu = model.addMenu("Device")
        self.device_group = QActionGroup(self)
        for name in ["auto", *available_devices()]:
            act = QAction(name, self, checkable=True)
            act.setChecked(name == "auto")
            act.triggered.connect(lambda checked=False, n=name: self.set_device(n, None))
            self.device_group.addAction(act)
            self.device_menu.addAction(act)
        self.precision_menu = model.addMenu("Precision")
        self.precision_group = QActionGroup(self)
        for name in ("fp32", "fp16", "bf16"):
            act = QAction(name, self, checkable=True)
            act.setChecked(name == "fp32")
            act.triggered.connect(lambda checked=False, n=name: self.set_device(None, n))
            self.precision_group.addAction(act)
            self.precision_menu.addAction(act)
        self.resize_menu = model.addMenu("Fit images by")
        self.resize_group = QActionGroup(self)
        for name in RESIZE_POLICIES:
            act = QAction(name, self, checkable=True)
            act.setChecked(name == "stretch")
            act.triggered.connect(lambda checked=False: self._refit_image())
            self.resize_group.addAction(act)
            self.resize_menu.addAction(act)
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "Keyboard shortcuts", self.show_help, "F1")
        self._update_undo_actions()

    def _build_status(self) -> None:
        status = self.statusBar()
        self.device_label = QLabel("no model")
        self.latency_label = QLabel("")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumWidth(90)
        self.busy_bar.setMaximumHeight(14)
        self.busy_bar.setVisible(False)
        status.addPermanentWidget(self.latency_label)
        status.addPermanentWidget(self.device_label)
        status.addPermanentWidget(self.busy_bar)

    # -- settings ------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.settings
        if geometry := s.value("window/geometry"):
            self.restoreGeometry(geometry)
        if state := s.value("window/state"):
            self.restoreState(state)
        if splitter := s.value("window/splitter"):
            self.splitter.restoreState(splitter)
        self.brush_spin.setValue(int(s.value("brush/size", 1)))
        self.shape_combo.setCurrentText(str(s.value("brush/shape", "square")))
        self.cmap_combo.setCurrentText(str(s.value("view/colormap", "inferno")))
        self._rebuild_recent()

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("window/splitter", self.splitter.saveState())
        s.setValue("brush/size", self.brush_spin.value())
        s.setValue("brush/shape", self.shape_combo.currentText())
        s.setValue("view/colormap", self.cmap_combo.currentText())
        if self.model_info:
            s.setValue("model/device", self.device_group.checkedAction().text())
            s.setValue("model/dtype", self.model_info["dtype"])
        if self.checkpoint_path:
            s.setValue("last/checkpoint", self.checkpoint_path)
        if self.image_path:
            s.setValue("last/image", self.image_path)
        s.sync()

    def _remember(self, path: str) -> None:
        recent = [p for p in (self.settings.value("recent", []) or []) if p != path]
        self.settings.setValue("recent", [path, *recent][:10])
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.value("recent", []) or []:
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda checked=False, p=path: self.open_path(p))

    def _check_device_action(self, device: str) -> None:
        """Tick the device the user asked for ('auto' stays 'auto')."""
        for act in self.device_group.actions():
            act.setChecked(act.text() == device)

    def saved_device(self) -> tuple[str, str]:
        """The device and precision chosen last time, if this machine still has them."""
        device = str(self.settings.value("model/device", "auto"))
        dtype = str(self.settings.value("model/dtype", "fp32"))
        if device not in ("auto", *available_devices()):
            return "auto", "fp32"
        try:
            resolved = resolve_device(device)
        except MAEError:
            return "auto", "fp32"
        return device, dtype if dtype in supported_dtypes(resolved) else "fp32"

    # -- errors --------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        """Tell the user; nothing else changes (state stays as it was)."""
        self.statusBar().showMessage(message, 10000)
        self.error_shown.emit(message)
        if self.dialogs_enabled:
            QMessageBox.warning(self, APP_NAME, message)

    # -- opening -------------------------------------------------------------------------
    def open_path(self, path: str | Path) -> None:
        """An image or a checkpoint, told apart by what the path is."""
        p = Path(path)
        if p.is_dir() or p.suffix.lower() in CHECKPOINT_SUFFIXES:
            self.open_checkpoint(p)
        else:
            self.open_image(p)

    def open_checkpoint(self, path: str | Path, device: str = "auto", dtype: str = "fp32") -> int:
        """Load a checkpoint on the worker; the current model stays until it succeeds."""
        path = str(path)

        def job(lane: InferenceLane) -> dict:
            session = ModelSession.open(path, device, dtype)
            lane.session = session
            # hashed here, on the worker, so saving a session never stalls the window
            return {**session.info(), "sha256": file_sha256(path)}

        self._check_device_action(device)
        self.statusBar().showMessage(f"Loading {Path(path).name}…")
        return self._submit("model", job)

    def set_device(self, device: str | None, dtype: str | None) -> None:
        """Move the model (device/precision menu); the image and mask stay."""
        device = device or self.device_group.checkedAction().text()
        dtype = dtype or self.precision_group.checkedAction().text()
        self._check_device_action(device)

        sha = (self.model_info or {}).get("sha256")  # jobs must not hold Qt objects

        def job(lane: InferenceLane) -> dict:
            if lane.session is None:
                raise MAEError("open a checkpoint first")
            lane.session.to(device, dtype)
            return {**lane.session.info(), "sha256": sha}

        self._submit("model", job)

    def open_image(self, path: str | Path) -> bool:
        """Read and show an image; a bad file leaves the current one in place."""
        try:
            img = read_image(path)
        except MAEError as exc:
            self.show_error(str(exc))
            return False
        self.image_path = str(path)
        self._remember(self.image_path)
        self._set_source(img)
        return True

    def paste_image(self) -> None:
        qimage = QGuiApplication.clipboard().image()
        if qimage.isNull():
            self.show_error("the clipboard holds no image")
            return
        self.image_path = None
        self._set_source(_pil_from_qimage(qimage))

    def _set_source(self, img: Image.Image) -> None:
        self.source = img
        self._refit_image()

    def _resize_policy(self) -> str:
        return self.resize_group.checkedAction().text()

    def _refit_image(self) -> None:
        if self.source is None:
            return
        size = self.cfg.image_size if self.cfg else (224, 224)
        pad = self.cfg.pad_rgb if self.cfg else (0.5, 0.5, 0.5)
        self.image = fit_image(self.source, size, self._resize_policy(), pad)
        patch = self.cfg.patch_size if self.cfg else 16
        self.canvas.set_image(self.image, patch)
        self.panels.fit(self.image.shape[1], self.image.shape[0])
        grid = (size[0] // patch, size[1] // patch)
        if self.mask.shape != grid:
            self.mask = masks_mod.generate("random", grid, 0.75, self.seed_spin.value())
            self.history.reset(self.mask)
        self._show_mask()
        if self._session_mask is not None and self.model_info is not None:
            self._apply_session_mask()
        else:
            self.request_analysis()

    # -- sessions ------------------------------------------------------------------------
    def current_session(self) -> Session:
        return Session(
            image_path=self.image_path,
            checkpoint_path=self.checkpoint_path,
            mask=self.mask.copy(),
            image_sha256=file_sha256(self.image_path) if self.image_path else None,
            checkpoint_sha256=(self.model_info or {}).get("sha256"),
            generator={
                "mode": self.gen_combo.currentText(),
                "ratio": self.ratio_slider.value() / 100.0,
                "seed": self.seed_spin.value(),
            },
            device=str((self.model_info or {}).get("device", "auto")),
            dtype=str((self.model_info or {}).get("dtype", "fp32")),
            display_mode=self.mode_combo.currentData() or "auto",
            resize=self._resize_policy(),
            attention={
                "part": self.part_combo.currentText(),
                "layer": self.layer_slider.value(),
                "head": self.head_combo.currentText(),
                "query": list(self.query) if isinstance(self.query, tuple) else self.query,
            },
        )

    def save_session_file(self, path: str | Path) -> None:
        save_session(path, self.current_session())

    def open_session_file(self, path: str | Path) -> bool:
        """Reopen a saved session: checkpoint, image, mask and options. A bad or stale file
        leaves everything as it is."""
        try:
            session, warnings = load_session(path)
        except MAEError as exc:
            self.show_error(str(exc))
            return False
        gen = session.generator
        self.gen_combo.setCurrentText(str(gen.get("mode", "random")))
        self.ratio_slider.setValue(round(float(gen.get("ratio", 0.75)) * 100))
        self.seed_spin.setValue(int(gen.get("seed", 0)))
        idx = self.mode_combo.findData(session.display_mode)
        self.mode_combo.setCurrentIndex(max(idx, 0))
        for act in self.resize_group.actions():
            act.setChecked(act.text() == session.resize)
        query = session.attention.get("query", "cls")
        self.query = tuple(query) if isinstance(query, list) else query
        self._session_mask = session.mask
        if session.checkpoint_path and session.checkpoint_path != self.checkpoint_path:
            self.open_checkpoint(session.checkpoint_path, session.device, session.dtype)
        if session.image_path:
            self.open_image(session.image_path)
        elif self.model_info is not None:
            self._apply_session_mask()
        for warning in warnings:
            self.statusBar().showMessage(warning, 10000)
        return True

    def choose_session_to_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open session", "", "MAE Desktop sessions (*.json)"
        )
        if path:
            self.open_session_file(path)

    def choose_session_to_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save session", "session.json", "MAE Desktop sessions (*.json)"
        )
        if path:
            try:
                self.save_session_file(path)
            except OSError as exc:
                self.show_error(f"cannot save the session: {exc}")

    # -- mask editing --------------------------------------------------------------------
    @property
    def grid(self) -> tuple[int, int]:
        return self.mask.shape

    def set_mask(self, mask: np.ndarray, record: bool = True) -> None:
        """Replace the mask (bool grid), redraw the overlay, ask for a new result."""
        if mask.shape != self.grid:
            raise MAEError(
                f"mask is {mask.shape[1]}x{mask.shape[0]}, the model's grid is "
                f"{self.grid[1]}x{self.grid[0]}"
            )
        self.mask = mask.astype(bool).copy()
        if record:
            self.history.push(self.mask)
        self._show_mask()
        self.request_analysis()

    def _show_mask(self) -> None:
        self.canvas.set_mask(self.mask)
        self.count_label.setText(masks_mod.describe(self.mask))
        self._update_undo_actions()

    def _on_stroke_changed(self, cells: np.ndarray, value: bool) -> None:
        if self._stroke_base is None:
            self._stroke_base = self.mask.copy()
        new = self._stroke_base.copy()
        new[cells] = value
        if not (new == self.mask).all():
            self.set_mask(new, record=False)

    def _on_stroke_finished(self) -> None:
        self._stroke_base = None
        self.history.push(self.mask)  # the whole stroke is one undo step
        self._update_undo_actions()

    def generate_mask(self) -> None:
        mode = self.gen_combo.currentText()
        ratio = self.ratio_slider.value() / 100.0
        self.set_mask(masks_mod.generate(mode, self.grid, ratio, self.seed_spin.value()))

    def new_seed(self) -> None:
        self.seed_spin.setValue(self.seed_spin.value() + 1)
        self.generate_mask()

    def invert_mask(self) -> None:
        self.set_mask(~self.mask)

    def clear_mask(self) -> None:
        self.set_mask(masks_mod.clear(self.grid))

    def mask_everything(self) -> None:
        self.set_mask(masks_mod.mask_all(self.grid))

    def undo(self) -> None:
        mask = self.history.undo()
        if mask is not None:
            self.set_mask(mask, record=False)

    def redo(self) -> None:
        mask = self.history.redo()
        if mask is not None:
            self.set_mask(mask, record=False)

    def _update_undo_actions(self) -> None:
        if hasattr(self, "undo_action"):
            self.undo_action.setEnabled(self.history.can_undo)
            self.redo_action.setEnabled(self.history.can_redo)

    def set_tool(self, tool: str) -> None:
        self.canvas.tool = tool
        if self.tool_combo.currentText() != tool:
            self.tool_combo.setCurrentText(tool)

    # -- attention options ---------------------------------------------------------------
    def _on_query_picked(self, row: int, col: int) -> None:
        self.query = (row, col)
        self.canvas.set_query((row, col))
        if self.query_combo.currentIndex() != 2:
            self.query_combo.setCurrentIndex(2)  # triggers a request
        else:
            self.request_analysis()

    def _on_query_mode_changed(self, index: int) -> None:
        if index == 0:
            self.query = "cls"
        elif index == 1:
            self.query = "mean"
        elif not isinstance(self.query, tuple):
            self.query = (self.grid[0] // 2, self.grid[1] // 2)
        self.canvas.set_query(self.query if isinstance(self.query, tuple) else None)
        self.request_analysis()

    def _on_view_option_changed(self, *_args) -> None:
        self.layer_label.setText(str(self.layer_slider.value() + 1))
        self._draw_attention()

    def _on_hovered(self, row: int, col: int) -> None:
        if row < 0 or self.last is None or self.last.reconstruction is None:
            return
        err = self.last.reconstruction.patch_error[row, col]
        state = "masked" if self.mask[row, col] else "visible"
        self.statusBar().showMessage(f"patch ({row}, {col}) {state}, error {err:.4f}", 3000)

    # -- inference -----------------------------------------------------------------------
    def _submit(self, kind: str, fn) -> int:
        job_id = self.lane.submit(kind, fn)
        self.latest[kind] = job_id
        self.pending[kind] = job_id
        self._update_busy()
        return job_id

    def _update_busy(self) -> None:
        self.busy_bar.setVisible(bool(self.pending))

    @property
    def busy(self) -> bool:
        return bool(self.pending)

    def request_analysis(self) -> int | None:
        """Ask the lane for a reconstruction + attention of the current image and mask."""
        if self.image is None or self.model_info is None:
            return None
        image, mask = self.image, self.mask.copy()
        mode = self.mode_combo.currentData() or "auto"
        part = self.part_combo.currentText()
        query = self.query
        if query == "cls" and self.cfg is not None and not self.cfg.use_cls_token:
            query = "mean"

        def job(lane: InferenceLane) -> tuple:
            if lane.session is None:
                raise MAEError("open a checkpoint first")
            analysis = lane.session.analyse(image, mask, mode, None, part, query)
            other = None
            if lane.compare is not None:
                try:
                    other = lane.compare.reconstruct(image, mask, "auto")
                except MAEError as exc:
                    other = str(exc)
            return mask, analysis, other

        return self._submit("analyse", job)

    def _on_job_finished(self, result: JobResult) -> None:
        if self._closed:  # a result queued just before closing: the window is going away
            return
        if self.pending.get(result.kind) == result.job_id:
            del self.pending[result.kind]
        self._update_busy()
        if result.job_id != self.latest.get(result.kind):
            return  # a newer request of this kind exists: never draw a stale result
        if result.error:
            if result.kind == "model" and self.model_info is not None:
                self._sync_device_menus(self.model_info)  # undo the menu click
            self.show_error(result.error)
            return
        if result.kind == "model" and "compare" in result.payload:
            self.compare_path = result.payload.get("path") if result.payload["compare"] else None
            self.request_analysis()
        elif result.kind == "model":
            self._on_model_ready(result.payload)
        elif result.kind == "analyse":
            self._draw_analysis(result.job_id, *result.payload)
        elif result.kind == "extra":
            self.analysis.show_sweep(result.payload)

    def _on_model_ready(self, info: dict) -> None:
        self.model_info = info
        self.cfg = MAEConfig.from_dict(info["config"])
        self.checkpoint_path = info["path"]
        self._remember(info["path"])
        self._sync_device_menus(info)
        self.setWindowTitle(f"{APP_NAME} — {Path(info['path']).name}")
        self.statusBar().showMessage(
            f"Loaded {Path(info['path']).name}: {info['architecture']}", 8000
        )
        self.model_loaded.emit(info)
        if self.source is not None:
            self._refit_image()

    def _sync_device_menus(self, info: dict) -> None:
        """Status bar and Model menus show what the model really runs on."""
        self.device_label.setText(f"{info['device']} · {info['dtype']}")
        supported = supported_dtypes(torch.device(info["device"]))
        for act in self.precision_group.actions():
            act.setEnabled(act.text() in supported)
            act.setChecked(act.text() == info["dtype"])

    def _apply_session_mask(self) -> None:
        if self._session_mask is not None and self._session_mask.shape == self.grid:
            mask, self._session_mask = self._session_mask, None
            self.history.reset(mask)
            self.set_mask(mask, record=False)

    def _draw_analysis(self, job_id: int, mask: np.ndarray, analysis: Analysis, other=None) -> None:
        if not (mask == self.mask).all():
            self.stale_drawn += 1  # cannot happen while ids are checked; counted for tests
        self.last, self.last_mask = analysis, mask
        rec = analysis.reconstruction
        patch = self.cfg.patch_size
        self.panels.show_image("masked", masked_view(self.image, mask, patch))
        if rec is not None:
            shown, composite = rec.viewable()
            tag = (
                " (uses ground truth)"
                if rec.uses_ground_truth
                else (" (estimate)" if rec.is_estimate else "")
            )
            self.panels.set_title("reconstruction", f"Reconstruction{tag}")
            self.panels.set_title("composite", f"Composite{tag}")
            self.panels.show_image("reconstruction", shown)
            self.panels.show_image("composite", composite)
            self.panels.show_heatmap("error", rec.patch_error, patch, "inferno")
            if self.analysis_dock.isVisible():  # hidden docks cost nothing per stroke
                self.analysis.show_histogram(rec.patch_error, mask)
        else:
            for name in ("reconstruction", "composite", "error"):
                self.panels.clear(name)
        self._draw_compare(other)
        self._draw_attention()
        self._show_metrics(analysis)
        self.latency_label.setText(f"{analysis.latency_ms:.0f} ms")
        self.analysis_drawn.emit(job_id)

    def _redraw_extras(self) -> None:
        if self.last is None:
            return
        rec = self.last.reconstruction
        if rec is not None and self.analysis_dock.isVisible():
            self.analysis.show_histogram(rec.patch_error, self.last_mask)
        self._draw_attention()

    def _draw_compare(self, other) -> None:
        if other is None:
            self.panels.clear("compare")
            return
        name = Path(self.compare_path or "").name
        if isinstance(other, str):
            self.panels.clear("compare")
            self.panels.set_title("compare", f"Compare {name}: {other[:60]}")
            return
        psnr = "n/a" if other.masked_psnr is None else f"{other.masked_psnr:.2f} dB"
        self.panels.set_title("compare", f"Compare {name}: composite, {psnr}")
        self.panels.show_image("compare", other.composite)

    def _draw_attention(self) -> None:
        att = self.last.attention if self.last else None
        if att is None:
            self.panels.clear("attention")
            note = "; ".join(self.last.notes) if self.last else ""
            self.panels.set_title("attention", "Attention: " + (note[:60] or "none"))
            return
        layers = att.maps.shape[0]
        if self.layer_slider.maximum() != layers - 1:
            self.layer_slider.setRange(0, layers - 1)
            self.layer_slider.setValue(layers - 1)
        heads = att.maps.shape[1]
        if self.head_combo.count() != heads + 2:
            self.head_combo.blockSignals(True)
            current = self.head_combo.currentIndex()
            self.head_combo.clear()
            self.head_combo.addItems(["mean", "max", *[f"head {h}" for h in range(heads)]])
            self.head_combo.setCurrentIndex(min(current, heads + 1))
            self.head_combo.blockSignals(False)
        layer = min(self.layer_slider.value(), layers - 1)
        if self.rollout_check.isChecked() and att.rollout is not None:
            values, what = att.rollout, "rollout"
        else:
            idx = self.head_combo.currentIndex()
            sel = "mean" if idx <= 0 else "max" if idx == 1 else idx - 2
            values = att.reduce(sel)[layer]
            what = f"{att.part} layer {layer + 1}, {self.head_combo.currentText()}"
        if self.heads_dock.isVisible():
            self.heads.show_heads(
                att.maps[layer], self.cfg.patch_size, self.cmap_combo.currentText()
            )
        query = att.query if isinstance(att.query, str) else f"patch {att.query}"
        self.panels.set_title("attention", f"Attention: {what}, {query}")
        self.panels.show_heatmap(
            "attention",
            values,
            self.cfg.patch_size,
            self.cmap_combo.currentText(),
            base=self.image,
            opacity=self.opacity_slider.value() / 100.0,
        )

    def _show_metrics(self, analysis: Analysis) -> None:
        rec = analysis.reconstruction
        lines = []
        if rec is not None:

            def fmt(v, unit=""):
                return "n/a" if v is None else f"{v:.4f}{unit}"

            lines += [
                f"<b>{masks_mod.describe(self.last_mask)}</b>",
                f"target-space loss (masked): {fmt(rec.loss)}",
                f"masked MSE (pixels): {fmt(rec.masked_mse)}",
                f"masked PSNR: {fmt(rec.masked_psnr, ' dB')}",
                f"display: {rec.mode} — {rec.mode_label}",
                f"{rec.device} · {rec.dtype} · {analysis.latency_ms:.1f} ms",
            ]
        lines += [f"<i>{n}</i>" for n in analysis.notes]
        self.metrics_label.setText("<br>".join(lines))

    # -- compare and sweep ---------------------------------------------------------------
    compare_path: str | None = None

    def open_compare(self, path: str | Path) -> int:
        """Load a second checkpoint; it reconstructs the same image and mask side by side."""
        path = str(path)

        def job(lane: InferenceLane) -> dict:
            other = ModelSession.open(path, "auto", "fp32")
            main = lane.session
            if main is not None and other.config.image_size != main.config.image_size:
                raise MAEError(
                    f"{Path(path).name} takes {other.config.image_size} images, "
                    f"the open model {main.config.image_size}: they cannot "
                    "share an image and mask"
                )
            if main is not None and other.config.grid_size != main.config.grid_size:
                raise MAEError(f"{Path(path).name} has a different patch grid")
            lane.compare = other
            return {**other.info(), "compare": True}

        return self._submit("model", job)

    def stop_compare(self) -> None:
        def job(lane: InferenceLane) -> dict:
            lane.compare = None
            return {"compare": False}

        self._submit("model", job)

    def choose_compare_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Compare with checkpoint",
            "",
            "Checkpoints (*.pth *.pt *.bin *.ckpt *.safetensors);;All files (*)",
        )
        if path:
            self.open_compare(path)

    def request_sweep(self) -> int | None:
        """PSNR against mask ratio for the current image, computed on the lane."""
        if self.image is None or self.model_info is None:
            return None
        image, seeds = self.image, self.analysis.seeds_spin.value()
        self.analysis.sweep_note.setText("running…")
        return self._submit("extra", lambda lane: ratio_sweep(lane.session, image, seeds))

    # -- dialogs -------------------------------------------------------------------------
    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open image",
            "",
            "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.gif);;All files (*)",
        )
        if path:
            self.open_image(path)

    def choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open checkpoint",
            "",
            "Checkpoints (*.pth *.pt *.bin *.ckpt *.safetensors);;All files (*)",
        )
        if path:
            self.open_checkpoint(path)

    def choose_checkpoint_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open Hugging Face model folder")
        if path:
            self.open_checkpoint(path)

    def load_mask_file(self, path: str | Path) -> bool:
        try:
            self.set_mask(masks_mod.load_mask(path, self.grid))
        except MAEError as exc:
            self.show_error(str(exc))
            return False
        return True

    def choose_mask_to_load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load mask", "", "Masks (*.npy *.png)")
        if path:
            self.load_mask_file(path)

    def choose_mask_to_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save mask", "mask.npy", "NumPy grid (*.npy);;PNG, white = masked (*.png)"
        )
        if path:
            try:
                masks_mod.save_mask(path, self.mask)
            except (MAEError, OSError) as exc:
                self.show_error(str(exc))

    def export_panel(self, name: str, path: str | Path) -> None:
        """Save one panel's image at full resolution as PNG."""
        if name not in self.panels.data:
            raise MAEError(f"the {name} panel shows nothing yet")
        Image.fromarray(self.panels.data[name]).save(path)

    def export_figure(self, path: str | Path) -> None:
        """All panels side by side (input with mask first) as one PNG."""
        names = [
            n
            for n in ("masked", "reconstruction", "composite", "error", "attention")
            if n in self.panels.data
        ]
        if self.image is None or not names:
            raise MAEError("nothing to export yet")
        gap = np.full((self.image.shape[0], 8, 3), 255, np.uint8)
        parts = []
        for n in names:
            parts += [self.panels.data[n], gap]
        Image.fromarray(np.concatenate(parts[:-1], axis=1)).save(path)

    def choose_panel_export(self, name: str) -> None:
        if name not in self.panels.data:
            self.show_error(f"the {name} panel shows nothing yet")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export panel", f"{name}.png", "PNG (*.png)")
        if path:
            try:
                self.export_panel(name, path)
            except (MAEError, OSError) as exc:
                self.show_error(str(exc))

    def choose_figure_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export figure", "figure.png", "PNG (*.png)")
        if path:
            try:
                self.export_figure(path)
            except (MAEError, OSError) as exc:
                self.show_error(str(exc))

    def show_model_info(self) -> None:
        info = self.model_info
        if info is None:
            self.show_error("no model loaded")
            return
        rows = [
            ("Path", info["path"]),
            ("Format", info["format"]),
            ("Architecture", info["architecture"]),
            ("Parameters", f"{info['parameters']:,}"),
            ("Decoder", "yes" if info["decoder"] else "no (attention only)"),
            ("Normalisation", info["normalization"]),
            ("Target", f"{info['target']} [{info['target_source']}]"),
            ("Device", info["device"]),
            ("Precision", info["dtype"]),
        ]
        rows += [("Note", n) for n in info["notes"]]
        html = (
            "<table>"
            + "".join(f"<tr><td><b>{k}</b>&nbsp;</td><td>{v}</td></tr>" for k, v in rows)
            + "</table>"
        )
        QMessageBox.information(self, "Model info", html)

    def show_help(self) -> None:
        html = (
            "<table>"
            + "".join(f"<tr><td>{a}&nbsp;&nbsp;</td><td><b>{k}</b></td></tr>" for a, k in SHORTCUTS)
            + "</table>"
        )
        html += (
            "<p>Left drag masks, right drag unmasks; the wheel zooms, the middle button "
            "pans. Drop images or checkpoints on the window to open them.</p>"
        )
        QMessageBox.information(self, "Keyboard shortcuts", html)

    def _reset_zoom(self) -> None:
        if self.image is not None:
            self.panels.fit(self.image.shape[1], self.image.shape[0])

    # -- drag and drop, closing ----------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        data = event.mimeData()
        if data.hasUrls():
            for url in data.urls():
                if url.isLocalFile():
                    self.open_path(url.toLocalFile())
        elif data.hasImage():
            self._set_source(_pil_from_qimage(QImage(data.imageData())))

    def closeEvent(self, event) -> None:
        if not self._closed:
            self._closed = True
            self.save_settings()
            self.lane.shutdown()
        super().closeEvent(event)
