"""One inference lane: a worker thread that owns the model; the newest request wins.

Requests are grouped by kind ("model", "analyse", "extra"). Each kind keeps only its newest
pending request: whatever was queued before is dropped without running. Kinds run in that
order of priority, so a model switch is never starved by painting. Results and errors come
back through Qt signals, which Qt queues onto the GUI thread.
"""

from __future__ import annotations

import itertools
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..engine.errors import MAEError
from ..engine.session import ModelSession

log = logging.getLogger(__name__)
KINDS = ("model", "analyse", "extra")


@dataclass
class JobResult:
    """What comes back: the job's id and kind, and its payload or an error message."""

    job_id: int
    kind: str
    payload: Any = None
    error: str | None = None


class LaneSignals(QObject):
    """Lives on the GUI thread; the worker emits, Qt delivers on the GUI thread."""

    finished = Signal(object)  # JobResult


@dataclass
class _Job:
    job_id: int
    kind: str
    fn: Callable[[InferenceLane], Any]


class InferenceLane:
    """The worker thread. `submit` from the GUI thread; `fn(lane)` runs on the worker.

    `session` and `compare` are only touched on the worker thread (jobs read and replace
    them).
    """

    def __init__(self) -> None:
        self.signals = LaneSignals()
        self.session: ModelSession | None = None
        self.compare: ModelSession | None = None  # a second model for side-by-side results
        self._cond = threading.Condition()
        self._pending: dict[str, _Job] = {}
        self._stop = False
        self._ids = itertools.count(1)
        self._thread = threading.Thread(target=self._loop, name="inference-lane", daemon=True)
        self._thread.start()

    def submit(self, kind: str, fn: Callable[[InferenceLane], Any]) -> int:
        """Queue fn for `kind`, replacing any not-yet-started job of that kind. Returns its id.

        fn must not hold Qt objects: the worker thread drops the last reference to it.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        job = _Job(next(self._ids), kind, fn)
        with self._cond:
            self._pending[kind] = job
            self._cond.notify()
        return job.job_id

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop after the running job (pending ones are dropped); True if the thread ended."""
        with self._cond:
            self._stop = True
            self._pending.clear()
            self._cond.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                kind = next(k for k in KINDS if k in self._pending)
                job = self._pending.pop(kind)
            result = JobResult(job.job_id, job.kind)
            try:
                result.payload = job.fn(self)
            except MAEError as exc:
                result.error = str(exc)
            except Exception as exc:  # keep the lane alive; tell the user in one line
                log.error("job %s failed:\n%s", job.kind, traceback.format_exc())
                result.error = f"internal error: {type(exc).__name__}: {exc}"
            del job  # drop the closure here, not when the next job arrives
            with self._cond:
                if self._stop:
                    return
            self.signals.finished.emit(result)
