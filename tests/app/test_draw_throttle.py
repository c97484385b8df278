"""The window's draw throttle, on a fake clock and a fake draw timer (no sleeps, no load):
results that arrive within one draw interval (15 ms, 33 ms while painting) are drawn once,
at the slot, and it is the NEWEST of them that is drawn, never an older one after it; what
the status bar says (latency, 'catching up') and whether the window reports itself up to
date agree with what is on screen.

The lane is replaced, after start-up, by a fake that only numbers requests: the test plays
the worker (results computed here with a session of its own, each with a latency of its
own so the status bar tells them apart) and decides when each result arrives and when the
clock moves."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtWidgets import QApplication

from mae_desktop.app.main_window import DRAW_INTERVAL_MS, DRAW_INTERVAL_PAINTING_MS
from mae_desktop.core.requests import DONE, Analyse, Request, Result
from mae_desktop.core.worker import AnalysisOutcome
from mae_desktop.engine import ModelSession, masks

GREY = 128  # masked cells in the masked-image panel (masked_view's 0.5 fill)
# the intervals as documented (ms), written out here
assert (DRAW_INTERVAL_MS, DRAW_INTERVAL_PAINTING_MS) == (15, 33)


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance_ms(self, ms: float) -> None:
        self.now += ms / 1000.0


class FakeTimer:
    """The draw timer's interface (single shot); fires only when the test says."""

    def __init__(self, slot) -> None:
        self.slot = slot
        self.active = False
        self.started: list[int] = []  # the waits asked for, ms

    def isActive(self) -> bool:  # (Qt's name)
        return self.active

    def start(self, ms: int) -> None:
        self.active = True
        self.started.append(ms)

    def stop(self) -> None:
        self.active = False

    def fire(self) -> None:
        assert self.active, "the timer was not started"
        self.active = False
        self.slot()


class FakeLane:
    """Numbers requests from `first`; runs nothing."""

    def __init__(self, first: int) -> None:
        self.next = first
        self.requests: dict[int, Request] = {}

    def submit(self, request: Request) -> int:
        rid, self.next = self.next, self.next + 1
        self.requests[rid] = request
        return rid

    def hurry(self, kind: str) -> bool:
        return False

    def cancel(self, kind: str) -> bool:
        return False

    def close(self, timeout: float | None = None) -> bool:
        return True


class Rig:
    """A window on the test model with a fake clock, timer and lane."""

    def __init__(self, qtbot, win, session: ModelSession) -> None:
        self.qtbot, self.win, self.session = qtbot, win, session
        self.clock, self.timer = win.clock, win._draw_timer
        self.drawn: list[tuple[int, float]] = []  # (id, clock) of each draw finished
        win.analysis_drawn.connect(lambda rid: self.drawn.append((rid, self.clock())))
        real = win.live.lane
        first = max(win.live.latest.values()) + 1000
        real.close()
        win.live.lane = self.lane = FakeLane(first)
        self.latency: dict[int, float] = {}
        self._outcomes: dict[bytes, AnalysisOutcome] = {}

    def edit(self, mask: np.ndarray) -> int:
        """A new mask (while painting if a stroke is on); returns its request id."""
        e = self.win.editor
        if e.stroking:
            e.paint(mask, True)  # the stroke's base is all clear (see stroke())
        else:
            e.set_mask(mask)
        rid = max(self.lane.requests)
        assert np.array_equal(self.lane.requests[rid].mask, mask)
        return rid

    def stroke(self) -> None:
        """Start painting, from a clear mask (drawn first, if it is an edit of its own)."""
        e = self.win.editor
        before = max(self.lane.requests, default=None)
        e.set_mask(masks.clear(e.grid))
        if max(self.lane.requests, default=None) != before:
            self.clock.advance_ms(1000)
            self.arrive(max(self.lane.requests))
        e.paint(np.zeros(e.grid, bool), True)
        assert e.stroking

    def result(self, rid: int) -> Result:
        """The worker's result for request rid: a real analysis, with a latency unique to it."""
        request = self.lane.requests[rid]
        assert isinstance(request, Analyse)
        key = request.mask.tobytes()
        if key not in self._outcomes:
            analysis = self.session.analyse(
                request.image, request.mask, request.mode, None, request.part, request.query
            )
            self._outcomes[key] = AnalysisOutcome(analysis, None)
        base = self._outcomes[key]
        self.latency[rid] = 100.0 + rid % 1000  # '1xx ms' names the result
        analysis = dataclasses.replace(base.analysis, latency_ms=self.latency[rid])
        return Result(rid, request, DONE, AnalysisOutcome(analysis, None))

    def arrive(self, rid: int) -> None:
        """rid's result arrives (one burst of its own, as the bridge delivers it)."""
        self.win.live.handle_all([self.result(rid)])
        self.idle()

    def idle(self) -> None:
        """Let the event loop run what it has (the second half of a draw)."""
        for _ in range(3):
            QApplication.processEvents()

    def fire(self) -> None:
        self.timer.fire()
        self.idle()

    # -- what the window shows ---------------------------------------------------------------
    def mask_on_screen(self) -> np.ndarray:
        """The masked cells of the masked-image panel (all-grey cells)."""
        data = self.win.panels.data["masked"]
        gh, gw = self.win.editor.grid
        p = self.win.editor.patch_size
        cells = data.reshape(gh, p, gw, p, 3)
        return (cells == GREY).all(axis=(1, 3, 4))

    def status(self) -> str:
        return self.win.status.latency_label.text()

    def assert_on_screen(self, rid: int) -> None:
        """rid's image, mask and numbers are the ones shown."""
        assert np.array_equal(self.mask_on_screen(), self.lane.requests[rid].mask)
        assert self.status().startswith(f"{self.latency[rid]:.0f} ms")

    def assert_consistent(self) -> None:
        """'Up to date' means the newest request's result is on screen and nothing says
        catching up; 'catching up' means a newer request has not been drawn."""
        win = self.win
        if not self.lane.requests:  # nothing asked of the fake lane yet
            return
        newest = max(self.lane.requests)
        if win.up_to_date:
            assert self.drawn and self.drawn[-1][0] == newest
            assert "catching up" not in self.status()
            self.assert_on_screen(newest)
        if "catching up" in self.status():
            assert not win.up_to_date and self.drawn[-1][0] < newest


