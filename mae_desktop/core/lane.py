"""One inference lane: a single worker thread, plain Python threading (no Qt).

- Commands run in the order they were submitted and are never dropped.
- Queries keep newest-wins per kind: a query waiting to start is replaced by a newer one of
  its kind, without running. Analyses go before other queries.
- Long queries (sweeps) run one forward pass per step. Between steps the lane serves
  commands and newer analyses first; within a step, between two transformer blocks, it
  runs a waiting analysis at once (the pass resumes after it). A newer query of the same
  kind, `cancel(kind)`, or a change of model stops the job at the next block boundary (it
  reports `cancelled`).
- `hurry(kind)`: the waiting query of `kind` is the one the user waits for (a stroke just
  ended): a running pass of the same kind, made for an older state, stops at its next
  block boundary instead of finishing (while painting, passes finish and are drawn).
- Threads: passes use every core, but one less while the user paints (an `interactive`
  request came in the last GUI_BUSY_S and no stroke ended since), so the GUI keeps a core.
- Start-up: the worker's `start()` runs on the lane's thread when the first request
  arrives (the app's first is opening the model, just after its window is shown). The
  app's worker imports torch there: the window never waits for it, and is built before the
  import competes with it for the interpreter. If `start()` fails, every request is
  answered with its error.
- `deliver(item)` is called on the worker thread with every Result and Progress; the app's
  Qt bridge hands them to the GUI thread. Nothing is delivered after `close()`.
- `close()` drops what is waiting and returns when the running block (or command) ends:
  forward passes stop at their next block boundary. The thread is not a daemon: the
  interpreter never exits under it.
"""

from __future__ import annotations

import gc
import itertools
import logging
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass

from ..engine.errors import MAEError, known_cause
from .requests import CANCELLED, DONE, ERROR, SKIPPED, Progress, Request, Result
from .worker import Interrupted, Skip, Worker

log = logging.getLogger(__name__)
GUI_BUSY_S = 0.5  # after an interactive request, passes leave a core to the GUI this long
Deliver = Callable[[Result | Progress], None]
_OPEN_LANES: weakref.WeakSet[Lane] = weakref.WeakSet()


def _close_open_lanes() -> None:
    """At interpreter exit, before non-daemon threads are joined: stop every lane still
    open (one that its owner forgot to close would otherwise wait forever)."""
    for lane in list(_OPEN_LANES):
        lane.close()


# the hook concurrent.futures uses for its workers: runs before threads are joined at exit
_register = getattr(threading, "_register_atexit", None)
if _register is not None:
    _register(_close_open_lanes)


@dataclass
class _Job:
    """A long query in progress: its steps generator and when it started."""

    id: int
    request: Request
    steps: Generator
    started: float


