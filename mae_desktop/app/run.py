"""Application bootstrap: the QApplication, the main window, the start-up model and image,
the files given on the command line, and the one-shot modes (--self-test, --screenshot)."""

from __future__ import annotations

import gc
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyqtgraph as pg
from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QCoreApplication, QEvent, QSettings, QTimer
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from .. import APP_NAME, __version__
from ..binding import binding_problem
from ..core.launch_files import LaunchPlan
from ..engine.errors import MAEError
from ..engine.files import atomic_write
from ..engine.images import read_image
from ..paths import default_model, package_resources
from .main_window import MainWindow

DEFAULT_SAMPLE = "astronaut.png"
DEFAULT_SIZE = (1500, 900)  # the window of the one-shot modes (--screenshot, --self-test)
_collector: GarbageCollector | None = None


def collect_garbage_on_the_gui_thread() -> None:
    """Python's cyclic garbage collector runs in whichever thread happens to allocate. When
    that is the inference worker and the garbage holds Qt objects (a closed dialog, a
    replaced plot item), Qt destroys them on the worker while the GUI thread holds the GIL
    and a Qt lock: a deadlock or a crash. pyqtgraph's GarbageCollector turns the automatic
    collector off and collects on a GUI-thread timer instead."""
    global _collector
    if _collector is None:
        gc.collect()
        gc.freeze()  # what start-up imported lives on: later collections skip it (short)
        _collector = GarbageCollector(interval=0.5)


def make_app() -> QApplication:
    """The QApplication (created once) with pyqtgraph configured for row-major images."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setWindowIcon(QIcon(str(package_resources() / "icon.png")))
    collect_garbage_on_the_gui_thread()
    # The worker's Python (between torch ops, numpy post-processing) holds the GIL for up
    # to the switch interval when the GUI thread wants it: 5 ms by default, 1 ms here.
    sys.setswitchinterval(0.001)
    return app


def dispose(window: MainWindow) -> None:
    """Destroy the window's C++ side now, while the QApplication lives. (Left to the
    interpreter's exit, pyqtgraph's plot items, such as the colorbars, can be torn down
    after Qt's own objects are gone: a crash after the window has closed.)"""
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def start_window(
    checkpoint: str | None = None,
    image: str | None = None,
    window: MainWindow | None = None,
    launch: LaunchPlan | None = None,
) -> MainWindow:
    """Show the window with the image (the bundled astronaut by default, a 75% random
    mask) and start loading the model (bundled by default) on the inference lane, torch's
    import included; the first reconstruction follows. Then, in the next turn of the event
    loop, open the files given on the command line (`launch`, see `open_launch_files`).
    GUI thread."""
    window = window or MainWindow()
    window.show()
    # the image first: it is in the window's first frame. Opening the model then starts
    # the inference lane, which imports torch on its own thread: the window never waits.
    # (the bundled sample is decoded here, small and ours: it is in the first frame; an image
    # given on the command line is decoded off this thread like File ▸ Open image)
    if image is None:
        window.files.open_image(package_resources() / "samples" / DEFAULT_SAMPLE, False)
    else:
        window.files.open_image(image)
    ckpt = checkpoint or default_model()
    if ckpt is not None:
        window.files.open_checkpoint(ckpt, *window.saved_device())
    elif launch is None or not (launch.checkpoint or launch.session):
        window.status.notice("No bundled model found: open a checkpoint (Ctrl+Shift+O)", 0)
    if problem := binding_problem():
        window.status.notice(problem, 0)
    if launch is not None:
        QTimer.singleShot(0, window, lambda: open_launch_files(window, launch))
    return window


def open_launch_files(window: MainWindow, launch: LaunchPlan) -> None:
    """Open the files given on the command line as the File menu opens them, over what the
    window started with (which stays when one fails: the failure is shown as File ▸ Open
    shows it). A file that is missing or of no known kind is shown the same way, naming it
    and the reason; the files that were fine but not opened are counted in the status bar
    once the window has caught up."""
    files = window.files
    if launch.image:
        files.open_image(launch.image)
    if launch.checkpoint:
        files.open_checkpoint(launch.checkpoint, *window.saved_device())
    if launch.session:
        files.open_session_file(launch.session)
    for message in launch.messages:
        window.show_error(message)
    if launch.note:
        _notice_once_settled(window, launch.note)


def _notice_once_settled(window: MainWindow, message: str) -> None:
    """Show a notice once the window is up to date (so the model's own notices, "Loading…"
    and "Loaded…", do not cover it at once)."""

    def show(_id: int = 0) -> None:
        if window.up_to_date:
            window.analysis_drawn.disconnect(show)
            window.status.notice(message, 30000)

    window.analysis_drawn.connect(show)