@pytest.fixture(scope="module")
def own_session(hf_pair) -> ModelSession:
    """The test's own session on the test model: it computes the worker's results."""
    return ModelSession.open(hf_pair[1], "cpu")


@pytest.fixture
def rig(qtbot, new_window, hf_pair, photo, own_session):
    win = new_window()
    clock = FakeClock()
    win.clock = clock
    win._draw_timer = FakeTimer(win._draw_pending)
    win.show()
    win.files.open_checkpoint(hf_pair[1])
    win.files.open_image(photo)

    def started() -> bool:  # the real worker's first results, drawn on the fake clock
        clock.advance_ms(1000)
        if win._draw_timer.isActive():
            win._draw_timer.fire()
        return win.up_to_date

    qtbot.waitUntil(started, timeout=30000)
    r = Rig(qtbot, win, own_session)
    yield r
    win.close()


def _masks(grid, n: int) -> list[np.ndarray]:
    out, seed = [], 0
    while len(out) < n:
        m = masks.random_mask(grid, 0.5, seed)
        seed += 1
        if m.any() and not any(np.array_equal(m, o) for o in out):
            out.append(m)
    return out


def _drawn_once(rig: Rig, rid: int) -> None:
    """rid arrives a second after the last draw: drawn at once."""
    rig.clock.advance_ms(1000)
    rig.arrive(rid)
    assert rig.drawn[-1][0] == rid and not rig.timer.isActive()


@pytest.mark.parametrize("stroking", [False, True], ids=["idle", "painting"])
@pytest.mark.parametrize("order", ["older first", "newer first"])
def test_of_two_results_within_one_interval_the_newest_is_drawn_at_the_slot(rig, stroking, order):
    grid = rig.win.editor.grid
    m0, ma, mb = _masks(grid, 3)
    if stroking:
        rig.stroke()
    r0 = rig.edit(m0)
    _drawn_once(rig, r0)
    drawn_at = rig.clock()
    rig.assert_on_screen(r0)
    a, b = rig.edit(ma), rig.edit(mb)
    assert a < b
    interval = DRAW_INTERVAL_PAINTING_MS if stroking else DRAW_INTERVAL_MS
    rig.clock.advance_ms(5)  # both arrive 5 and 6 ms after the last draw
    first, second = (a, b) if order == "older first" else (b, a)
    rig.arrive(first)
    rig.clock.advance_ms(1)
    rig.arrive(second)
    # nothing drawn yet: the slot is the interval after the last draw
    assert rig.drawn[-1][0] == r0
    rig.assert_on_screen(r0)
    assert not rig.win.up_to_date
    assert rig.timer.isActive() and len(rig.timer.started) >= 1
    wait = rig.timer.started[-1]
    assert interval - 5 <= wait <= interval - 5 + 1
    rig.assert_consistent()
    # the slot comes: exactly the newest is drawn, said to be up to date
    rig.clock.now = drawn_at + (5 + wait) / 1000.0
    rig.fire()
    assert [rid for rid, _ in rig.drawn][-2:] == [r0, b]
    rig.assert_on_screen(b)
    assert "catching up" not in rig.status()
    assert rig.win.up_to_date
    rig.assert_consistent()
    # the older one, arriving (again) later, is never drawn after the newer one
    rig.clock.advance_ms(1000)
    rig.win.live.handle_all([rig.result(a)])
    rig.idle()
    assert rig.drawn[-1][0] == b and not rig.timer.isActive()
    rig.assert_on_screen(b)
    if stroking:
        rig.win.editor.end_stroke()


