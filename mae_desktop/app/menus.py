"""The menu bar. Actions call the window's parts; the state-dependent ones (undo/redo,
device, precision, fit policy) are kept in step with the editor here."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu

from ..engine.images import RESIZE_POLICIES
from ..paths import package_resources
from .dialogs import INPUT_NORM_CHOICES, InputNormDialog, input_norm_label
from .download_dialog import show_download_dialog
from .files import IMAGE_SUFFIXES
from .imaging import MASK_STYLES
from .panels import LAYOUTS, PANELS, TITLES

# (menu label, file suffix, PNG scale: 100 dpi times it)
FIGURE_CHOICES = (
    ("PNG, screen (1×)…", ".png", 1.0),
    ("PNG, print (3×)…", ".png", 3.0),
    ("SVG (vector)…", ".svg", 1.0),
    ("PDF (vector)…", ".pdf", 1.0),
)

if TYPE_CHECKING:
    from .main_window import MainWindow


class Menus:
    """Builds the window's menus; `sync_model()` and `sync_undo()` reflect the editor."""

    def __init__(self, win: MainWindow) -> None:
        self.win = win
        editor, files, dock = win.editor, win.files, win.mask_dock
        bar = win.menuBar()
        file = bar.addMenu("&File")
        self.action(file, "Open image…", files.choose_image, QKeySequence.StandardKey.Open)
        self.action(file, "Open checkpoint file…", files.choose_checkpoint, "Ctrl+Shift+O")
        self.action(file, "Open Hugging Face folder…", files.choose_checkpoint_folder)
        self.action(file, "Paste image", files.paste_image, QKeySequence.StandardKey.Paste)
        samples = file.addMenu("Samples")
        for path in sorted((package_resources() / "samples").glob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                self.action(samples, path.stem, lambda p=path: files.open_image(p))
        files.recent_menu = file.addMenu("Recent")
        files.rebuild_recent()
        file.addSeparator()
        self.action(file, "Open session…", files.choose_session_to_open)
        self.action(file, "Save session…", files.choose_session_to_save, "Ctrl+S")
        file.addSeparator()
        self.action(file, "Load mask…", files.choose_mask_to_load)
        self.action(file, "Save mask…", files.choose_mask_to_save)
        export = file.addMenu("Export panel")
        for name in PANELS:
            label = TITLES[name].split(":")[0] + "…"
            self.action(export, label, lambda n=name: files.choose_panel_export(n))
        figure = file.addMenu("Export figure")
        for label, suffix, scale in FIGURE_CHOICES:
            self.action(figure, label, lambda x=suffix, k=scale: files.choose_figure_export(x, k))
        file.addSeparator()
        self.action(file, "Quit", win.close, QKeySequence.StandardKey.Quit)

        edit = bar.addMenu("&Edit")
        self.undo = self.action(edit, "Undo", editor.undo, QKeySequence.StandardKey.Undo)
        self.redo = self.action(edit, "Redo", editor.redo, "Ctrl+Shift+Z")
        edit.addSeparator()
        self.action(edit, "Invert mask", editor.invert, "I")
        self.action(edit, "Clear mask", editor.clear, "C")
        self.action(edit, "Mask everything", editor.mask_all, "A")
        self.action(edit, "New random mask", editor.new_seed, "N")

        tools = bar.addMenu("&Tools")
        self.action(tools, "Brush", lambda: dock.set_tool("brush"), "B")
        self.action(tools, "Rectangle", lambda: dock.set_tool("rectangle"), "R")
        self.action(tools, "Pick attention query", lambda: dock.set_tool("query"), "Q")
        self.action(tools, "Toggle mask/unmask", dock.erase_check.toggle, "X")
        self.action(tools, "Smaller brush", lambda: dock.brush_spin.stepBy(-1), "[")
        self.action(tools, "Larger brush", lambda: dock.brush_spin.stepBy(1), "]")

        view = bar.addMenu("&View")
        self.action(view, "Reset zoom", win.reset_zoom, "0")
        self.layout_group = self._group(
            view.addMenu("Layout"), list(LAYOUTS), win.layout_mode, win.set_layout
        )
        self.mask_style_group = self._group(
            view.addMenu("Mask style"),
            list(MASK_STYLES),
            win.canvas.mask_style,
            win.set_mask_style,
        )
        view.addSeparator()
        for d in win.docks:
            view.addAction(d.toggleViewAction())

        model = bar.addMenu("&Model")
        self.action(model, "Model info…", win.show_model_info, "Ctrl+I")
        self.action(model, "Head counts…", win.choose_head_counts)
        self.input_norm_group = self._group(
            model.addMenu("Input normalisation"),
            list(INPUT_NORM_CHOICES),
            input_norm_label(None),
            self.choose_input_norm,
        )
        self.action(model, "Compare with checkpoint…", files.choose_compare_checkpoint)
        self.action(model, "Stop comparing", win.live.close_compare)
        self.action(model, "Get pretrained models…", lambda: show_download_dialog(win))
        # auto and the CPU at first; the GPUs once a model is loaded (asking for them
        # imports torch, which the window does not wait for: see add_devices)
        self.device_menu = model.addMenu("Device")
        self.device_group = self._group(
            self.device_menu, ["auto", "cpu"], "auto", lambda n: win.set_device(n, self.keep())
        )
        self.device_menu.aboutToShow.connect(self.add_devices)
        # auto: measured per model and machine; its item says what it chose and why
        self.precision_group = self._group(
            model.addMenu("Precision"),
            ["auto", "fp32", "fp16", "bf16", "int8"],
            "auto",
            lambda n: win.set_device(None, n),
        )
        self.auto_precision = self.precision_group.actions()[0]
        self.resize_group = self._group(
            model.addMenu("Fit images by"), list(RESIZE_POLICIES), "stretch", editor.set_resize
        )
        help_menu = bar.addMenu("&Help")
        self.action(help_menu, "Keyboard shortcuts", win.show_help, "F1")
        editor.history_changed.connect(self.sync_undo)
        editor.image_changed.connect(self.sync_undo)
        editor.model_changed.connect(self.sync_model)
        self.sync_undo()

    def action(
        self, menu: QMenu, text: str, fn: Callable[[], object], shortcut=None, tip: str = ""
    ) -> QAction:
        act = QAction(text, self.win)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setToolTip(tip)
            act.setStatusTip(tip)
        act.triggered.connect(lambda _checked=False: fn())
        menu.addAction(act)
        self.win.addAction(act)
        return act

    def _group(
        self, menu: QMenu, names: list[str], checked: str, fn: Callable[[str], object]
    ) -> QActionGroup:
        group = QActionGroup(self.win)
        for name in names:
            act = QAction(name, self.win, checkable=True)
            act.setChecked(name == checked)
            act.triggered.connect(lambda _checked=False, n=name: fn(n))
            group.addAction(act)
            menu.addAction(act)
        return group

    @staticmethod
    def check(group: QActionGroup, name: str) -> None:
        for act in group.actions():
            act.setChecked(act.text() == name)

    def checked(self, group: QActionGroup) -> str:
        return group.checkedAction().text()

    def choose_input_norm(self, label: str) -> int | None:
        """Model ▸ Input normalisation: reload the model with the choice (Custom… asks for
        mean and std first); returns the request id, None when nothing was asked."""
        win = self.win
        if win.editor.model is None:
            win.show_error("open a checkpoint first")
            return None
        spec = INPUT_NORM_CHOICES[label]
        if spec == "custom":
            dialog = InputNormDialog(win, win.editor.model)
            if not dialog.exec():
                self.sync_model()
                return None
            spec = dialog.spec()
        return win.live.set_input_norm(spec)

    def sync_undo(self) -> None:
        history = self.win.editor.history
        self.undo.setEnabled(history.can_undo)
        self.redo.setEnabled(history.can_redo)

    def add_devices(self) -> None:
        """List the machine's other devices (CUDA, MPS) in the Device menu, once a model is
        loaded: torch is imported by then (on the inference lane, at start-up)."""
        if self.win.editor.model is None:
            return
        from ..engine.device import available_devices

        have = {act.text() for act in self.device_group.actions()}
        for name in available_devices():
            if name not in have:
                act = QAction(name, self.win, checkable=True)
                act.triggered.connect(
                    lambda _checked=False, n=name: self.win.set_device(n, self.keep())
                )
                self.device_group.addAction(act)
                self.device_menu.addAction(act)

    def sync_model(self) -> None:
        """Device, precision, input normalisation and fit policy as the model and editor
        really are (also after a refused change)."""
        editor = self.win.editor
        self.check(self.resize_group, editor.resize)
        self.check(self.input_norm_group, input_norm_label(editor.input_norm))
        if editor.model is None:
            return
        import torch  # (imported by the worker already: a model is loaded)

        from ..engine.device import supported_dtypes

        self.add_devices()
        self.check(self.device_group, editor.device_choice)
        supported = supported_dtypes(torch.device(editor.model["device"]))
        auto = editor.model.get("auto")  # why auto chose the precision; None: chosen by name
        self.auto_precision.setText(f"auto ({auto})" if auto else "auto")
        self.auto_precision.setChecked(auto is not None)
        for act in self.precision_group.actions():
            if act is not self.auto_precision:
                act.setEnabled(act.text() in supported)
                act.setChecked(auto is None and act.text() == editor.model["dtype"])

    def keep(self) -> str | None:
        """The precision to keep when only the device changes: 'auto' when auto chose the
        current one (it chooses again there), else None (the current one)."""
        model = self.win.editor.model
        return "auto" if model and model.get("auto") else None
