"""Files in and out of the window: images, checkpoints, sessions, masks, exports, the
recent-files list. Dialogs here; reading and writing in the engine. GUI thread only.

Every action the user starts here reports its failure in one line (`show_error`) and
leaves the state as it was: MAEError, OSError and ValueError are what bad files raise;
anything else is a bug, said as such in one line and logged whole. Sessions are read and
validated here (a small regular file), their image and checkpoint are looked at, hashed,
read and loaded on the lane (`LiveController.open_session`)."""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from ..core.editor import EditorState
from ..core.figures import figure_of
from ..core.live import LiveController
from ..core.sessions import session_from_editor
from ..engine import masks as masks_mod
from ..engine.errors import MAEError
from ..engine.figure import render_figure
from ..engine.files import (  # noqa: F401 (the suffixes: menus use them)
    CHECKPOINT_SUFFIXES,
    IMAGE_SUFFIXES,
    atomic_write,
    regular_file,
)
from ..engine.images import read_image
from ..session_file import read_session, save_session
from .decoder import ImageDecoder
from .dialogs import ask_to_continue
from .panels import ResultPanels

CHECKPOINT_FILTER = "Checkpoints (*.pth *.pt *.bin *.ckpt *.safetensors);;All files (*)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.gif);;All files (*)"
FIGURE_FILTERS = {".png": "PNG (*.png)", ".svg": "SVG (*.svg)", ".pdf": "PDF (*.pdf)"}
# what reading a bad, hostile or unreadable file raises: told to the user as it is
FILE_ERRORS = (MAEError, OSError, ValueError, EOFError, MemoryError, Image.DecompressionBombError)
log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def one_line(text: str, limit: int = 300) -> str:
    """The first line of a message, at most `limit` characters."""
    line = (str(text).strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def reported(fn: F) -> F:
    """A user's file action: any failure becomes one line for `self.show_error` (the action
    then returns False), never a traceback that nobody sees."""

    @functools.wraps(fn)
    def action(self: FileActions, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except Exception as exc:
            self.report(exc, fn.__name__)
        return False

    return action  # type: ignore[return-value]


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
        # confirm(message) -> True to go on: opening a session whose image or checkpoint is
        # missing or changed asks it, message saying which (tests replace it)
        self.confirm: Callable[[str], bool] = self._ask
        self.decoder = ImageDecoder(parent)  # File ▸ Open image decodes off this thread
        editor.model_changed.connect(self._on_model_loaded)

    def report(self, exc: BaseException, action: str) -> None:
        """Say why a file action failed, in one line: what bad files raise as it is, a bug
        as such (logged whole)."""
        if isinstance(exc, MemoryError):
            self.show_error("not enough memory to read that file")
        elif isinstance(exc, FILE_ERRORS):
            self.show_error(one_line(str(exc)) or type(exc).__name__)
        else:
            log.error("%s failed:\n%s", action, "".join(traceback.format_exception(exc)))
            self.show_error(one_line(f"unexpected error: {type(exc).__name__}: {exc}"))

    def _on_model_loaded(self) -> None:
        path = self.editor.model["path"]
        self.remember(path)
        self.remember_folder("checkpoints", path)

    # -- dialogs that open where the user was last -------------------------------------------
    def start_dir(self, kind: str, name: str = "") -> str:
        """Where a dialog for `kind` (images, checkpoints, sessions, masks, exports) opens:
        the folder last used for that kind, else the last folder used at all; with `name`
        the suggested file in it."""
        for key in (f"folders/{kind}", "folders/last"):
            folder = self.settings.value(key)
            if folder and Path(str(folder)).is_dir():
                return str(Path(str(folder)) / name) if name else str(folder)
        return name

    def remember_folder(self, kind: str, path: str | Path) -> None:
        p = Path(path)
        folder = str(p if p.is_dir() else p.parent)
        self.settings.setValue(f"folders/{kind}", folder)
        self.settings.setValue("folders/last", folder)

    def _ask_open(self, kind: str, caption: str, filters: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self.parent, caption, self.start_dir(kind), filters)
        if path:
            self.remember_folder(kind, path)
        return path

    def _ask_save(self, kind: str, caption: str, name: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(
            self.parent, caption, self.start_dir(kind, name), filters
        )
        if path:
            self.remember_folder(kind, path)
        return path

    def _ask(self, message: str) -> bool:
        """Open a session whose files changed? A Yes/No question; without dialogs (tests,
        one-shot modes) the answer is No, and the message is shown as an error."""
        if getattr(self.parent, "dialogs_enabled", True):
            return ask_to_continue(self.parent, f"{message}\n\nOpen the session anyway?")
        self.show_error(f"cannot open the session: {message}")
        return False

    # -- opening ---------------------------------------------------------------------------------
    @reported
    def open_path(self, path: str | Path) -> None:
        """An image or a checkpoint, told apart by what the path is."""
        p = Path(path)
        if p.is_dir() or p.suffix.lower() in CHECKPOINT_SUFFIXES:
            self.open_checkpoint(p)
        else:
            self.open_image(p)

    @reported
    def open_checkpoint(
        self, path: str | Path, device: str | None = None, dtype: str | None = None
    ) -> int:
        """Load on the worker; the current model stays until it succeeds. Without device
        and dtype, the Device and Precision menus' choices carry over to the new model
        (auto stays auto: it measures the new model); fp32 before any model."""
        model = self.editor.model
        if dtype is None:
            dtype = "fp32" if model is None else ("auto" if model.get("auto") else model["dtype"])
        self.notice(f"Loading {Path(path).name}…")
        return self.live.open_model(str(path), device or self.editor.device_choice, dtype)

    @reported
    def open_image(self, path: str | Path, background: bool = True) -> bool:
        """Read and show an image; a bad file leaves the current one in place. Decoded on
        the decoder's thread (`background`; the window keeps drawing, the image follows),
        or here (the bundled sample at start-up, in the window's first frame). A missing
        file, a folder or a pipe is refused at once (False)."""
        regular_file(path, "image")
        if not background:
            self._image_decoded(str(path), read_image(path))
            return True
        self.decoder.decode(str(path), self._image_decoded)
        return True

    def _image_decoded(self, path: str, image: Image.Image | BaseException) -> None:
        """GUI thread: the decoded image shown, or why it could not be read said."""
        if isinstance(image, BaseException):
            self.report(image, "open_image")
            return
        self.editor.set_source(image, path)
        self.remember(path)
        self.remember_folder("images", path)

    @reported
    def paste_image(self) -> None:
        qimage = QGuiApplication.clipboard().image()
        if qimage.isNull():
            self.show_error("the clipboard holds no image")
            return
        self.editor.set_source(pil_from_qimage(qimage), None)

    @reported
    def choose_image(self) -> None:
        path = self._ask_open("images", "Open image", IMAGE_FILTER)
        if path:
            self.open_image(path)

    @reported
    def choose_checkpoint(self) -> None:
        path = self._ask_open("checkpoints", "Open checkpoint", CHECKPOINT_FILTER)
        if path:
            self.open_checkpoint(path)

    @reported
    def choose_checkpoint_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self.parent, "Open Hugging Face model folder", self.start_dir("checkpoints")
        )
        if path:
            self.remember_folder("checkpoints", path)
            self.open_checkpoint(path)

    @reported
    def choose_compare_checkpoint(self) -> None:
        path = self._ask_open("checkpoints", "Compare with checkpoint", CHECKPOINT_FILTER)
        if path:
            self.live.open_compare(path)

    # -- sessions --------------------------------------------------------------------------------
    def save_session_file(self, path: str | Path) -> None:
        save_session(path, session_from_editor(self.editor))

    @reported
    def open_session_file(self, path: str | Path) -> bool:
        """Reopen a saved session: checkpoint, image, mask and options, whole or not at all.
        The file is validated here; its image and checkpoint are checked, hashed, read and
        loaded on the lane (the busy indicator runs); a missing or changed one asks
        `confirm`. False (and a message) for a bad session file; any later refusal is
        shown when it comes and leaves everything as it is."""
        session = read_session(path)
        self.notice(f"Opening session {Path(path).name}…")
        self.live.open_session(session, self._confirm_later)
        return True

    def _confirm_later(self, message: str, answer: Callable[[bool], None]) -> None:
        """Ask `confirm` once the results being handled are done (a modal question inside
        the live loop's handler would handle later results inside it)."""
        QTimer.singleShot(0, self.parent, lambda: answer(self._confirmed(message)))

    def _confirmed(self, message: str) -> bool:
        try:
            return bool(self.confirm(message))
        except Exception as exc:  # a broken question must not leave the session waiting
            log.error("asking failed:\n%s", traceback.format_exc())
            self.show_error(one_line(f"unexpected error: {type(exc).__name__}: {exc}"))
            return False

    @reported
    def choose_session_to_open(self) -> None:
        path = self._ask_open("sessions", "Open session", "MAE Desktop sessions (*.json)")
        if path:
            self.open_session_file(path)

    @reported
    def choose_session_to_save(self) -> None:
        path = self._ask_save(
            "sessions", "Save session", "session.json", "MAE Desktop sessions (*.json)"
        )
        if path:
            try:
                self.save_session_file(path)
            except OSError as exc:
                self.show_error(f"cannot save the session: {exc}")

    # -- masks -----------------------------------------------------------------------------------
    @reported
    def load_mask_file(self, path: str | Path) -> bool:
        self.editor.set_mask(masks_mod.load_mask(path, self.editor.grid))
        return True

    @reported
    def choose_mask_to_load(self) -> None:
        path = self._ask_open("masks", "Load mask", "Masks (*.npy *.png)")
        if path:
            self.load_mask_file(path)

    @reported
    def choose_mask_to_save(self) -> None:
        path = self._ask_save(
            "masks", "Save mask", "mask.npy", "NumPy grid (*.npy);;PNG, white = masked (*.png)"
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
        with atomic_write(path, "image") as tmp:
            Image.fromarray(self.panels.data[name]).save(tmp, format="PNG")

    def export_figure(self, path: str | Path, scale: float = 1.0) -> Path:
        """The figure of the result on screen (original, masked input, reconstruction,
        composite, error and attention with titles, colorbars and masked PSNR) as PNG (at
        `scale`), SVG or PDF, by the path's suffix."""
        shown = self.live.shown
        data = figure_of(self.editor, shown) if shown is not None else None
        if data is None:
            raise MAEError("nothing to export yet: no reconstruction on screen")
        return render_figure(data, path, scale)

    @reported
    def choose_panel_export(self, name: str) -> None:
        if name not in self.panels.data:
            self.show_error(f"the {name} panel shows nothing yet")
            return
        path = self._ask_save("exports", "Export panel", f"{name}.png", "PNG (*.png)")
        if path:
            self._export(lambda: self.export_panel(name, path))

    @reported
    def choose_figure_export(self, suffix: str = ".png", scale: float = 1.0) -> None:
        kind = FIGURE_FILTERS[suffix]
        path = self._ask_save("exports", "Export figure", f"figure{suffix}", kind)
        if path:
            if not Path(path).suffix:
                path += suffix
            self._export(lambda: self.export_figure(path, scale))

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
