"""Helpers for the window tests: real mouse events on the canvas, the app in a child."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[2]


def start_main(*args, env: dict | None = None) -> subprocess.Popen:
    """Start `python main.py ARGS` offscreen, from the repository root."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "main.py", *map(str, args)],
        cwd=ROOT,
        env={k: v for k, v in env.items() if v is not None},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen, timeout: float = 120) -> subprocess.CompletedProcess:
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_main(*args, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python main.py ARGS` offscreen, from the repository root, to the end."""
    return finish(start_main(*args, env=env), timeout)


def widget_pos(win, x: float, y: float):
    """Image pixel (x, y) -> position in the canvas viewport."""
    scene = win.canvas.view.mapViewToScene(QPointF(x, y))
    return win.canvas.mapFromScene(scene)


def mouse(widget, kind, pos, button, buttons) -> None:
    event = QMouseEvent(
        kind,
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),
        button,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)


def drag(win, points, button=Qt.MouseButton.LeftButton) -> None:
    """Press at the first image point, move through the rest, release at the last."""
    vp = win.canvas.viewport()
    pos = [widget_pos(win, x, y) for x, y in points]
    none = Qt.MouseButton.NoButton
    mouse(vp, QEvent.Type.MouseButtonPress, pos[0], button, button)
    for p in pos[1:]:
        mouse(vp, QEvent.Type.MouseMove, p, none, button)
    mouse(vp, QEvent.Type.MouseButtonRelease, pos[-1], button, none)


class Gate:
    """Holds the worker's analyse passes: each waits for `release()`; `started()` returns
    the mask of the pass that has just begun."""

    def __init__(self, session) -> None:
        self.real = session.analyse
        self.sem = threading.Semaphore(0)
        self.calls = 0
        self.finished = 0
        self._started: queue.Queue = queue.Queue()
        session.analyse = self

    def __call__(self, image, mask, *args, **kwargs):
        self.calls += 1
        self._started.put(mask.copy())
        assert self.sem.acquire(timeout=20)
        out = self.real(image, mask, *args, **kwargs)
        self.finished += 1
        return out

    def started(self) -> np.ndarray:
        return self._started.get(timeout=20)

    def release(self, n: int = 1) -> None:
        for _ in range(n):
            self.sem.release()
