"""A model whose pass gives NaN or infinity is an error dialog in the window; the result on
screen stays (never an all-black reconstruction drawn as if it were one)."""

from __future__ import annotations

import shutil

import numpy as np
from safetensors.torch import load_file, save_file

from tests.app.conftest import settle


def test_a_non_finite_pass_is_a_dialog_and_the_result_stays(qtbot, window, hf_pair, tmp_path):
    folder = tmp_path / "huge"
    shutil.copytree(hf_pair[1], folder)
    weights = load_file(str(folder / "model.safetensors"))
    huge = {k: (v * 1e30 if v.ndim >= 2 else v).contiguous() for k, v in weights.items()}
    save_file(huge, str(folder / "model.safetensors"))
    before = window.live.shown
    pictures = {k: np.array(v, copy=True) for k, v in window.panels.data.items()}
    with qtbot.waitSignal(window.error_shown, timeout=60000) as sig:
        window.files.open_checkpoint(folder)
    message = sig.args[0]
    assert "non-finite" in message and "NaN or infinity" in message
    qtbot.waitUntil(lambda: not window.live.busy, timeout=30000)
    assert window.live.shown is before
    assert pictures.keys() == window.panels.data.keys()
    for name, picture in pictures.items():
        assert np.array_equal(window.panels.data[name], picture), name
    assert np.isfinite(before.outcome.analysis.reconstruction.prediction).all()
    window.files.open_checkpoint(hf_pair[1])  # a good model afterwards draws again
    settle(qtbot, window)
    assert window.live.shown is not before
