"""Application bootstrap: the QApplication, the main window, the start-up model and image."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pyqtgraph as pg
import torch  # noqa: F401  (torch before Qt: DLL load order on Windows)
from PySide6.QtCore import QSettings, QTimer
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
        # a fresh, throwaway settings file: the picture shows the default layout, and the
        # user's own settings are neither read nor written
        scratch = Path(tempfile.mkdtemp()) / "screenshot.ini"
        window = MainWindow(QSettings(str(scratch), QSettings.Format.IniFormat))
        window.resize(1500, 900)
        window.dialogs_enabled = False
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
