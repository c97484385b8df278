"""The live loop without Qt: the real worker and a small model, results pumped by hand."""

from __future__ import annotations

import queue
import threading

import numpy as np
import pytest

from mae_desktop.core.editor import EditorState
from mae_desktop.core.live import LiveController
from mae_desktop.core.requests import CANCELLED, DONE, Result
from mae_desktop.core.sessions import session_from_editor
from mae_desktop.engine import masks
from mae_desktop.engine.images import read_image
from mae_desktop.engine.session import ModelSession


class Live:
    """An editor and its controller; `pump(cond)` handles worker items until cond()."""

    def __init__(self) -> None:
        self.editor = EditorState()
        self.items: queue.Queue = queue.Queue()
        self.ctl = LiveController(self.editor, self.items.put)
        self.shown = []
        self.errors = []
        self.ctl.analysis_shown.connect(self.shown.append)
        self.ctl.error.connect(self.errors.append)

    def pump(self, cond, timeout: float = 20.0) -> None:
        while not cond():
            self.ctl.handle(self.items.get(timeout=timeout))

    def settle(self) -> None:
        self.pump(lambda: not self.ctl.busy)


@pytest.fixture
def live(hf_pair, photo):
    lv = Live()
    lv.ctl.open_model(str(hf_pair[1]))
    lv.editor.set_source(read_image(photo), str(photo))
    lv.settle()
    yield lv
    lv.ctl.close()


class Gated:
    """Wraps session.analyse so that each pass waits for `release()`; `started()` returns
    the mask of the pass the worker has just begun."""

    def __init__(self, session: ModelSession) -> None:
        self.real = session.analyse
        self.sem = threading.Semaphore(0)
        self._started: queue.Queue = queue.Queue()
        session.analyse = self

    def __call__(self, image, mask, *args, **kwargs):
        self._started.put(mask.copy())
        assert self.sem.acquire(timeout=10)
        return self.real(image, mask, *args, **kwargs)

    def started(self) -> np.ndarray:
        return self._started.get(timeout=10)

    def release(self) -> None:
        self.sem.release()


def test_start_up_shows_the_analysis_of_exactly_the_mask_on_screen(live, hf_pair):
    assert live.editor.grid == (4, 4) and live.editor.image.shape == (64, 64, 3)
    shown = live.shown[-1]
    assert not shown.catching_up
    assert (shown.request.mask == live.editor.mask).all()
    direct = ModelSession.open(hf_pair[1]).reconstruct(live.editor.image, live.editor.mask)
    rec = shown.outcome.analysis.reconstruction
    np.testing.assert_allclose(rec.composite, direct.composite, atol=1e-5)


def test_results_refresh_while_painting_and_never_go_backwards(live):
    gated = Gated(live.ctl.lane.worker.session)
    live.shown.clear()
    m = [masks.random_mask((4, 4), 0.5, s) for s in range(4)]
    live.editor.set_mask(m[0])
    assert (gated.started() == m[0]).all()  # pass 1 runs with mask 0...
    live.editor.set_mask(m[1])  # ...while two edits arrive; only the newest will run
    live.editor.set_mask(m[2])
    gated.release()
    live.pump(lambda: len(live.shown) == 1)
    assert live.shown[0].catching_up  # drawn at once, though a newer request waits
    assert (gated.started() == m[2]).all()
    live.editor.set_mask(m[3])  # arrives while mask 2 is computed
    gated.release()
    live.pump(lambda: len(live.shown) == 2)
    assert live.shown[1].catching_up
    assert (gated.started() == m[3]).all()
    gated.release()
    live.settle()
    assert [s.catching_up for s in live.shown] == [True, True, False]
    ids = [s.id for s in live.shown]
    assert ids == sorted(ids)
    expected = [m[0], m[2], m[3]]
    assert all((s.request.mask == mk).all() for s, mk in zip(live.shown, expected, strict=True))
    assert (live.ctl.shown.request.mask == live.editor.mask).all()


def test_an_older_result_is_never_drawn_over_a_newer_one(live):
    old = live.ctl.shown
    fake = Result(old.id - 1, old.request, DONE, old.outcome)
    live.ctl.handle(fake)
    assert live.ctl.shown is old


