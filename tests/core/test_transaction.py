"""EditorState.transaction: whole or not at all. Views hear each event once, after the
final state is in place; a failure inside puts every attribute back and announces nothing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mae_desktop.core.editor import EditorState
from mae_desktop.core.events import Event, held

EVENTS = (
    "model_changed",
    "image_changed",
    "mask_changed",
    "history_changed",
    "generator_changed",
    "options_changed",
    "compare_changed",
)


def _editor() -> EditorState:
    e = EditorState()
    e.set_source(Image.new("RGB", (50, 40), (90, 30, 200)), "a.png")
    return e


def _state(e: EditorState) -> dict:
    """Every attribute but the events, comparable (arrays as bytes, history as its steps)."""
    out = {}
    for k, v in vars(e).items():
        if isinstance(v, Event):
            continue
        if isinstance(v, np.ndarray):
            v = (v.shape, v.tobytes())
        elif k == "history":
            v = (
                [m.tobytes() for m in v._undo],
                [m.tobytes() for m in v._redo],
                v.current.tobytes(),
            )
        elif isinstance(v, Image.Image):
            v = (v.size, v.tobytes())
        out[k] = v
    return out


EDITS = {
    "invert": lambda e: e.invert(),
    "clear": lambda e: e.clear(),
    "seed": lambda e: e.set_generator(seed=7, regenerate=True),
    "ratio": lambda e: e.set_generator(ratio=0.3, regenerate=True),
    "display": lambda e: e.set_display_mode("raw"),
    "attention": lambda e: e.set_attention(part="decoder", layer=0),
    "resize": lambda e: e.set_resize("pad"),
    "image": lambda e: e.set_source(Image.new("RGB", (30, 70), (1, 2, 3)), "b.png"),
    "undo": lambda e: e.undo(),
}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(EDITS)), min_size=1, max_size=6))
def test_a_failed_transaction_changes_nothing_and_announces_nothing(edits):
    e = _editor()
    e.invert()  # an undo step to lose
    before = _state(e)
    heard = []
    for name in EVENTS:
        getattr(e, name).connect(lambda *a, name=name: heard.append(name))
    with pytest.raises(RuntimeError, match="late"), e.transaction():
        for edit in edits:
            EDITS[edit](e)
        raise RuntimeError("late failure")
    assert heard == []
    assert _state(e) == before


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(EDITS)), min_size=1, max_size=6))
def test_a_transaction_announces_each_event_once_after_the_final_state(edits):
    plain, batched = _editor(), _editor()
    heard_plain: list[str] = []
    for name in EVENTS:
        getattr(plain, name).connect(lambda *a, name=name: heard_plain.append(name))
    for edit in edits:
        EDITS[edit](plain)
    heard: list[tuple[str, dict]] = []
    for name in EVENTS:
        getattr(batched, name).connect(
            lambda *a, name=name: heard.append((name, _state(batched), a))
        )
    with batched.transaction():
        for edit in edits:
            EDITS[edit](batched)
        assert heard == []  # nothing while it is half-done
    final = _state(batched)
    names = [h[0] for h in heard]
    assert names == [n for n in EVENTS if n in set(heard_plain)]  # once each, in order
    assert all(state == final for _, state, _ in heard)  # every view sees the final state
    assert _state(plain).keys() == final.keys()


def test_held_unites_the_option_names_and_an_outer_hold_wins():
    ev, other = Event("options_changed"), Event("x")
    got: list = []
    ev.connect(lambda names: got.append(names))
    other.connect(lambda: got.append("x"))
    with held([ev, other]):
        ev.emit(frozenset({"a"}))
        with held([ev]):  # nested: the outer hold keeps everything
            ev.emit(frozenset({"b"}))
        assert got == []
        other.emit()
        other.emit()
    assert got == [frozenset({"a", "b"}), "x"]
