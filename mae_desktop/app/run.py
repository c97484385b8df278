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
        window.open_checkpoint(ckpt)
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


def run_self_test(checkpoint: str | None = None, timeout_s: float = 120.0) -> int:
    """Open the window, load the (bundled) model, run one reconstruction and one attention
    map through the worker, print a one-line summary; 0 on success, 1 on any failure."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    t0 = time.perf_counter()
    if checkpoint is None and default_model() is None:
        print("self-test FAILED: the bundled default model is missing", file=sys.stderr)
        return 1
    app = make_app()
    window, scratch = _scratch_window()
    outcome = {"code": 1, "line": "self-test FAILED: no result within the time limit"}

    def drawn(_job_id: int) -> None:
        last, info = window.last, window.model_info or {}
        rec, att = last.reconstruction, last.attention
        if rec is None or att is None:
            outcome["line"] = "self-test FAILED: " + "; ".join(last.notes or ["no result"])
        else:
            outcome["code"] = 0
            outcome["line"] = (
                f"self-test ok: {Path(info['path']).name} ({info['architecture']}) on "
                f"{info['device']} {info['dtype']}; reconstruction masked PSNR "
                f"{rec.masked_psnr:.2f} dB in {last.latency_ms:.0f} ms; attention "
                f"{'x'.join(map(str, att.maps.shape))}; first result after "
                f"{time.perf_counter() - t0:.1f} s"
            )
        window.close()

    def failed(message: str) -> None:
        outcome["line"] = f"self-test FAILED: {message}"
        window.close()

    window.analysis_drawn.connect(drawn)
    window.error_shown.connect(failed)
    QTimer.singleShot(int(timeout_s * 1000), window.close)
    start_window(checkpoint, None, window)
    app.exec()
    shutil.rmtree(scratch.parent, ignore_errors=True)
    print(outcome["line"], file=sys.stdout if outcome["code"] == 0 else sys.stderr)
    return outcome["code"]


def run_app(
    checkpoint: str | None = None,
    image: str | None = None,
    screenshot: str | None = None,
    timeout_s: float = 120.0,
) -> int:
    """Run the app until it is closed; with `screenshot`, save the window as PNG once the
    first reconstruction is drawn and exit 0 (1 on an error or after timeout_s)."""
    app = make_app()
    if screenshot:
        window, scratch = _scratch_window()
        outcome = {"code": 1}

        def grab(_job_id: int) -> None:
            app.processEvents()
            window.grab().save(str(Path(screenshot)))
            outcome["code"] = 0
            window.close()

        def fail(message: str) -> None:
            print(f"mae-desktop: error: {message}", file=sys.stderr)
            window.close()

        window.analysis_drawn.connect(grab)
        window.error_shown.connect(fail)
        QTimer.singleShot(int(timeout_s * 1000), window.close)
        start_window(checkpoint, image, window)
        app.exec()
        shutil.rmtree(scratch.parent, ignore_errors=True)
        return outcome["code"]
    window = MainWindow()
    start_window(checkpoint, image, window)
    return app.exec()