class Lane:
    """The worker thread and its queues; `submit`, `cancel` and `close` from any thread."""

    def __init__(self, worker: Worker, deliver: Deliver, name: str = "inference-lane") -> None:
        self.worker = worker
        self._deliver = deliver
        self._cond = threading.Condition()
        self._commands: deque[tuple[int, Request]] = deque()
        self._queries: dict[str, tuple[int, Request]] = {}
        self._jobs: dict[str, _Job] = {}
        # cancelled jobs (closed by the worker) and dropped requests, to report as cancelled
        self._cancelled: list[tuple[_Job | tuple[int, Request], str]] = []
        self._stop = False
        self._stepping: _Job | None = None  # the long job whose pass is running
        self._nested = False  # an analysis runs inside that pass
        self._running: Request | None = None  # the query whose pass is running
        self._hurry: str | None = None  # the kind whose waiting query must not wait
        self._gui_busy_until = 0.0  # monotonic time: the user paints until then
        self._broken: str | None = None  # why the worker could not start
        self._ids = itertools.count(1)
        self._thread = threading.Thread(target=self._run, name=name, daemon=False)
        self._thread.start()
        _OPEN_LANES.add(self)

    # -- any thread ----------------------------------------------------------------------------
    def submit(self, request: Request) -> int:
        """Queue a request; returns its id (increasing). A waiting query of the same kind
        is dropped, a running long job of the same kind is cancelled."""
        with self._cond:
            if self._stop:
                raise RuntimeError("the lane is closed")
            rid = next(self._ids)
            if getattr(request, "interactive", False):
                self._gui_busy_until = time.monotonic() + GUI_BUSY_S
            if request.command:
                self._commands.append((rid, request))
            else:
                self._queries[request.kind] = (rid, request)
                if request.long:
                    self._cancel_job(request.kind, "replaced by a newer request")
            self._cond.notify()
        return rid

    def cancel(self, kind: str) -> bool:
        """Drop the waiting query of `kind` and stop its running long job; True if there
        was one. Both report `cancelled`."""
        with self._cond:
            waiting = self._queries.pop(kind, None)
            if waiting is not None:
                self._cancelled.append((waiting, "cancelled"))
            running = self._cancel_job(kind, "cancelled")
            self._cond.notify()
        return waiting is not None or running

    def hurry(self, kind: str) -> bool:
        """Let the waiting query of `kind` go first: a running pass of that kind stops at
        its next block boundary (reported as cancelled). False when none is waiting."""
        with self._cond:
            self._gui_busy_until = 0.0  # the stroke ended: the GUI thread is idle again
            if kind not in self._queries:
                return False
            self._hurry = kind
        return True

    def stop(self) -> None:
        """Ask the worker to stop (returns at once): everything waiting is dropped, the
        running pass stops at its next block boundary, nothing more is delivered."""
        with self._cond:
            self._stop = True
            self._commands.clear()
            self._queries.clear()
            self._cond.notify_all()

    def close(self, timeout: float | None = None) -> bool:
        """stop(), then wait for the worker thread to end. True when it has ended (always,
        without a timeout)."""
        self.stop()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def closed(self) -> bool:
        return self._stop

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _cancel_job(self, kind: str, reason: str) -> bool:
        """(lock held) Take the running job of `kind` off the lane; the worker closes it."""
        job = self._jobs.pop(kind, None)
        if job is not None:
            self._cancelled.append((job, reason))
        return job is not None

    # -- the worker thread ---------------------------------------------------------------------
    def _run(self) -> None:
        try:
            with self._cond:
                while not (self._stop or self._commands or self._queries or self._cancelled):
                    self._cond.wait()
                if self._stop:
                    return
            self._start_worker()
            if hasattr(self.worker, "pause_point"):
                self.worker.pause_point = self._pause_point
            while True:
                with self._cond:
                    while not (
                        self._stop
                        or self._commands
                        or self._queries
                        or self._jobs
                        or self._cancelled
                    ):
                        self._cond.wait()
                    if self._stop:
                        return
                    cancelled, self._cancelled = self._cancelled, []
                    task = self._take()
                for job, reason in cancelled:
                    self._close_job(job, reason)
                self._fit_threads()
                if isinstance(task, _Job):
                    self._step(task)
                elif task is not None:
                    self._start(*task)
        finally:
            with self._cond:
                cancelled = [job for job, _ in self._cancelled if isinstance(job, _Job)]
                leftovers = [*self._jobs.values(), *cancelled]
                self._jobs.clear()
                self._cancelled.clear()
            for job in leftovers:
                job.steps.close()
            self.worker.close()

    def _start_worker(self) -> None:
        """The worker's start-up (the app's imports torch): a failure is kept, and reported
        to every request, instead of ending the thread (the GUI would wait forever)."""
        start = getattr(self.worker, "start", None)
        if start is None:
            return
        try:
            start()
        except Exception as exc:
            log.error("the worker failed to start:\n%s", traceback.format_exc())
            self._broken = f"the models cannot run: {type(exc).__name__}: {exc}"
        # What start-up imported (torch: some 100,000 objects) lives as long as the process:
        # out of the cyclic collector's sight, as the app's own imports are (app.run), or
        # every full collection walks them all (80 ms on the GUI thread, where the app
        # collects). Freezing collects nothing, so no Qt object is destroyed on this thread.
        gc.freeze()

    def _take(self) -> tuple[int, Request] | _Job | None:
        """(lock held) Commands first, then the newest analysis, other queries, then one
        step of a long job (round robin)."""
        if self._commands:
            return self._commands.popleft()
        if "analyse" in self._queries:
            return self._take_query("analyse")
        if self._queries:
            return self._take_query(next(iter(self._queries)))
        if self._jobs:
            kind = next(iter(self._jobs))
            job = self._jobs.pop(kind)
            self._jobs[kind] = job  # to the back: jobs take turns
            return job
        return None

    def _take_query(self, kind: str) -> tuple[int, Request]:
        """(lock held) The waiting query of `kind`; a hurry for it is now answered."""
        if self._hurry == kind:
            self._hurry = None
        return self._queries.pop(kind)

    def _start(self, rid: int, request: Request) -> None:
        t0 = time.perf_counter()
        if self._broken is not None:
            self._emit(Result(rid, request, ERROR, message=self._broken))
            return
        outer, self._running = self._running, request
        try:
            out = self.worker.execute(request)
        except Exception as exc:  # reported to the user; the lane lives on
            self._emit(self._failure(rid, request, exc, t0))
            return
        finally:
            self._running = outer
        if isinstance(out, Generator):
            job = _Job(rid, request, out, t0)
            with self._cond:
                if self._stop:
                    out.close()
                    return
                self._cancel_job(request.kind, "replaced by a newer request")
                self._jobs[request.kind] = job
                self._cond.notify()
            return
        self._emit(Result(rid, request, DONE, out, seconds=time.perf_counter() - t0))

    def _step(self, job: _Job) -> None:
        """One forward pass of a long job, then its progress or its result."""
        if reason := self.worker.stale(job.request):
            with self._cond:
                mine = self._jobs.get(job.request.kind) is job
                if mine:
                    del self._jobs[job.request.kind]
            if mine:
                self._close_job(job, reason)
            return
        item: Result | Progress | None
        self._stepping = job
        try:
            done, total = next(job.steps)
            item = Progress(job.id, job.request, done, total)
        except StopIteration as stop:
            item = Result(job.id, job.request, DONE, stop.value, time.perf_counter() - job.started)
        except Interrupted:
            item = None  # cancelled (reported by the canceller) or closing
        except Exception as exc:
            item = self._failure(job.id, job.request, exc, job.started)
        finally:
            self._stepping = None
        with self._cond:
            mine = self._jobs.get(job.request.kind) is job
            if mine and isinstance(item, Result):
                del self._jobs[job.request.kind]
        if mine and item is not None:  # else it was cancelled meanwhile, and says so
            self._emit(item)

    def _fit_threads(self) -> None:
        fit = getattr(self.worker, "fit_threads", None)
        if fit is not None and self._broken is None:
            fit(time.monotonic() < self._gui_busy_until)

    def _pause_point(self) -> None:
        """Between two blocks of a forward pass (worker thread). Stops the pass when the
        lane closes, when its long job was cancelled, or when it is a query's pass and a
        newer query of its kind was hurried; in a long job's pass, runs a waiting analysis
        now (the long pass resumes after it)."""
        if self._stop:
            raise Interrupted("the lane is closing")
        self._fit_threads()
        job = self._stepping
        if job is None or self._nested:  # a query's own pass: hurried away?
            running = self._running
            with self._cond:
                kind = self._hurry
                if running is not None and kind == running.kind and kind in self._queries:
                    self._hurry = None
                    raise Interrupted("a newer request is waited for")
            return
        with self._cond:
            if self._jobs.get(job.request.kind) is not job:
                raise Interrupted("cancelled")
            urgent = self._take_query("analyse") if "analyse" in self._queries else None
        if urgent is not None:
            self._nested = True
            try:
                self._start(*urgent)
            finally:
                self._nested = False

    def _close_job(self, job: _Job | tuple[int, Request], reason: str) -> None:
        if isinstance(job, _Job):
            job.steps.close()
            rid, request = job.id, job.request
        else:
            rid, request = job
        self._emit(Result(rid, request, CANCELLED, message=reason))

    def _failure(self, rid: int, request: Request, exc: Exception, t0: float) -> Result:
        seconds = time.perf_counter() - t0
        if isinstance(exc, Interrupted):
            return Result(rid, request, CANCELLED, message=str(exc), seconds=seconds)
        if isinstance(exc, Skip):
            return Result(rid, request, SKIPPED, message=str(exc), seconds=seconds)
        if isinstance(exc, MAEError):
            return Result(rid, request, ERROR, message=str(exc), seconds=seconds)
        known = known_cause(exc)
        if known is not None:  # a full disk, a vanished file, no memory: said as such
            return Result(rid, request, ERROR, message=known, seconds=seconds)
        log.error("%s failed:\n%s", type(request).__name__, traceback.format_exc())
        message = f"internal error: {type(exc).__name__}: {exc}"
        return Result(rid, request, ERROR, message=message, seconds=seconds)

    def _emit(self, item: Result | Progress) -> None:
        if self._stop:
            return
        try:
            self._deliver(item)
        except Exception:  # a broken receiver must not kill the lane
            log.error("delivering a result failed:\n%s", traceback.format_exc())
