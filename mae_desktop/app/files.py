"""Files in and out of the window: images, checkpoints, sessions, masks, exports, the
recent-files list. Dialogs here; reading and writing in the engine. GUI thread only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QSettings
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from ..core.editor import EditorState
from ..core.live import LiveController
from ..core.sessions import session_from_editor
from ..engine import masks as masks_mod
from ..engine.errors import MAEError
from ..engine.images import read_image
from ..session_file import load_session, save_session
from .panels import ResultPanels

CHECKPOINT_SUFFIXES = {".pth", ".pt", ".bin", ".ckpt", ".safetensors", ".tar"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm"}
CHECKPOINT_FILTER = "Checkpoints (*.pth *.pt *.bin *.ckpt *.safetensors);;All files (*)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.gif);;All files (*)"
FIGURE_PANELS = ("masked", "reconstruction", "composite", "error", "attention")


def pil_from_qimage(qimage: QImage) -> Image.Image:
    img = qimage.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = img.width(), img.height(), img.bytesPerLine()
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(h, stride)[:, : w * 3]
    return Image.fromarray(arr.reshape(h, w, 3).copy())


class FileActions:
    """What the File menu, drag and drop and the recent list do. Errors go to `show_error`
    and leave the state as it was."""

    def __init__(
        self,
        parent: QWidget,
        editor: EditorState,
        live: LiveController,
        panels: ResultPanels,
        settings: QSettings,
        show_error: Callable[[str], None],
        notice: Callable[[str], None],
    ) -> None:
        self.parent, self.editor, self.live, self.panels = parent, editor, live, panels
        self.settings, self.show_error, self.notice = settings, show_error, notice
        self.recent_menu: QMenu | None = None
        editor.model_changed.connect(lambda: self.remember(editor.model["path"]))

    # -- opening ---------------------------------------------------------------------------------
    def open_path(self, path: str | Path) -> None:
        """An image or a checkpoint, told apart by what the path is."""
        p = Path(path)
        if p.is_dir() or p.suffix.lower() in CHECKPOINT_SUFFIXES:
            self.open_checkpoint(p)
        else:
            self.open_image(p)

    def open_checkpoint(self, path: str | Path, device: str = "auto", dtype: str = "fp32") -> int:
        """Load on the worker; the current model stays until it succeeds."""
        self.notice(f"Loading {Path(path).name}…")
        return self.live.open_model(str(path), device, dtype)

    def open_image(self, path: str | Path) -> bool:
        """Read and show an image; a bad file leaves the current one in place."""
        try:
            img = read_image(path)
        except MAEError as exc:
            self.show_error(str(exc))
            return False
        self.editor.set_source(img, str(path))
        self.remember(str(path))
        return True

    def paste_image(self) -> None:
        qimage = QGuiApplication.clipboard().image()
        if qimage.isNull():
            self.show_error("the clipboard holds no image")
            return
        self.editor.set_source(pil_from_qimage(qimage), None)

    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open image", "", IMAGE_FILTER)
        if path:
            self.open_image(path)

    def choose_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open checkpoint", "", CHECKPOINT_FILTER)
        if path:
            self.open_checkpoint(path)

    def choose_checkpoint_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self.parent, "Open Hugging Face model folder")
        if path:
            self.open_checkpoint(path)

    def choose_compare_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.parent, "Compare with checkpoint", "", CHECKPOINT_FILTER
        )
        if path:
            self.live.open_compare(path)

    # -- sessions --------------------------------------------------------------------------------
    def save_session_file(self, path: str | Path) -> None:
        save_session(path, session_from_editor(self.editor))

    def open_session_file(self, path: str | Path) -> bool:
        """Reopen a saved session: checkpoint, image, mask and options. A bad file, or one
        whose image or checkpoint cannot be read, leaves everything as it is."""
        try:
            session, warnings = load_session(path)
            source = read_image(session.image_path) if session.image_path else None
        except MAEError as exc:
            self.show_error(str(exc))
            return False
        self.live.open_session(session, source)
        for warning in warnings:
            self.notice(warning)
        return True

    def choose_session_to_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.parent, "Open session", "", "MAE Desktop sessions (*.json)"
        )
        if path:
            self.open_session_file(path)

    def choose_session_to_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.parent, "Save session", "session.json", "MAE Desktop sessions (*.json)"
        )
        if path:
            try:
                self.save_session_file(path)
            except OSError as exc:
                self.show_error(f"cannot save the session: {exc}")

    # -- masks -----------------------------------------------------------------------------------
    def load_mask_file(self, path: str | Path) -> bool:
        try:
            self.editor.set_mask(masks_mod.load_mask(path, self.editor.grid))
        except MAEError as exc:
            self.show_error(str(exc))
            return False
        return True

    def choose_mask_to_load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Load mask", "", "Masks (*.npy *.png)")
        if path:
            self.load_mask_file(path)

    def choose_mask_to_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.parent,
            "Save mask",
            "mask.npy",
            "NumPy grid (*.npy);;PNG, white = masked (*.png)",
        )
        if path:
            try:
                masks_mod.save_mask(path, self.editor.mask)
            except (MAEError, OSError) as exc:
                self.show_error(str(exc))

    # -- exports ---------------------------------------------------------------------------------
    def export_panel(self, name: str, path: str | Path) -> None:
        """Save one panel's image at full resolution as PNG."""
        if name not in self.panels.data:
            raise MAEError(f"the {name} panel shows nothing yet")
        Image.fromarray(self.panels.data[name]).save(path)

    def export_figure(self, path: str | Path) -> None:
        """The result panels side by side (input with mask first) as one PNG."""
        names = [n for n in FIGURE_PANELS if n in self.panels.data]
        if self.editor.image is None or not names:
            raise MAEError("nothing to export yet")
        gap = np.full((self.editor.image.shape[0], 8, 3), 255, np.uint8)
        parts = []
        for n in names:
            parts += [self.panels.data[n], gap]
        Image.fromarray(np.concatenate(parts[:-1], axis=1)).save(path)

    def choose_panel_export(self, name: str) -> None:
        if name not in self.panels.data:
            self.show_error(f"the {name} panel shows nothing yet")
            return
        path, _ = QFileDialog.getSaveFileName(
            self.parent, "Export panel", f"{name}.png", "PNG (*.png)"
        )
        if path:
            self._export(lambda: self.export_panel(name, path))

    def choose_figure_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.parent, "Export figure", "figure.png", "PNG (*.png)"
        )
        if path:
            self._export(lambda: self.export_figure(path))

    def _export(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except (MAEError, OSError) as exc:
            self.show_error(str(exc))

    # -- recent files ----------------------------------------------------------------------------
    def recent(self) -> list[str]:
        value = self.settings.value("recent", []) or []
        return [value] if isinstance(value, str) else list(value)  # INI keeps one as a str

    def remember(self, path: str) -> None:
        recent = [p for p in self.recent() if p != path]
        self.settings.setValue("recent", [path, *recent][:10])
        self.rebuild_recent()

    def rebuild_recent(self) -> None:
        if self.recent_menu is None:
            return
        self.recent_menu.clear()
        for path in self.recent():
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _checked=False, p=path: self.open_path(p))
