"""Model ▸ Input normalisation: the choice reloads the model, is checked in the menu, shown
in Model info, kept in session files; the custom dialog accepts only valid values."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QDialogButtonBox

from mae_desktop.app.dialogs import InputNormDialog, input_norm_label, model_info_html
from mae_desktop.engine import ModelSession
from tests.app.conftest import settle


def _trigger(window, label: str) -> None:
    [action] = [a for a in window.menus.input_norm_group.actions() if a.text() == label]
    action.trigger()


def test_a_choice_reloads_the_model_and_sessions_keep_it(qtbot, window, new_window, tmp_path):
    assert window.menus.checked(window.menus.input_norm_group) == "As the checkpoint says"
    with qtbot.waitSignal(window.model_loaded, timeout=20000):
        _trigger(window, "None ([0, 1] pixels)")
    settle(qtbot, window)
    editor = window.editor
    assert editor.input_norm == "none" and editor.config.raw_pixels
    assert window.menus.checked(window.menus.input_norm_group) == "None ([0, 1] pixels)"
    html = model_info_html(editor.model)
    assert "none (raw [0, 1] pixels) [set by the user]" in html
    reference = ModelSession.open(editor.model["path"], "cpu", input_norm="none")
    expected = reference.reconstruct(editor.image, editor.mask).composite
    shown = window.live.shown.outcome.analysis.reconstruction.composite
    np.testing.assert_allclose(shown, expected, atol=1e-5)
    window.files.save_session_file(tmp_path / "s.json")
    assert '"input_norm": "none"' in (tmp_path / "s.json").read_text()
    other = new_window("other")
    other.show()
    with qtbot.waitSignal(other.model_loaded, timeout=30000):
        assert other.files.open_session_file(tmp_path / "s.json")
    settle(qtbot, other)
    assert other.editor.input_norm == "none"
    assert other.menus.checked(other.menus.input_norm_group) == "None ([0, 1] pixels)"
    with qtbot.waitSignal(window.model_loaded, timeout=20000):
        _trigger(window, "As the checkpoint says")
    assert window.editor.input_norm is None and not window.editor.config.raw_pixels
    other.close()


def test_without_a_model_it_says_so(qtbot, new_window):
    win = new_window()
    with qtbot.waitSignal(win.error_shown, timeout=5000) as sig:
        _trigger(win, "ImageNet")
    assert "open a checkpoint first" in sig.args[0]
    assert win.menus.checked(win.menus.input_norm_group) == "As the checkpoint says"


def test_the_custom_dialog(qtbot, window):
    dialog = InputNormDialog(window, window.editor.model)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.mean.text() == "0.485, 0.456, 0.406" and ok.isEnabled()
    assert dialog.spec() == "imagenet"
    dialog.mean.setText("0.5")
    dialog.std.setText("0.25, 0.5")
    assert not ok.isEnabled() and "one or three" in dialog.problem.text()
    dialog.std.setText("0.25")
    assert ok.isEnabled() and dialog.problem.text() == ""
    assert dialog.spec() == "0.5:0.25" and input_norm_label(dialog.spec()) == "Custom…"
    dialog.std.setText("0")
    assert not ok.isEnabled()
