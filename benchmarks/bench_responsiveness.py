"""Responsiveness while painting: GUI stalls, result latency, stale results.

Drives 300 synthetic mouse events at 60 Hz (strokes of 30 events, alternating mask and
unmask) over the canvas of the real window, offscreen, on the bundled default model, and
measures:
- the GUI thread's stalls, with a 5 ms timer whose gaps are recorded (p99 and max, ms);
- mask-change-to-result-drawn latency for every drawn result (p50 and p95, ms);
- results drawn that were not for the current mask (must be 0).

    python benchmarks/bench_responsiveness.py [--checkpoint PATH] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PySide6.QtCore import QEvent, QEventLoop, QPointF, QSettings, Qt, QTimer
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from mae_desktop.app.main_window import MainWindow
from mae_desktop.app.run import make_app, start_window


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else math.nan


def plan_events(n: int = 300, per_stroke: int = 30, seed: int = 0) -> list[tuple]:
    """(kind, x, y, button) tuples in image pixels: strokes of per_stroke events."""
    rng = np.random.default_rng(seed)
    events = []
    for s in range(n // per_stroke):
        button = Qt.MouseButton.LeftButton if s % 2 == 0 else Qt.MouseButton.RightButton
        a, b = rng.uniform(8, 216, 2), rng.uniform(8, 216, 2)
        for i in range(per_stroke):
            x, y = a + (b - a) * i / (per_stroke - 1)
            kind = "press" if i == 0 else "release" if i == per_stroke - 1 else "move"
            events.append((kind, float(x), float(y), button))
    return events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="default: the bundled model")
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    make_app()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "bench.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings)
    win.dialogs_enabled = False
    win.resize(1400, 850)
    loop = QEventLoop()
    win.analysis_drawn.connect(lambda _id: loop.quit())
    start_window(args.checkpoint, None, win)
    loop.exec()  # the first result is drawn
    win.analysis_drawn.disconnect()

    submitted: dict[int, float] = {}
    original = win.request_analysis

    def timed_request():
        job = original()
        if job is not None:
            submitted[job] = time.perf_counter()
        return job

    win.request_analysis = timed_request
    latencies: list[float] = []
    win.analysis_drawn.connect(
        lambda job: latencies.append((time.perf_counter() - submitted[job]) * 1000.0)
    )

    gaps: list[float] = []
    last = [time.perf_counter()]

    def probe() -> None:
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000.0)
        last[0] = now

    probe_timer = QTimer()
    probe_timer.setTimerType(Qt.TimerType.PreciseTimer)
    probe_timer.timeout.connect(probe)
    probe_timer.start(5)

    events = plan_events(args.events)
    vp = win.canvas.viewport()
    state = {"i": 0}
    done = QEventLoop()

    def send(kind: str, x: float, y: float, button) -> None:
        pos = win.canvas.mapFromScene(win.canvas.view.mapViewToScene(QPointF(x, y)))
        none = Qt.MouseButton.NoButton
        qtype, b, held = {
            "press": (QEvent.Type.MouseButtonPress, button, button),
            "move": (QEvent.Type.MouseMove, none, button),
            "release": (QEvent.Type.MouseButtonRelease, button, none),
        }[kind]
        ev = QMouseEvent(
            qtype,
            QPointF(pos),
            QPointF(vp.mapToGlobal(pos)),
            b,
            held,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(vp, ev)

    def tick() -> None:
        if state["i"] >= len(events):
            driver.stop()
            settle()
            return
        send(*events[state["i"]])
        state["i"] += 1

    def settle() -> None:
        if win.busy:
            QTimer.singleShot(5, settle)
        else:
            done.quit()

    driver = QTimer()
    driver.setTimerType(Qt.TimerType.PreciseTimer)
    driver.timeout.connect(tick)
    gaps.clear()
    last[0] = time.perf_counter()
    driver.start(16)  # about 60 Hz
    done.exec()
    probe_timer.stop()
    info = win.model_info or {}
    result = {
        "gui_stall_p99_ms": round(percentile(gaps, 99), 2),
        "gui_stall_max_ms": round(max(gaps), 2),
        "latency_p50_ms": round(percentile(latencies, 50), 2),
        "latency_p95_ms": round(percentile(latencies, 95), 2),
        "stale_results_drawn": win.stale_drawn,
        "results_drawn": len(latencies),
        "requests": len(submitted),
        "events": len(events),
        "model": info.get("architecture"),
        "device": info.get("device"),
    }
    win.close()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<22}{value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
