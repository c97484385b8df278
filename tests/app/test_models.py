"""Models in the window: compare, the ratio sweep (progress, cancel, which image it is
for), the heads view, device and precision, head counts that were assumed."""

from __future__ import annotations

import numpy as np
import torch

from mae_desktop.engine import ModelSession
from tests.app.conftest import settle
from tests.helpers import hf_model, hf_to_official


def test_compare_reconstructs_the_same_image_and_mask(qtbot, window, hf_pair):
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.live.open_compare(str(hf_pair[1]))
    settle(qtbot, window)
    assert "compare" in window.panels.data
    direct = ModelSession.open(hf_pair[1]).reconstruct(window.editor.image, window.editor.mask)
    assert f"{direct.masked_psnr:.2f} dB" in window.panels.titles["compare"].text()
    composite = np.round(np.clip(direct.composite, 0, 1) * 255)
    assert np.abs(window.panels.data["compare"] - composite).max() <= 1
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.live.close_compare()
    settle(qtbot, window)
    assert "compare" not in window.panels.data


def test_ratio_sweep_plots_progress_and_is_cleared_for_another_image(qtbot, window, photo):
    from PIL import Image

    from mae_desktop.engine.sweep import ratio_sweep

    dock = window.analysis
    dock.seeds_spin.setValue(2)
    with qtbot.waitSignal(window.live.sweep_finished, timeout=60000):
        dock.run()
        assert dock.cancel_button.isEnabled() and not dock.progress.isHidden()
    x, y = dock.sweep_curve.getData()
    session = ModelSession.open(window.editor.model["path"])
    expected = ratio_sweep(session, window.editor.image, seeds=2)
    np.testing.assert_allclose(x, expected.ratios)
    np.testing.assert_allclose(y, expected.mean, rtol=1e-4)
    assert "photo.png" in dock.sweep_note.text() and "vitmae" in dock.sweep_note.text()
    assert not dock.cancel_button.isEnabled() and dock.progress.isHidden()
    window.editor.set_source(Image.open(photo).rotate(90), None)
    assert len(dock.sweep_curve.getData()[0] or []) == 0  # no stale curve
    assert "changed" in dock.sweep_note.text()


def test_a_sweep_can_be_cancelled(qtbot, window):
    dock = window.analysis
    dock.seeds_spin.setValue(10)
    with qtbot.waitSignal(window.live.sweep_progress, timeout=20000):
        dock.run()
    with qtbot.waitSignal(window.live.sweep_finished, timeout=20000) as sig:
        dock.cancel_button.click()
    assert sig.args[0].status == "cancelled" and "stopped" in dock.sweep_note.text()
    settle(qtbot, window)


def test_heads_view_shows_every_head_when_shown(qtbot, window):
    assert window.heads._items == []  # hidden: not drawn per stroke
    window.heads_dock.show()
    heads = window.live.shown.outcome.analysis.attention.maps.shape[1]
    qtbot.waitUntil(lambda: len(window.heads._items) == heads)


def test_switching_precision_keeps_image_and_mask(qtbot, window):
    image, mask = window.editor.image, window.editor.mask
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.set_device("cpu", "bf16")
    settle(qtbot, window)
    assert window.editor.model["dtype"] == "bf16"
    assert (window.editor.image == image).all() and (window.editor.mask == mask).all()
    assert window.live.shown.outcome.analysis.reconstruction.dtype == "bf16"
    with qtbot.waitSignal(window.error_shown, timeout=20000) as sig:
        window.set_device("cpu", "fp16")
    assert "fp16 is not available" in sig.args[0]
    assert window.editor.model["dtype"] == "bf16"
    assert window.menus.precision_group.checkedAction().text() == "bf16"


def test_device_choice_is_remembered(qtbot, window, new_window):
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.set_device("cpu", "bf16")
    settle(qtbot, window)
    window.save_settings()
    again = new_window("settings")
    assert again.saved_device() == ("cpu", "bf16")
    window.settings.setValue("model/device", "cuda:7")  # a GPU this machine does not have
    assert again.saved_device() == ("auto", "auto")  # auto device, auto precision


def test_assumed_head_counts_are_shown_and_can_be_set(qtbot, window, tmp_path):
    """An official-layout file (no head counts stored) of a model with 64-wide, 4-head
    layers: the app assumes 1 head and says so; setting 4 reproduces the model."""
    model = hf_model(seed=5, layer_norm_eps=1e-6)
    torch.save({"model": hf_to_official(model.state_dict())}, tmp_path / "odd.pth")
    with qtbot.waitSignal(window.model_loaded, timeout=20000):
        window.files.open_checkpoint(tmp_path / "odd.pth")
    settle(qtbot, window)
    assert "1/1 heads assumed" in window.status.model_label.text()
    wrong = window.live.shown.outcome.analysis.reconstruction.composite
    with qtbot.waitSignal(window.model_loaded, timeout=20000):
        window.live.set_heads(4, 2)
    settle(qtbot, window)
    assert "assumed" not in window.status.model_label.text()
    assert window.editor.head_overrides == {"heads": 4, "decoder_heads": 2}
    right = window.live.shown.outcome.analysis.reconstruction.composite
    reference = ModelSession.open(tmp_path / "odd.pth", heads=4, decoder_heads=2)
    expected = reference.reconstruct(window.editor.image, window.editor.mask).composite
    np.testing.assert_allclose(right, expected, atol=1e-5)
    assert np.abs(wrong - expected).max() > 1e-3
    window.files.save_session_file(tmp_path / "s.json")
    assert '"heads": 4' in (tmp_path / "s.json").read_text()
