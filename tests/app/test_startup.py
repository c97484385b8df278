"""A quick start: the window is built and shown without torch, which the inference lane
imports on its own thread with the first request; the command line's help and listings
import neither torch nor Qt."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mae_desktop.core.lane import Lane
from mae_desktop.core.requests import ERROR, OpenModel

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "PySide6", "shiboken6", "pyqtgraph")


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **env},
        timeout=120,
    )


def test_the_main_window_module_imports_without_torch():
    done = _run(
        "import sys\n"
        "import mae_desktop.app.main_window, mae_desktop.app.run\n"
        "assert 'PySide6' in sys.modules\n"
        "print('torch' in sys.modules)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize(
    "args", [["--help"], ["download", "--list"], ["reconstruct", "--help"]], ids=" ".join
)
def test_help_and_listings_import_neither_torch_nor_qt(args):
    """Through main.py, as the frozen app and `python main.py` run; -X importtime lists
    every module the process imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip()
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "mae_desktop.cli" in imported
    assert not {m for m in imported if m.split(".")[0] in HEAVY}


@pytest.mark.skipif(sys.platform == "win32", reason="Windows imports torch before Qt")
def test_the_window_shows_before_torch_which_the_lane_imports(tmp_path, hf_pair):
    """The window is built and shown with torch not imported; opening the model imports it
    on the inference lane's thread (never the GUI thread), and the result follows."""
    done = _run(
        "import builtins, sys, threading\n"
        "real = builtins.__import__\n"
        "where = []\n"
        "def spy(name, *args, **kw):\n"
        "    if name == 'torch' and 'torch' not in sys.modules and not where:\n"
        "        where.append(threading.current_thread().name)\n"
        "    return real(name, *args, **kw)\n"
        "builtins.__import__ = spy\n"
        "from PySide6.QtCore import QSettings, QTimer\n"
        "from mae_desktop.app.run import make_app, start_window, dispose\n"
        "from mae_desktop.app.main_window import MainWindow\n"
        "app = make_app()\n"
        f"win = MainWindow(QSettings({str(tmp_path / 's.ini')!r}, QSettings.Format.IniFormat))\n"
        "win.dialogs_enabled = False\n"
        "win.show()\n"
        "assert win.isVisible() and 'torch' not in sys.modules, 'torch before the window'\n"
        "win.analysis_drawn.connect(lambda _id: app.quit())\n"
        "win.error_shown.connect(lambda m: (print('error:', m), app.quit()))\n"
        "QTimer.singleShot(60000, app.quit)\n"
        f"start_window({str(hf_pair[1])!r}, None, win)\n"
        "assert win.live.busy\n"
        "app.exec()\n"
        "print(where, win.live.shown is not None)\n"
        "win.close(); dispose(win)\n"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "['inference-lane'] True"


class _BrokenWorker:
    """A worker whose start-up (the app's: importing torch) fails."""

    def start(self) -> None:
        raise ImportError("DLL load failed while importing _C")

    def execute(self, request):  # pragma: no cover - never reached
        raise AssertionError("a broken worker ran a request")

    def stale(self, request) -> None:
        return None

    def close(self) -> None:
        pass


def test_a_failed_start_answers_every_request_with_its_error():
    got: list = []
    arrived = threading.Event()

    def deliver(item) -> None:
        got.append(item)
        if len(got) == 2:
            arrived.set()

    lane = Lane(_BrokenWorker(), deliver)
    try:
        lane.submit(OpenModel("model.safetensors"))
        lane.submit(OpenModel("other.safetensors"))
        assert arrived.wait(10)
        assert [r.status for r in got] == [ERROR, ERROR]
        assert "DLL load failed" in got[0].message
        assert lane.alive  # the lane lives on and answers
    finally:
        assert lane.close(10)


def test_the_lane_starts_its_worker_with_the_first_request():
    started = threading.Event()

    class Worker(_BrokenWorker):
        def start(self) -> None:
            started.set()

        def execute(self, request):
            return "ok"

    lane = Lane(Worker(), lambda item: None)
    try:
        time.sleep(0.2)
        assert not started.is_set()  # nothing asked yet: no torch import competes
        lane.submit(OpenModel("model.safetensors"))
        assert started.wait(10)
    finally:
        lane.close(10)
    idle = Lane(Worker(), lambda item: None)
    started.clear()
    assert idle.close(10) and not started.is_set()  # closed before any request


def test_what_the_worker_start_imported_is_frozen_out_of_the_collector():
    """Full collections run on the GUI thread: they must not walk torch's objects."""
    made: list[object] = []

    class Worker(_BrokenWorker):
        def start(self) -> None:
            made.extend([{"a cycle": made}] * 1000)  # as an import leaves objects behind

        def execute(self, request):
            return gc.get_freeze_count()

    before = gc.get_freeze_count()
    got = []
    lane = Lane(Worker(), got.append)
    try:
        lane.submit(OpenModel("model.safetensors"))
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.01)
        assert got and got[0].payload > before
    finally:
        lane.close(10)


def test_a_signal_closes_the_window_from_the_event_loop(qtbot, new_window):
    """Ctrl+C or SIGTERM may arrive before the event loop runs (the window is shown early):
    the close waits for the loop, where it ends it."""
    from mae_desktop.app.run import _close_on_signals

    win = new_window()
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        got = _close_on_signals(win)
        win.show()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)  # the handler runs between two bytecodes
        assert got == [signal.SIGTERM] and win.isVisible()
        qtbot.waitUntil(lambda: not win.isVisible(), timeout=5000)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