def test_a_result_for_the_previous_image_is_not_shown(live, photo):
    gated = Gated(live.ctl.lane.worker.session)
    live.shown.clear()
    live.editor.invert()
    gated.started()  # the inverted mask, on the old image...
    live.editor.set_source(read_image(photo).rotate(90), "rotated")
    gated.release()  # ...finishes after the new image arrived: not shown
    gated.started()
    gated.release()
    live.settle()
    assert len(live.shown) == 1 and live.shown[0].request.image_id == live.editor.image_id


def test_model_commands_apply_in_order_and_a_bad_one_keeps_the_state(live, hf_pair, tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"garbage")
    model, mask = live.editor.model, live.editor.mask
    live.ctl.move_model("cpu", "bf16")
    live.ctl.open_model(str(junk))
    live.ctl.open_compare(str(hf_pair[1]))
    live.settle()
    assert live.errors == ["cannot read junk.pth: not a PyTorch checkpoint"]
    assert live.editor.model["dtype"] == "bf16"
    assert live.editor.model["path"] == model["path"]
    assert live.editor.model["sha256"] == model["sha256"]
    assert live.editor.generation == model["generation"] + 1
    assert live.editor.compare is not None and (live.editor.mask == mask).all()
    assert live.shown[-1].outcome.analysis.reconstruction.dtype == "bf16"
    assert live.shown[-1].outcome.compare is not None


def test_a_sweep_yields_to_painting_reports_progress_and_can_be_cancelled(live):
    progress, finished = [], []
    live.ctl.sweep_progress.connect(progress.append)
    live.ctl.sweep_finished.connect(finished.append)
    sid = live.ctl.request_sweep(seeds=2)
    live.pump(lambda: len(progress) >= 2)
    live.editor.invert()  # served before the sweep's next pass
    before = len(progress)
    live.pump(lambda: (live.ctl.shown.request.mask == live.editor.mask).all())
    assert len(progress) <= before + 1
    live.pump(lambda: finished)
    result = finished[0]
    assert result.id == sid and result.status == DONE
    assert progress[-1].done == progress[-1].total == 36
    assert result.request.image_id == live.editor.image_id
    assert len(result.payload.ratios) == 18 and np.isfinite(result.payload.mean).all()
    finished.clear()
    live.ctl.request_sweep(seeds=10)
    live.pump(lambda: len(progress) > 40)
    assert live.ctl.cancel_sweep()
    live.pump(lambda: finished)
    assert finished[0].status == CANCELLED and not live.ctl.busy


def test_a_new_image_cancels_the_sweep_of_the_old_one(live, photo):
    finished = []
    live.ctl.sweep_finished.connect(finished.append)
    live.ctl.request_sweep(seeds=10)
    live.editor.set_source(read_image(photo).rotate(90), "rotated")
    live.pump(lambda: finished)
    assert finished[0].status == CANCELLED


def test_a_session_reopens_after_its_model_loads(live, hf_pair, tmp_path, photo):
    live.editor.set_generator(seed=9)
    live.editor.set_mask(masks.random_mask((4, 4), 0.5, 9))
    live.editor.pick_query((1, 2))
    live.settle()
    session = session_from_editor(live.editor)
    other = Live()
    try:
        other.ctl.open_session(session)
        other.settle()
        e = other.editor
        assert (e.mask == live.editor.mask).all() and e.generator.seed == 9
        assert e.attention.cell == (1, 2) and e.image_path == str(photo)
        assert other.shown[-1].request.query == (1, 2)
        assert not e.history.can_undo
    finally:
        other.ctl.close()


def test_a_session_whose_model_fails_changes_nothing(live, tmp_path, photo):
    session = session_from_editor(live.editor)
    (tmp_path / "junk.pth").write_bytes(b"garbage")
    session.checkpoint_path = str(tmp_path / "junk.pth")
    session.mask = ~session.mask
    mask, image_id = live.editor.mask, live.editor.image_id
    asked = []
    live.ctl.open_session(session, lambda message, answer: answer(asked.append(message) or True))
    live.settle()
    assert "junk.pth is not the file the session was saved with" in asked[0]
    assert live.errors and (live.editor.mask == mask).all()
    assert live.editor.image_id == image_id
