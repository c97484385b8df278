"""The editor state without Qt: the generator regenerates live, a drag is one undo step and
its requests are interactive, a session load keeps its saved mask."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mae_desktop.core.editor import IGNORES_RATIO, IGNORES_SEED, EditorState
from mae_desktop.core.sessions import apply_session, session_from_editor
from mae_desktop.engine import masks
from mae_desktop.engine.config import MAEConfig
from mae_desktop.engine.errors import MAEError

GRID = (8, 8)


@pytest.fixture
def editor() -> EditorState:
    """An editor with an image and a (never loaded) 128x128 model: 8x8 patches of 16."""
    e = EditorState()
    cfg = MAEConfig(image_size=(128, 128), patch_size=16)
    e.set_model({"config": cfg.to_dict(), "generation": 1, "path": "/models/tiny.safetensors"})
    e.set_source(Image.new("RGB", (128, 128), (200, 100, 50)), "/images/flat.png")
    return e


def record(event) -> list:
    calls = []
    event.connect(lambda *args: calls.append(args))
    return calls


@pytest.mark.parametrize("mode", masks.MASK_MODES)
def test_the_controls_a_generator_ignores_are_the_ones_it_ignores(mode):
    base = masks.generate(mode, GRID, 0.5, 1)
    same_for_ratio = np.array_equal(base, masks.generate(mode, GRID, 0.25, 1))
    same_for_seed = np.array_equal(base, masks.generate(mode, GRID, 0.5, 2))
    assert same_for_ratio == (mode in IGNORES_RATIO)
    assert same_for_seed == (mode in IGNORES_SEED)


def test_a_ratio_change_regenerates_with_the_same_seed_as_one_undo_step(editor):
    editor.set_generator(mode="random", seed=5, regenerate=True)
    before = editor.mask
    steps = record(editor.history_changed)
    editor.set_generator(ratio=0.25, regenerate=True)
    assert np.array_equal(editor.mask, masks.generate("random", GRID, 0.25, 5))
    assert editor.mask.sum() == 16 and len(steps) == 1
    editor.undo()
    assert np.array_equal(editor.mask, before)


def test_a_seed_or_mode_change_regenerates(editor):
    editor.set_generator(seed=11, regenerate=True)
    assert np.array_equal(editor.mask, masks.generate("random", GRID, 0.75, 11))
    editor.set_generator(mode="center", regenerate=True)
    assert np.array_equal(editor.mask, masks.center_mask(GRID, 0.75))


def test_a_drag_is_one_undo_step_and_its_requests_are_interactive(editor):
    start = editor.mask
    steps, finished = record(editor.history_changed), record(editor.stroke_finished)
    editor.begin_adjust()
    for ratio in (0.7, 0.5, 0.3, 0.2):
        editor.set_generator(ratio=ratio, regenerate=True)
        assert np.array_equal(editor.mask, masks.generate("random", GRID, ratio, 0))
        assert editor.analyse_request().interactive
    assert steps == [] and finished == []
    editor.end_adjust()
    assert len(steps) == 1 and len(finished) == 1
    assert not editor.analyse_request().interactive
    assert editor.mask.sum() == round(0.2 * 64)
    editor.undo()
    assert np.array_equal(editor.mask, start)  # the whole drag undone at once
    assert not editor.history.can_undo


def test_ending_an_adjustment_that_never_began_does_nothing(editor):
    steps, finished = record(editor.history_changed), record(editor.stroke_finished)
    editor.end_adjust()
    assert steps == [] and finished == []


def test_without_regenerate_the_mask_stays(editor):
    mask = editor.mask
    editor.set_generator(mode="block", ratio=0.3, seed=4)
    assert editor.mask is mask and editor.generator.ratio == 0.3


def test_a_bad_ratio_is_refused_and_changes_nothing(editor):
    mask, generator = editor.mask, editor.generator
    with pytest.raises(MAEError):
        editor.set_generator(ratio=1.5, regenerate=True)
    assert editor.mask is mask and editor.generator == generator


def test_a_session_load_keeps_its_saved_mask(editor):
    saved = masks.random_mask(GRID, 0.4, 99)
    editor.set_generator(mode="block", ratio=0.6, seed=3, regenerate=True)
    editor.set_mask(saved)
    session = session_from_editor(editor)
    other = EditorState()
    other.set_model(dict(editor.model))
    announced = []
    other.mask_changed.connect(lambda: announced.append(other.mask))
    apply_session(other, session, Image.new("RGB", (128, 128)))
    assert np.array_equal(other.mask, saved)
    # no generated mask in between (it would be analysed for nothing)
    assert announced and all(np.array_equal(m, saved) for m in announced)
    assert (other.generator.mode, other.generator.ratio, other.generator.seed) == ("block", 0.6, 3)
