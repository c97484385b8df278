"""Application bootstrap: the QApplication, the main window, the start-up model and image."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyqtgraph as pg
import torch  # noqa: F401  (torch before Qt: DLL load order on Windows)
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from .. import APP_NAME, __version__
from ..paths import default_model, package_resources
from .main_window import MainWindow

DEFAULT_SAMPLE = "astronaut.png"


def make_app() -> QApplication:
    """The QApplication (created once) with pyqtgraph configured for row-major images."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setWindowIcon(QIcon(str(package_resources() / "icon.png")))
    return app


def start_window(
    checkpoint: str | None = None, image: str | None = None, window: MainWindow | None = None
) -> MainWindow:
    """Show the window and start loading the model (bundled by default) and the image
    (the bundled astronaut by default) with a 75% random mask."""
    window = window or MainWindow()
    window.show()
    ckpt = checkpoint or default_model()
    if ckpt is not None:
        window.open_checkpoint(ckpt, *window.saved_device())
    else:
        window.statusBar().showMessage("No bundled model found: open a checkpoint (Ctrl+Shift+O)")
    window.open_image(image or package_resources() / "samples" / DEFAULT_SAMPLE)
    return window


def _scratch_window() -> tuple[MainWindow, Path]:
    """A window on a throwaway settings file: the default layout, the user's own settings
    neither read nor written."""
    scratch = Path(tempfile.mkdtemp()) / "scratch.ini"
    window = MainWindow(QSettings(str(scratch), QSettings.Format.IniFormat))
    window.resize(1500, 900)
    window.dialogs_enabled = False
    return window, scratch


def _one_shot(
    checkpoint: str | None, image: str | None, on_result, timeout_s: float
) -> tuple[int, str]:
    """Open a scratch window, wait for the first result drawn, return on_result(window)
    (an exit code and a line); (1, reason) on an error or after timeout_s."""
    app = make_app()
    window, scratch = _scratch_window()
    outcome = [1, "no result within the time limit"]

    def drawn(_job_id: int) -> None:
        outcome[:] = on_result(window)
        window.close()

    def failed(message: str) -> None:
        outcome[:] = [1, message]
        window.close()

    window.analysis_drawn.connect(drawn)
    window.error_shown.connect(failed)
    QTimer.singleShot(int(timeout_s * 1000), window.close)
    start_window(checkpoint, image, window)
    app.exec()
    shutil.rmtree(scratch.parent, ignore_errors=True)
    return outcome[0], outcome[1]


def run_self_test(checkpoint: str | None = None, timeout_s: float = 120.0) -> int:
    """Open the window, load the (bundled) model, run one reconstruction and one attention
    map through the worker, print a one-line summary; 0 on success, 1 on any failure."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    t0 = time.perf_counter()
    if checkpoint is None and default_model() is None:
        print("self-test FAILED: the bundled default model is missing", file=sys.stderr)
        return 1

    def summary(window: MainWindow) -> tuple[int, str]:
        last, info = window.last, window.model_info or {}
        rec, att = last.reconstruction, last.attention
        if rec is None or att is None:
            return 1, "; ".join(last.notes or ["no result"])
        return 0, (
            f"{Path(info['path']).name} ({info['architecture']}) on {info['device']} "
            f"{info['dtype']}; reconstruction masked PSNR {rec.masked_psnr:.2f} dB in "
            f"{last.latency_ms:.0f} ms; attention {'x'.join(map(str, att.maps.shape))}; "
            f"first result after {time.perf_counter() - t0:.1f} s"
        )

    code, line = _one_shot(checkpoint, None, summary, timeout_s)
    if code == 0:
        print(f"self-test ok: {line}")
    else:
        print(f"self-test FAILED: {line}", file=sys.stderr)
    return code


def run_app(
    checkpoint: str | None = None,
    image: str | None = None,
    screenshot: str | None = None,
    timeout_s: float = 120.0,
) -> int:
    """Run the app until it is closed; with `screenshot`, save the window as PNG once the
    first reconstruction is drawn and exit 0 (1 on an error or after timeout_s)."""
    if screenshot:

        def grab(window: MainWindow) -> tuple[int, str]:
            QApplication.processEvents()
            ok = window.grab().save(str(Path(screenshot)))
            return (0, "") if ok else (1, f"cannot write {screenshot}")

        code, line = _one_shot(checkpoint, image, grab, timeout_s)
        if code:
            print(f"mae-desktop: error: {line}", file=sys.stderr)
        return code
    app = make_app()
    window = MainWindow()
    start_window(checkpoint, image, window)
    return app.exec()
