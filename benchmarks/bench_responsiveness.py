"""Responsiveness of the real window while painting, on any checkpoint (offscreen).

Synthetic mouse strokes at 60 Hz go to the canvas of the real window, as a user paints:

- painting: `--strokes` strokes of `--events` events each (60 events = 1 s), alternating
  mask and unmask; every event moves the brush to a new patch in the opposite state, so
  every event is an edit (the most a user can ask). Before a stroke its patches are set
  to the opposite state and the others are masked at random at 75%, so a stroke sweeps
  the mask ratio between about 52% and 83% (the usual regime). After each stroke, a pause
  once its exact result is drawn;
- the same strokes again while a 10-seed PSNR-vs-ratio sweep runs on the worker;
- a child process that opens the window, starts a sweep and closes the window mid-sweep.

Prints one JSON line (--json) or a table:
  forward_ms           median worker time of an analyse pass, as the window runs it
  refresh_gap_p95_ms   gaps between result draws while a stroke goes on (from its press)
  settle_p95_ms        last event of a stroke -> the result for its final mask drawn
  out_of_order_draws   results drawn that were older than the one on screen (must be 0)
  final_mismatch       strokes after which the display was not for the mask (must be 0)
  gui_stall_p99_ms, gui_stall_max_ms   gaps of a 5 ms GUI timer while painting
  sweep_settle_p95_ms  settle while a sweep runs
  close_during_job_ms, close_exit_code   close() mid-sweep -> process gone, and its code

    python benchmarks/bench_responsiveness.py [--checkpoint PATH] [--strokes 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEvent, QEventLoop, QPointF, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from mae_desktop.app.main_window import MainWindow  # noqa: E402
from mae_desktop.app.run import make_app, start_window  # noqa: E402
from mae_desktop.core.requests import DONE, Analyse  # noqa: E402
from mae_desktop.engine import masks  # noqa: E402

TICK_MS = 16  # about 60 Hz


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 1) if values else math.nan


def plan_strokes(
    n: int, events: int, grid: tuple[int, int], patch: int, seed: int = 0
) -> list[list[tuple[float, float]]]:
    """n strokes of `events` points (image pixels, patch centres): each a run of distinct
    patches in boustrophedon order from a random start, so every event is a new patch."""
    rng = np.random.default_rng(seed)
    gh, gw = grid
    order = [(r, c if r % 2 == 0 else gw - 1 - c) for r in range(gh) for c in range(gw)]
    strokes = []
    for _ in range(n):
        start = int(rng.integers(len(order)))
        cells = [order[(start + i) % len(order)] for i in range(min(events, len(order)))]
        strokes.append([((c + 0.5) * patch, (r + 0.5) * patch) for r, c in cells])
    return strokes


class Recorder:
    """Listens to the window: draws (time, id, mask), worker pass times, GUI timer gaps."""

    def __init__(self, win: MainWindow) -> None:
        self.win = win
        self.draws: list[tuple[float, int, np.ndarray]] = []
        self.forward_s: list[float] = []
        self.gaps: list[float] = []
        self.out_of_order = 0
        self._last_tick = time.perf_counter()
        self.probing = False
        win.analysis_drawn.connect(self._on_drawn)
        handle = win.live.handle_all

        def handle_all(items):
            for item in items:
                if isinstance(item.request, Analyse) and getattr(item, "status", "") == DONE:
                    self.forward_s.append(item.seconds)
            handle(items)

        win.bridge.connect_receiver(handle_all)
        self.probe = QTimer()
        self.probe.setTimerType(Qt.TimerType.PreciseTimer)
        self.probe.timeout.connect(self._tick)
        self.probe.start(5)

    def _on_drawn(self, rid: int) -> None:
        if self.draws and rid <= self.draws[-1][1]:
            self.out_of_order += 1
        self.draws.append((time.perf_counter(), rid, self.win.live.shown.request.mask))

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.probing:
            self.gaps.append((now - self._last_tick) * 1000.0)
        self._last_tick = now


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def settle(win: MainWindow) -> None:
    """Until the newest analysis has come back (a sweep may go on)."""
    while win.live.waiting("analyse"):
        wait(5)  # an event loop, not a spin: the worker must not starve for the GIL


def run_strokes(win: MainWindow, rec: Recorder, strokes) -> dict[str, list[float]]:
    """Paint each stroke at 60 Hz; after its release wait for its exact result, then pause.
    Returns the refresh gaps and settle times (ms) and the mismatches."""
    vp = win.canvas.viewport()
    none = Qt.MouseButton.NoButton
    gaps, settles, mismatches = [], [], 0

    def send(kind, x, y, button) -> None:
        pos = win.canvas.mapFromScene(win.canvas.view.mapViewToScene(QPointF(x, y)))
        qtype, b, held = {
            "press": (QEvent.Type.MouseButtonPress, button, button),
            "move": (QEvent.Type.MouseMove, none, button),
            "release": (QEvent.Type.MouseButtonRelease, button, none),
        }[kind]
        event = QMouseEvent(
            qtype,
            QPointF(pos),
            QPointF(vp.mapToGlobal(pos)),
            b,
            held,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(vp, event)

    patch = win.editor.patch_size
    for s, points in enumerate(strokes):
        button = Qt.MouseButton.LeftButton if s % 2 == 0 else Qt.MouseButton.RightButton
        start = masks.random_mask(win.editor.grid, 0.75, seed=100 + s)
        for x, y in points:
            start[int(y // patch), int(x // patch)] = button != Qt.MouseButton.LeftButton
        win.editor.set_mask(start)
        settle(win)
        state = {"i": 0}
        done = QEventLoop()
        start = time.perf_counter()
        first_draw = len(rec.draws)

        driver = QTimer()

        def tick(points=points, button=button, state=state, done=done, driver=driver) -> None:
            i = state["i"]
            kind = "press" if i == 0 else "release" if i == len(points) - 1 else "move"
            send(kind, *points[i], button)
            state["i"] += 1
            if state["i"] == len(points):
                driver.stop()
                done.quit()

        driver.setTimerType(Qt.TimerType.PreciseTimer)
        driver.timeout.connect(tick)
        rec.probing = True
        driver.start(TICK_MS)
        done.exec()
        released = time.perf_counter()
        times = [start] + [t for t, _, _ in rec.draws[first_draw:] if t <= released]
        gaps += list(np.diff(times) * 1000.0)
        final = win.editor.mask.copy()
        deadline = released + 60
        while time.perf_counter() < deadline:
            if rec.draws and rec.draws[-1][0] > released and (rec.draws[-1][2] == final).all():
                break
            wait(2)
        rec.probing = False
        settles.append((rec.draws[-1][0] - released) * 1000.0)
        settle(win)
        mismatches += int(not (win.live.shown.request.mask == win.editor.mask).all())
        wait(250)
    return {"gaps": gaps, "settles": settles, "mismatches": mismatches}


def close_child(checkpoint: str | None) -> int:
    """Child: open the window, start a 10-seed sweep, close the window after 3 passes;
    print the wall time of the close() call."""
    app = make_app()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "c.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings)
    win.dialogs_enabled = False
    loop = QEventLoop()
    win.analysis_drawn.connect(lambda _id: loop.quit())
    start_window(checkpoint, None, win)
    loop.exec()
    passes = []

    def on_progress(p) -> None:
        passes.append(p)
        if len(passes) == 3:
            print(f"closing {time.time():.6f}", flush=True)
            win.close()

    win.live.sweep_progress.connect(on_progress)
    win.analysis.seeds_spin.setValue(10)
    win.analysis.run()
    return app.exec()


def measure_close(checkpoint: str | None) -> tuple[float, int]:
    cmd = [sys.executable, __file__, "--close-child"]
    if checkpoint:
        cmd += ["--checkpoint", checkpoint]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    closing = None
    for line in proc.stdout:
        if line.startswith("closing "):
            closing = float(line.split()[1])
    code = proc.wait(timeout=300)
    gone = time.time()
    return (round((gone - closing) * 1000.0, 1) if closing else math.nan), code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="default: the bundled model")
    parser.add_argument("--strokes", type=int, default=8)
    parser.add_argument("--events", type=int, default=60, help="events per stroke (60 Hz)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--close-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.close_child:
        return close_child(args.checkpoint)

    make_app()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "bench.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings)
    win.dialogs_enabled = False
    win.resize(1400, 850)
    loop = QEventLoop()
    win.analysis_drawn.connect(lambda _id: loop.quit())
    start_window(args.checkpoint, None, win)
    loop.exec()
    win.analysis_drawn.disconnect()
    rec = Recorder(win)
    wait(500)

    grid, patch = win.editor.grid, win.editor.patch_size
    painting = run_strokes(win, rec, plan_strokes(args.strokes, args.events, grid, patch, 0))
    stalls = list(rec.gaps)
    forward = list(rec.forward_s)
    win.analysis.seeds_spin.setValue(10)
    win.analysis.run()
    strokes = plan_strokes(max(3, args.strokes // 2), args.events, grid, patch, 1)
    sweeping = run_strokes(win, rec, strokes)
    win.live.cancel_sweep()
    info = win.editor.model or {}
    win.close()
    close_ms, close_code = measure_close(args.checkpoint)
    result = {
        "model": info.get("architecture"),
        "device": info.get("device"),
        "dtype": info.get("dtype"),
        "forward_ms": round(float(np.median(forward)) * 1000.0, 1),
        "refresh_gap_p95_ms": percentile(painting["gaps"], 95),
        "settle_p95_ms": percentile(painting["settles"], 95),
        "out_of_order_draws": rec.out_of_order,
        "final_mismatch": painting["mismatches"] + sweeping["mismatches"],
        "gui_stall_p99_ms": percentile(stalls, 99),
        "gui_stall_max_ms": round(max(stalls), 1),
        "sweep_settle_p95_ms": percentile(sweeping["settles"], 95),
        "close_during_job_ms": close_ms,
        "close_exit_code": close_code,
        "draws": len(rec.draws),
        "strokes": args.strokes,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<22}{value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
