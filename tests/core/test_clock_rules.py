"""The live loop's ordering rules with fake results in any order (no worker, no model, no
sleeps): a result older than the one on screen is never shown, every newer finished one is
(a burst announces its newest), one made for another image or model never is, 'catching up'
says exactly whether a newer request waits, and the newest mask's own result is shown last.

The lane is replaced by a fake that only numbers the requests; the test plays the worker,
delivering results in orders Hypothesis chooses, interleaved with new edits, new images and
new models."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mae_desktop.core import live as live_mod
from mae_desktop.core.editor import EditorState
from mae_desktop.core.live import LiveController, Shown
from mae_desktop.core.requests import CANCELLED, DONE, ERROR, Analyse, Request, Result
from mae_desktop.core.worker import AnalysisOutcome
from mae_desktop.engine.config import MAEConfig


class FakeLane:
    """Numbers requests (1, 2, ...) and keeps them; runs nothing."""

    def __init__(self, worker=None, deliver=None) -> None:
        self.worker = worker
        self.requests: dict[int, Request] = {}

    def submit(self, request: Request) -> int:
        rid = len(self.requests) + 1
        self.requests[rid] = request
        return rid

    def hurry(self, kind: str) -> bool:
        return False

    def cancel(self, kind: str) -> bool:
        return False

    def close(self, timeout: float | None = None) -> bool:
        return True


def model_info(generation: int) -> dict:
    cfg = MAEConfig(image_size=(64, 64), patch_size=16, embed_dim=32, depth=1, num_heads=2)
    return {"config": cfg.to_dict(), "generation": generation, "path": "tiny.pth"}


@dataclass
class Rig:
    """An editor, its controller on a fake lane, and what the controller announced."""

    editor: EditorState
    ctl: LiveController
    lane: FakeLane
    shown: list[Shown] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    outcomes: dict[int, AnalysisOutcome] = field(default_factory=dict)
    delivered: dict[int, str] = field(default_factory=dict)  # id -> status sent
    images: int = 0
    generation: int = 1

    @classmethod
    def make(cls) -> Rig:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(live_mod, "Lane", FakeLane)
            editor = EditorState()
            ctl = LiveController(editor, lambda item: None, worker=SimpleNamespace())
        assert isinstance(ctl.lane, FakeLane)
        rig = cls(editor, ctl, ctl.lane)
        ctl.analysis_shown.connect(rig.shown.append)
        ctl.error.connect(rig.errors.append)
        editor.set_model(model_info(rig.generation))
        rig.new_image()
        return rig

    # -- what the user does ------------------------------------------------------------------
    def edit(self, cell: int) -> None:
        mask = self.editor.mask.copy()
        mask.flat[cell % mask.size] ^= True  # always a different mask: always a request
        self.editor.set_mask(mask)

    def new_image(self) -> None:
        self.images += 1
        shade = (37 * self.images) % 256
        self.editor.set_source(Image.new("RGB", (64, 64), (shade, 255 - shade, 90)), None)

    def new_model(self) -> None:
        self.generation += 1
        self.editor.set_model(model_info(self.generation))

    # -- what the worker sends back ----------------------------------------------------------
    def analyses(self) -> list[int]:
        return [i for i, r in self.lane.requests.items() if isinstance(r, Analyse)]

    def result(self, rid: int, status: str = DONE) -> Result:
        request = self.lane.requests[rid]
        if status == DONE:
            outcome = AnalysisOutcome(SimpleNamespace(made_for=rid), None)
            self.outcomes[rid] = outcome
            return Result(rid, request, DONE, outcome)
        return Result(rid, request, status, message=f"failed {rid}")


class Reference:
    """The rules written out: which id is on screen, which burst shows what."""

    def __init__(self) -> None:
        self.screen: int | None = None

    def burst(self, rig: Rig, items: list[Result]) -> tuple[int, bool] | None:
        """(id, catching_up) the burst must announce, or None."""
        e = rig.editor
        fit = [
            r.id
            for r in items
            if r.status == DONE
            and r.request.image_id == e.image_id
            and r.request.generation == e.generation
            and (self.screen is None or r.id > self.screen)
        ]
        if not fit:
            return None
        self.screen = max(fit)
        newest_request = max(rig.analyses())
        return self.screen, self.screen < newest_request


def deliver(rig: Rig, ref: Reference, items: list[Result]) -> None:
    before = len(rig.shown)
    expected = ref.burst(rig, items)
    newest_request = max(rig.analyses())
    errors_before = len(rig.errors)
    rig.ctl.handle_all(items)
    rig.delivered.update((r.id, r.status) for r in items)
    announced = rig.shown[before:]
    if expected is None:
        assert announced == []
    else:
        assert len(announced) == 1  # a burst is drawn once
        s = announced[0]
        assert (s.id, s.catching_up) == expected
        # the request and outcome are the ones of that id, not of another
        assert s.request is rig.lane.requests[s.id] and s.outcome is rig.outcomes[s.id]
        assert rig.ctl.shown is s
    # an error is told only for the newest request (older ones are moot)
    told = [r.message for r in items if r.status == ERROR and r.id == newest_request]
    assert rig.errors[errors_before:] == told


def never_backwards(rig: Rig) -> None:
    ids = [s.id for s in rig.shown]
    assert ids == sorted(set(ids)), ids


STATUS = st.sampled_from([DONE, DONE, DONE, CANCELLED, ERROR])


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_results_in_any_order_are_shown_newest_only_and_the_last_edit_is_shown_last(data):
    rig = Rig.make()
    ref = Reference()
    for _ in range(data.draw(st.integers(1, 14), label="steps")):
        step = data.draw(
            st.sampled_from(["edit", "edit", "edit", "deliver", "deliver", "image", "model"])
        )
        if step == "edit":
            rig.edit(data.draw(st.integers(0, 15)))
        elif step == "image":
            rig.new_image()
        elif step == "model":
            rig.new_model()
        else:
            waiting = [i for i in rig.analyses() if i not in rig.delivered]
            if not waiting:
                continue
            ids = data.draw(st.permutations(waiting), label="order")
            ids = ids[: data.draw(st.integers(1, len(ids)), label="burst")]
            items = [rig.result(i, data.draw(STATUS, label=f"status {i}")) for i in ids]
            deliver(rig, ref, items)
        never_backwards(rig)
    # the worker finishes: whatever it still owes, in any order, the newest request done
    last = max(rig.analyses())
    rest = [i for i in rig.analyses() if i not in rig.delivered]
    order = data.draw(st.permutations(rest), label="final order")
    while order:
        n = data.draw(st.integers(1, len(order)), label="final burst")
        burst, order = order[:n], order[n:]
        items = [rig.result(i, DONE if i == last else data.draw(STATUS)) for i in burst]
        deliver(rig, ref, items)
        never_backwards(rig)
    if rig.delivered[last] == DONE:  # the newest mask's own result is what stays on screen
        final = rig.shown[-1]
        assert final.id == last and not final.catching_up
        assert np.array_equal(final.request.mask, rig.editor.mask)
        assert rig.ctl.is_current(final)
    assert not rig.ctl.busy


@settings(max_examples=60, deadline=None)
@given(st.permutations(range(6)), st.integers(1, 6))
def test_a_result_older_than_the_one_on_screen_never_replaces_it(order, burst_size):
    """Six edits, their results in a chosen order and bursts: what is shown is the running
    maximum of the ids delivered, each at most once."""
    rig = Rig.make()
    first = max(rig.analyses())
    for cell in range(6):
        rig.edit(cell)
    ids = [first + 1 + k for k in order]
    newest = max(ids)
    shown_ids, on_screen = [], None
    for start in range(0, len(ids), burst_size):
        burst = ids[start : start + burst_size]
        before = len(rig.shown)
        rig.ctl.handle_all([rig.result(i) for i in burst])
        top = max(burst)
        if on_screen is None or top > on_screen:
            on_screen = top
            shown_ids.append(top)
            assert [s.id for s in rig.shown[before:]] == [top]
        else:
            assert rig.shown[before:] == []
        assert rig.ctl.shown.id == on_screen
        # catching up exactly while the newest request has not come back
        assert rig.ctl.shown.catching_up == (on_screen < newest)
    assert [s.id for s in rig.shown] == shown_ids
    assert rig.shown[-1].id == newest and not rig.ctl.busy
    assert np.array_equal(rig.shown[-1].request.mask, rig.editor.mask)
