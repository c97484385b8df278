"""The inference lane without Qt: commands in order, queries newest-wins, long jobs that
yield and stop, errors reported, a close that waits for the running step only."""

from __future__ import annotations

import errno
import queue
import threading
from collections.abc import Generator
from dataclasses import dataclass
from typing import ClassVar

import pytest

from mae_desktop.core.lane import Lane
from mae_desktop.core.requests import CANCELLED, DONE, ERROR, SKIPPED, Progress, Request, Result
from mae_desktop.core.worker import Skip
from mae_desktop.engine.errors import MAEError


@dataclass(frozen=True)
class Cmd(Request):
    command: ClassVar[bool] = True
    kind: ClassVar[str] = "model"
    name: str = ""


@dataclass(frozen=True)
class Ask(Request):
    kind: ClassVar[str] = "analyse"
    name: str = ""


@dataclass(frozen=True)
class Long(Request):
    kind: ClassVar[str] = "sweep"
    long: ClassVar[bool] = True
    name: str = ""
    steps: int = 3


@dataclass(frozen=True)
class Blocks(Request):
    """A long job whose passes have a pause point between two halves ('x.i<' and 'x.i>')."""

    kind: ClassVar[str] = "sweep"
    long: ClassVar[bool] = True
    name: str = ""
    steps: int = 2


