"""MaskHistory (undo/redo of whole masks) against a model: a list of states and an index.

Guards: push/undo/redo/reset in any order with small undo limits (1-5) over long sequences;
the limit forgets the OLDEST steps, never the newest; an unchanged mask records no step; a
new edit drops what could be redone; and every mask going in or out is a copy, so changing
one afterwards changes nothing in the history.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from mae_desktop.engine.brush import MaskHistory

GRID = (2, 2)  # 16 masks in all, so equal masks (no step) come up often
masks = st.lists(st.booleans(), min_size=4, max_size=4).map(
    lambda v: np.array(v, dtype=bool).reshape(GRID)
)


class HistoryModel:
    """states[index] is shown; states before it can be undone, those after it redone."""

    def __init__(self, initial: np.ndarray, limit: int) -> None:
        self.states, self.index, self.limit = [initial.copy()], 0, limit

    @property
    def current(self) -> np.ndarray:
        return self.states[self.index]

    def push(self, mask: np.ndarray) -> bool:
        if np.array_equal(mask, self.current):
            return False
        self.states = [*self.states[: self.index + 1], mask.copy()]
        # keep the newest `limit` undo steps: forget the oldest states
        self.states = self.states[-(self.limit + 1) :]
        self.index = len(self.states) - 1
        return True

    def undo(self) -> np.ndarray | None:
        if self.index == 0:
            return None
        self.index -= 1
        return self.current

    def redo(self) -> np.ndarray | None:
        if self.index == len(self.states) - 1:
            return None
        self.index += 1
        return self.current

    def reset(self, mask: np.ndarray) -> None:
        self.states, self.index = [mask.copy()], 0


def _same(got: np.ndarray | None, want: np.ndarray | None) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return got.dtype == bool and np.array_equal(got, want)


class HistoryMachine(RuleBasedStateMachine):
    @initialize(initial=masks, limit=st.integers(1, 5))
    def start(self, initial: np.ndarray, limit: int) -> None:
        self.history = MaskHistory(initial, limit=limit)
        self.model = HistoryModel(initial, limit)
        initial ^= True  # the caller's array is not the history's

    @rule(mask=masks)
    def push(self, mask: np.ndarray) -> None:
        assert self.history.push(mask) == self.model.push(mask)
        mask ^= True  # changing the pushed array afterwards changes nothing

    @rule()
    def undo(self) -> None:
        got, want = self.history.undo(), self.model.undo()
        assert _same(got, want)
        if got is not None:
            got ^= True  # nor does changing a returned mask

    @rule()
    def redo(self) -> None:
        got, want = self.history.redo(), self.model.redo()
        assert _same(got, want)
        if got is not None:
            got ^= True

    @precondition(lambda self: len(self.model.states) > 1)
    @rule(steps=st.integers(1, 6))
    def undo_many(self, steps: int) -> None:
        for _ in range(steps):
            assert _same(self.history.undo(), self.model.undo())

    @rule(mask=masks)
    def reset(self, mask: np.ndarray) -> None:
        self.history.reset(mask)
        self.model.reset(mask)
        mask ^= True

    @rule()
    def change_current(self) -> None:
        shown = self.history.current
        shown ^= True

    @invariant()
    def agrees_with_the_model(self) -> None:
        assert _same(self.history.current, self.model.current)
        assert self.history.can_undo == (self.model.index > 0)
        assert self.history.can_redo == (self.model.index < len(self.model.states) - 1)


HistoryMachine.TestCase.settings = settings(max_examples=80, stateful_step_count=40, deadline=None)
TestHistoryAgainstModel = HistoryMachine.TestCase


def _mask(i: int) -> np.ndarray:
    """Distinct masks on a 3x3 grid: bit k of i at cell k."""
    return np.array([bool(i >> k & 1) for k in range(9)]).reshape(3, 3)


def test_the_limit_forgets_the_oldest_steps_by_hand() -> None:
    for limit in range(1, 6):
        history = MaskHistory(_mask(0), limit=limit)
        for i in range(1, 11):
            assert history.push(_mask(i))
        # the newest `limit` steps undo, in order, down to mask 10 - limit; nothing older
        for i in range(9, 9 - limit, -1):
            assert np.array_equal(history.undo(), _mask(i))
        assert history.undo() is None and not history.can_undo
        assert np.array_equal(history.current, _mask(10 - limit))
        for i in range(11 - limit, 11):  # and all of them redo
            assert np.array_equal(history.redo(), _mask(i))
        assert history.redo() is None


def test_a_new_edit_after_undo_drops_the_redo_steps_by_hand() -> None:
    history = MaskHistory(_mask(0), limit=3)
    for i in (1, 2, 3):
        history.push(_mask(i))
    history.undo()
    history.undo()
    assert history.push(_mask(7))
    assert history.redo() is None
    assert [m.tolist() for m in (history.undo(), history.undo())] == [
        _mask(1).tolist(),
        _mask(0).tolist(),
    ]
    assert history.undo() is None


@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_below_one_is_refused_not_unlimited(limit):
    with pytest.raises(ValueError, match="at least 1"):
        MaskHistory(np.zeros((2, 2), bool), limit=limit)