@pytest.mark.parametrize("stroking", [False, True], ids=["idle", "painting"])
def test_a_result_after_the_interval_is_drawn_at_once_and_within_it_waits(rig, stroking):
    """20 ms after a draw: past the idle interval (15 ms), within the painting one (33)."""
    grid = rig.win.editor.grid
    m0, m1 = _masks(grid, 2)
    if stroking:
        rig.stroke()
    r0 = rig.edit(m0)
    _drawn_once(rig, r0)
    r1 = rig.edit(m1)
    rig.clock.advance_ms(20)
    rig.arrive(r1)
    if stroking:
        assert rig.drawn[-1][0] == r0 and rig.timer.isActive()
        assert DRAW_INTERVAL_PAINTING_MS - 20 <= rig.timer.started[-1] <= 14
        rig.clock.advance_ms(rig.timer.started[-1])
        rig.fire()
    assert rig.drawn[-1][0] == r1 and not rig.timer.isActive()
    rig.assert_on_screen(r1)
    assert rig.win.up_to_date
    if stroking:
        rig.win.editor.end_stroke()


def test_catching_up_is_said_while_a_newer_request_waits_and_not_after(rig):
    m0, ma, mb = _masks(rig.win.editor.grid, 3)
    r0 = rig.edit(m0)
    _drawn_once(rig, r0)
    a, b = rig.edit(ma), rig.edit(mb)
    _drawn_once(rig, a)  # a is done, b still computed
    rig.assert_on_screen(a)
    assert rig.status() == f"{rig.latency[a]:.0f} ms · catching up"
    assert not rig.win.up_to_date
    rig.assert_consistent()
    rig.clock.advance_ms(3)  # b arrives within the interval: drawn at the slot
    rig.arrive(b)
    assert rig.drawn[-1][0] == a and rig.timer.isActive()
    rig.assert_consistent()
    rig.clock.advance_ms(rig.timer.started[-1])
    rig.fire()
    rig.assert_on_screen(b)
    assert rig.status() == f"{rig.latency[b]:.0f} ms"
    assert rig.win.up_to_date
    rig.assert_consistent()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.data())
def test_any_timing_draws_in_order_never_faster_than_the_interval_and_ends_on_the_newest(rig, data):
    """Edits, arrivals in any order, clock steps and timer slots, as Hypothesis chooses:
    draws go forward, at least an interval apart, the reported state always matches the
    screen, and once everything has arrived and the slot has come the newest is drawn."""
    grid = rig.win.editor.grid
    pool = _masks(grid, 6)
    drawn_before = len(rig.drawn)
    waiting: list[int] = []
    first = data.draw(st.integers(0, len(pool) - 1), label="first edit")
    if np.array_equal(pool[first], rig.win.editor.mask):
        first = (first + 1) % len(pool)
    waiting.append(rig.edit(pool[first]))  # every example asks for something
    for _ in range(data.draw(st.integers(1, 12), label="steps")):
        step = data.draw(st.sampled_from(["edit", "arrive", "arrive", "tick", "slot"]))
        # (what is drawn depends only on earlier draws, never on the rig's state, which
        # lives on between examples: Hypothesis must see the same choices when it replays)
        if step == "edit":
            i = data.draw(st.integers(0, len(pool) - 1))
            if np.array_equal(pool[i], rig.win.editor.mask):  # the pool's masks differ
                i = (i + 1) % len(pool)
            waiting.append(rig.edit(pool[i]))
        elif step == "arrive" and waiting:
            rid = waiting.pop(data.draw(st.integers(0, len(waiting) - 1)))
            rig.arrive(rid)
        elif step == "tick":
            rig.clock.advance_ms(data.draw(st.integers(0, 40), label="ms"))
        elif step == "slot" and rig.timer.isActive():
            rig.clock.advance_ms(rig.timer.started[-1])
            rig.fire()
        rig.assert_consistent()
    for i in data.draw(st.permutations(range(len(waiting))), label="the rest"):
        rig.arrive(waiting[i])
        rig.assert_consistent()
    if rig.timer.isActive():
        rig.clock.advance_ms(rig.timer.started[-1])
        rig.fire()
    rig.clock.advance_ms(1000)
    ids = [rid for rid, _ in rig.drawn]
    assert ids == sorted(set(ids))  # forward only, each once
    times = [t for _, t in rig.drawn[max(0, drawn_before - 1) :]]
    gaps_ms = [(t1 - t0) * 1000.0 for t0, t1 in itertools.pairwise(times)]
    assert all(g >= DRAW_INTERVAL_MS - 1e-6 for g in gaps_ms), gaps_ms
    newest = max(rig.lane.requests)
    assert rig.drawn[-1][0] == newest
    rig.assert_on_screen(newest)
    assert rig.win.up_to_date
    rig.assert_consistent()