def _headless_fallback() -> None:
    """Without a display (Linux), draw offscreen instead of failing in the xcb plugin."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _check_inputs(
    checkpoint: str | None, image: str | None, launch: LaunchPlan | None = None
) -> str | None:
    """What is wrong with the files a one-shot mode was given, before any window opens."""
    if launch is not None and launch.problems:
        return launch.messages[0]
    if checkpoint is not None:
        try:
            os.stat(checkpoint)  # a link loop or a refusal is not "not found"
        except (FileNotFoundError, NotADirectoryError):
            return f"checkpoint not found: {checkpoint}"
        except (OSError, ValueError) as exc:
            return f"cannot open checkpoint {checkpoint}: {getattr(exc, 'strerror', None) or exc}"
    given = launch is not None and bool(launch.checkpoint or launch.session)
    if checkpoint is None and default_model() is None and not given:
        return "the bundled default model is missing"
    image = image or (launch.image if launch is not None else None)
    if image is not None:
        try:
            read_image(image)
        except MAEError as exc:
            return str(exc)
    return None


def _one_shot(
    checkpoint: str | None,
    image: str | None,
    on_result: Callable[[MainWindow], tuple[int, str]],
    timeout_s: float,
    size: tuple[int, int] = DEFAULT_SIZE,
    launch: LaunchPlan | None = None,
) -> tuple[int, str]:
    """Open a scratch window (default layout, the user's settings untouched) with the
    command line's files (`launch`), wait for the first result drawn once nothing else is
    outstanding (the files opened), return on_result(window): (exit code, line); (1,
    reason) on an error or after timeout_s. Everything happens inside the event loop, so
    an error can never leave the loop waiting for a window that already closed."""
    _headless_fallback()
    if problem := _check_inputs(checkpoint, image, launch):
        return 1, problem
    app = make_app()
    scratch = Path(tempfile.mkdtemp()) / "scratch.ini"
    window = MainWindow(QSettings(str(scratch), QSettings.Format.IniFormat))
    window.resize(*size)
    window.dialogs_enabled = False
    outcome = [1, "no result within the time limit"]

    def finish(code: int, line: str) -> None:
        if outcome[1] == "no result within the time limit":
            outcome[:] = [code, line]
        window.close()
        app.quit()

    def drawn(_id: int) -> None:
        # a result drawn while more is outstanding (the command line's files open in the
        # turn after the start, before any result can come back) is not the last one
        if window.up_to_date:
            finish(*on_result(window))

    window.analysis_drawn.connect(drawn)
    window.error_shown.connect(lambda message: finish(1, message))
    QTimer.singleShot(int(timeout_s * 1000), lambda: finish(1, outcome[1]))
    QTimer.singleShot(0, lambda: start_window(checkpoint, image, window, launch))
    app.exec()
    window.close()
    dispose(window)
    shutil.rmtree(scratch.parent, ignore_errors=True)
    return outcome[0], outcome[1]


def run_self_test(
    checkpoint: str | None = None,
    image: str | None = None,
    timeout_s: float = 120.0,
    launch: LaunchPlan | None = None,
) -> int:
    """Open the window, load the (bundled) model and the command line's files, run one
    reconstruction and one attention map through the worker, print a one-line summary
    (ending with the Qt platform plugin used: offscreen, xcb, wayland...); 0 on success,
    1 on any failure."""
    t0 = time.perf_counter()

    def summary(window: MainWindow) -> tuple[int, str]:
        shown, info = window.live.shown, window.editor.model or {}
        rec = shown.outcome.analysis.reconstruction if shown else None
        att = shown.outcome.analysis.attention if shown else None
        if rec is None or att is None:
            return 1, "; ".join(shown.outcome.analysis.notes if shown else ["no result"])
        return 0, (
            f"{Path(info['path']).name} ({info['architecture']}) on {info['device']} "
            f"{info['dtype']}; reconstruction masked PSNR {rec.masked_psnr:.2f} dB in "
            f"{shown.outcome.analysis.latency_ms:.0f} ms; attention "
            f"{'x'.join(map(str, att.maps.shape))}; image {window.editor.image_name}; first "
            f"result after {time.perf_counter() - t0:.1f} s on platform "
            f"{QGuiApplication.platformName()}"
        )

    code, line = _one_shot(checkpoint, image, summary, timeout_s, launch=launch)
    if code == 0:
        print(f"self-test ok: {line}")
    else:
        print(f"self-test FAILED: {line}", file=sys.stderr)
    return code


def _close_on_signals(window: MainWindow) -> list[int]:
    """Ctrl+C and SIGTERM close the window as the close button does (settings saved, the
    running pass finished). Returns a list that receives the signal number."""
    got: list[int] = []

    def handler(signum, _frame) -> None:
        got.append(signum)
        # from the event loop: a close before the loop runs would not end it
        QTimer.singleShot(0, window.close)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    # Python runs signal handlers only between bytecodes: wake it up now and then
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(200)
    return got


def run_app(
    checkpoint: str | None = None,
    image: str | None = None,
    screenshot: str | None = None,
    timeout_s: float = 120.0,
    size: tuple[int, int] | None = None,
    launch: LaunchPlan | None = None,
) -> int:
    """Run the app until it is closed, opening the command line's files (`launch`); with
    `screenshot`, save the window (at `size`, by default 1500x900) as PNG once the first
    reconstruction is drawn (the files opened) and exit 0 (1 on an error or after
    timeout_s)."""
    if screenshot:

        def grab(window: MainWindow) -> tuple[int, str]:
            QApplication.processEvents()
            try:  # PNG whatever the name says; written whole or not at all
                with atomic_write(screenshot, "screenshot") as tmp:
                    if not window.grab().save(str(tmp), "PNG"):
                        raise OSError(f"Qt could not write {tmp.name}")
            except MAEError as exc:
                return 1, str(exc)
            return 0, ""

        code, line = _one_shot(
            checkpoint, image, grab, timeout_s, size or DEFAULT_SIZE, launch=launch
        )
        if code:
            print(f"mae-desktop: error: {line}", file=sys.stderr)
        return code
    if problem := binding_problem():
        print(f"mae-desktop: warning: {problem}", file=sys.stderr)
    app = make_app()
    window = MainWindow()
    got = _close_on_signals(window)
    start_window(checkpoint, image, window, launch)
    code = app.exec()
    dispose(window)
    return 128 + got[0] if got else code