class FakeWorker:
    """Records what ran, in order; `gate(name)` holds a request (or a long job's step) until
    released; names starting with 'bad' raise MAEError, 'skip' raises Skip, 'bug' a bug."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.gates: dict[str, threading.Event] = {}
        self.entered: dict[str, threading.Event] = {}
        self.closed = threading.Event()
        self.generation = 0
        self.pause_point = None  # set by the lane

    def gate(self, name: str) -> threading.Event:
        self.gates[name] = threading.Event()
        self.entered[name] = threading.Event()
        return self.gates[name]

    def _pass(self, name: str) -> None:
        if name in self.gates:
            self.entered[name].set()
            assert self.gates[name].wait(10)
        self.ran.append(name)

    def execute(self, request: Request):
        name = request.name
        if isinstance(request, Long):
            return self._long(request)
        if isinstance(request, Blocks):
            return self._blocks(request)
        if name.startswith("bad"):
            raise MAEError(f"{name} is broken")
        if name.startswith("skip"):
            raise Skip("the model changed")
        if name.startswith("bug"):
            raise ZeroDivisionError("oops")
        if name.startswith("full"):
            raise OSError(errno.ENOSPC, "No space left on device", "/out/metrics.json")
        if name.startswith("huge"):
            raise MemoryError
        self._pass(name)
        return name.upper()

    def _long(self, request: Long) -> Generator[tuple[int, int], None, str]:
        for i in range(request.steps):
            self._pass(f"{request.name}.{i}")
            yield i + 1, request.steps
        return f"{request.name} finished"

    def _blocks(self, request: Blocks) -> Generator[tuple[int, int], None, str]:
        for i in range(request.steps):
            self._pass(f"{request.name}.{i}<")
            self.pause_point()
            self._pass(f"{request.name}.{i}>")
            yield i + 1, request.steps
        return "blocks finished"

    def stale(self, request: Request) -> str | None:
        return "the model changed" if request.name.endswith("!") else None

    def close(self) -> None:
        self.closed.set()


class Harness:
    """A lane on a FakeWorker; results collected from the worker thread into a queue."""

    def __init__(self) -> None:
        self.worker = FakeWorker()
        self.items: queue.Queue = queue.Queue()
        self.lane = Lane(self.worker, self.items.put)

    def next(self) -> Result | Progress:
        return self.items.get(timeout=10)

    def until_result(self, rid: int) -> tuple[Result, list]:
        """Items up to the Result of `rid` -> (that result, everything before it)."""
        seen = []
        while True:
            item = self.next()
            if isinstance(item, Result) and item.id == rid:
                return item, seen
            seen.append(item)


@pytest.fixture
def h():
    harness = Harness()
    yield harness
    harness.lane.close()


def test_commands_run_in_order_and_are_never_dropped(h):
    h.worker.gate("a").set()  # open: only recorded
    ids = [h.lane.submit(Cmd(name=n)) for n in "abcdef"]
    last, before = h.until_result(ids[-1])
    results = [*before, last]
    assert [r.id for r in results] == ids
    assert [r.payload for r in results] == list("ABCDEF")
    assert h.worker.ran == list("abcdef")


def test_queries_keep_the_newest_while_the_worker_is_busy(h):
    gate = h.worker.gate("q0")
    first = h.lane.submit(Ask(name="q0"))
    assert h.worker.entered["q0"].wait(10)
    ids = [h.lane.submit(Ask(name=f"q{i}")) for i in range(1, 21)]
    gate.set()
    last, before = h.until_result(ids[-1])
    assert [r.id for r in before] == [first]  # the running one, then only the newest
    assert h.worker.ran == ["q0", "q20"] and last.payload == "Q20"


def test_waiting_commands_go_before_waiting_queries(h):
    gate = h.worker.gate("q0")
    h.lane.submit(Ask(name="q0"))
    assert h.worker.entered["q0"].wait(10)
    h.lane.submit(Ask(name="q1"))
    cmd = h.lane.submit(Cmd(name="c"))
    gate.set()
    h.until_result(cmd)
    assert h.worker.ran[:2] == ["q0", "c"]


def test_a_long_job_yields_to_a_newer_analysis_between_passes(h):
    step1 = h.worker.gate("s.1")
    job = h.lane.submit(Long(name="s", steps=3))
    assert h.worker.entered["s.1"].wait(10)  # the second pass is running
    ask = h.lane.submit(Ask(name="q"))
    cmd = h.lane.submit(Cmd(name="c"))
    step1.set()
    result, before = h.until_result(job)
    assert h.worker.ran == ["s.0", "s.1", "c", "q", "s.2"]
    assert result.status == DONE and result.payload == "s finished"
    progress = [(p.done, p.total) for p in before if isinstance(p, Progress)]
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert {r.id for r in before if isinstance(r, Result)} == {ask, cmd}


def test_cancel_stops_a_long_job_after_its_running_pass(h):
    step0 = h.worker.gate("s.0")
    job = h.lane.submit(Long(name="s", steps=5))
    assert h.worker.entered["s.0"].wait(10)
    assert h.lane.cancel("sweep")
    step0.set()
    result, before = h.until_result(job)
    assert result.status == CANCELLED and result.message == "cancelled"
    assert before == []  # not even the progress of the pass that was running
    done = h.lane.submit(Cmd(name="after"))
    h.until_result(done)
    assert h.worker.ran == ["s.0", "after"]


def test_cancel_of_a_waiting_query_reports_it(h):
    gate = h.worker.gate("c")
    h.lane.submit(Cmd(name="c"))
    assert h.worker.entered["c"].wait(10)
    job = h.lane.submit(Long(name="s", steps=5))
    assert h.lane.cancel("sweep") and not h.lane.cancel("sweep")
    gate.set()
    result, _ = h.until_result(job)
    assert result.status == CANCELLED and h.worker.ran == ["c"]


def test_a_newer_long_job_replaces_the_running_one(h):
    step0 = h.worker.gate("old.0")
    old = h.lane.submit(Long(name="old", steps=5))
    assert h.worker.entered["old.0"].wait(10)
    new = h.lane.submit(Long(name="new", steps=2))
    step0.set()
    result, before = h.until_result(new)
    cancelled = [r for r in before if isinstance(r, Result)]
    assert [(r.id, r.status) for r in cancelled] == [(old, CANCELLED)]
    assert result.status == DONE and h.worker.ran == ["old.0", "new.0", "new.1"]


def test_a_long_job_for_another_model_is_cancelled(h):
    job = h.lane.submit(Long(name="s!", steps=3))
    result, _ = h.until_result(job)
    assert result.status == CANCELLED and result.message == "the model changed"
    assert h.worker.ran == []


def test_errors_and_skips_are_reported_and_the_lane_lives_on(h):
    bad = h.lane.submit(Cmd(name="bad file"))
    r = h.until_result(bad)[0]
    assert r.status == ERROR and r.message == "bad file is broken"
    bug = h.lane.submit(Cmd(name="bug"))
    r = h.until_result(bug)[0]
    assert r.status == ERROR and r.message == "internal error: ZeroDivisionError: oops"
    full = h.lane.submit(Cmd(name="full disk"))
    r = h.until_result(full)[0]
    assert r.status == ERROR and r.message == "the disk is full (/out/metrics.json)"
    huge = h.lane.submit(Cmd(name="huge"))
    r = h.until_result(huge)[0]
    assert r.status == ERROR and r.message == "not enough memory for this task"
    skip = h.lane.submit(Ask(name="skip"))
    r = h.until_result(skip)[0]
    assert r.status == SKIPPED
    ok = h.lane.submit(Cmd(name="ok"))
    assert h.until_result(ok)[0].payload == "OK"


def test_close_waits_for_the_running_pass_only_and_delivers_nothing_after(h):
    gate = h.worker.gate("s.0")
    h.lane.submit(Long(name="s", steps=100))
    assert h.worker.entered["s.0"].wait(10)
    for i in range(5):
        h.lane.submit(Cmd(name=f"c{i}"))
    h.lane.stop()
    assert not h.lane.close(timeout=0.2)  # close() waits for the running pass...
    gate.set()  # ...which ends...
    assert h.lane.close(timeout=10) and not h.lane.alive  # ...and so does the thread
    assert h.worker.ran == ["s.0"] and h.worker.closed.is_set()
    assert h.items.empty()
    with pytest.raises(RuntimeError):
        h.lane.submit(Cmd(name="late"))


def test_the_worker_thread_is_not_a_daemon(h):
    assert not h.lane._thread.daemon


def test_an_analysis_waiting_during_a_long_pass_runs_at_its_next_pause_point(h):
    first_half = h.worker.gate("b.0<")
    job = h.lane.submit(Blocks(name="b"))
    assert h.worker.entered["b.0<"].wait(10)
    ask = h.lane.submit(Ask(name="q"))
    first_half.set()
    h.until_result(ask)
    result, _ = h.until_result(job)
    assert h.worker.ran == ["b.0<", "q", "b.0>", "b.1<", "b.1>"]
    assert result.status == DONE


def test_cancel_stops_a_long_pass_at_its_next_pause_point(h):
    first_half = h.worker.gate("b.0<")
    job = h.lane.submit(Blocks(name="b"))
    assert h.worker.entered["b.0<"].wait(10)
    h.lane.cancel("sweep")
    first_half.set()
    result, before = h.until_result(job)
    assert result.status == CANCELLED and before == []
    assert h.worker.ran == ["b.0<"]  # the second half never ran


def test_close_stops_a_pass_at_its_next_pause_point(h):
    first_half = h.worker.gate("b.0<")
    h.lane.submit(Blocks(name="b"))
    assert h.worker.entered["b.0<"].wait(10)
    h.lane.stop()
    first_half.set()
    assert h.lane.close(10)
    assert h.worker.ran == ["b.0<"] and h.items.empty()


@dataclass(frozen=True)
class Halves(Request):
    """A query whose pass has a pause point between two halves ('x<' and 'x>')."""

    kind: ClassVar[str] = "analyse"
    name: str = ""


def test_hurry_stops_a_running_pass_for_the_waiting_query(h):
    real = h.worker.execute

    def execute(request):
        if isinstance(request, Halves):
            h.worker._pass(f"{request.name}<")
            h.worker.pause_point()
            h.worker._pass(f"{request.name}>")
            return request.name
        return real(request)

    h.worker.execute = execute
    first_half = h.worker.gate("old<")
    old = h.lane.submit(Halves(name="old"))
    assert h.worker.entered["old<"].wait(10)
    new = h.lane.submit(Halves(name="new"))
    assert h.lane.hurry("analyse") and not h.lane.hurry("sweep")
    first_half.set()
    r_old = h.until_result(old)[0]
    r_new = h.until_result(new)[0]
    assert r_old.status == CANCELLED and r_new.status == DONE
    assert h.worker.ran == ["old<", "new<", "new>"]  # the old pass stopped half way
