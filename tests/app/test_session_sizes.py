"""A session for a model of another input size opens whole (model, grid, image, mask and
options together, the first result drawn for all of them) or not at all."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.app.conftest import settle
from tests.app.test_hostile_sessions import refused, session_json, snapshot


@pytest.fixture(scope="module")
def big_input_model(tmp_path_factory):
    """A model with a 128 x 128 input: an 8x8 grid where the window's model has 4x4."""
    from tests.helpers import hf_model

    folder = tmp_path_factory.mktemp("hf128") / "vitmae128"
    hf_model(seed=2, image_size=128).save_pretrained(folder)
    return folder


def _mask8() -> list[str]:
    rng = np.random.default_rng(5)
    mask = rng.random((8, 8)) < 0.6
    return ["".join("1" if v else "0" for v in row) for row in mask]


def test_a_session_for_a_larger_input_opens_whole(qtbot, window, tmp_path, big_input_model):
    settle(qtbot, window)
    rows = _mask8()
    path = session_json(
        window,
        tmp_path,
        **{
            "checkpoint.path": str(big_input_model),
            "checkpoint.sha256": None,
            "mask": rows,
            "generator.seed": 9,
        },
    )
    errors = []
    window.error_shown.connect(errors.append)
    with qtbot.waitSignal(window.analysis_drawn, timeout=60000):
        window.files.open_session_file(path)
    settle(qtbot, window)
    assert errors == []
    e = window.editor
    assert e.grid == (8, 8) and e.image.shape == (128, 128, 3)
    assert ["".join("1" if v else "0" for v in r) for r in e.mask] == rows
    assert e.generator.seed == 9
    shown = window.live.shown
    assert shown.request.image_id == e.image_id and shown.request.generation == e.generation
    assert np.array_equal(shown.request.mask, e.mask)
    assert window.canvas.mask_shape() == (8, 8) if hasattr(window.canvas, "mask_shape") else True


def test_a_session_for_a_larger_input_that_fails_late_changes_nothing(
    qtbot, window, tmp_path, big_input_model
):
    settle(qtbot, window)
    path = session_json(
        window,
        tmp_path,
        **{
            "checkpoint.path": str(big_input_model),
            "checkpoint.sha256": None,
            "mask": _mask8(),
            "attention.query": "patch",
            "attention.cell": [9, 9],  # outside the 8x8 grid: found only against the model
        },
    )
    data = json.loads(path.read_text())
    assert data["attention"]["cell"] == [9, 9]
    before = snapshot(window)
    message = refused(qtbot, window, path)
    assert "cell" in message
    assert snapshot(window) == before
    assert window.live.lane.worker.session.config.grid_size == (4, 4)


@pytest.mark.parametrize("image", ["none", "missing"])
def test_a_session_for_a_larger_input_without_its_image_refits_the_one_on_screen(
    qtbot, window, tmp_path, big_input_model, image
):
    settle(qtbot, window)
    changes = {"checkpoint.path": str(big_input_model), "checkpoint.sha256": None,
               "mask": _mask8()}
    if image == "none":
        changes.update({"image.path": None, "image.sha256": None})
    else:
        changes.update({"image.path": str(tmp_path / "gone.png"), "image.sha256": None})
    path = session_json(window, tmp_path, **changes)
    errors = []
    window.error_shown.connect(errors.append)
    window.files.confirm = lambda message: True
    with qtbot.waitSignal(window.analysis_drawn, timeout=60000):
        window.files.open_session_file(path)
    settle(qtbot, window)
    assert errors == []
    e = window.editor
    assert e.grid == (8, 8) and e.image.shape == (128, 128, 3)
    assert window.live.shown.request.image_id == e.image_id


@pytest.mark.parametrize("failure", [MemoryError, RuntimeError])
def test_a_session_that_fails_while_being_applied_leaves_the_window_as_it_was(
    qtbot, window, tmp_path, big_input_model, monkeypatch, failure
):
    """The worker has loaded the session's 8x8 model when fitting the session's image fails
    on the GUI thread: the window keeps its own model, image, mask and options, draws nothing
    of the half-applied state, and its worker gets the window's model back."""
    settle(qtbot, window)
    path = session_json(
        window, tmp_path, **{"checkpoint.path": str(big_input_model), "checkpoint.sha256": None,
                             "mask": _mask8(), "generator.seed": 9}
    )
    before = snapshot(window)
    drawn = []
    window.analysis_drawn.connect(drawn.append)
    editor = window.editor
    real = type(editor).set_source

    def fail(self, img, p):
        real(self, img, p)  # the model, the grid and the image are switched by now
        raise failure("fitting the session's image failed")

    monkeypatch.setattr(type(editor), "set_source", fail)
    message = refused(qtbot, window, path)
    assert "fitting the session's image failed" in message
    monkeypatch.setattr(type(editor), "set_source", real)
    qtbot.waitUntil(lambda: not window.live.busy, timeout=60000)
    settle(qtbot, window)
    after = snapshot(window)
    assert after.pop("worker_generation") > before.pop("worker_generation")  # reloaded
    after.pop("generation"), before.pop("generation")
    assert after == before
    assert editor.generation == window.live.lane.worker.generation
    assert window.live.lane.worker.session.config.grid_size == (4, 4)
    assert all(window.live.shown.request.image_id == before["image_id"] for _ in drawn)
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        editor.invert()
    assert window.live.shown.request.generation == editor.generation
