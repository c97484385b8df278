"""Model ▸ Precision: auto (what it chose and why), int8 on the CPU, remembered choices."""

from __future__ import annotations

import pytest

from mae_desktop.engine import precision as prec
from mae_desktop.engine.device import dtype_name
from mae_desktop.engine.quantize import int8_available
from tests.app.conftest import settle

pytestmark = pytest.mark.skipif(not int8_available(), reason="torch runs no int8 products here")

REASON = "int8: 3.0x faster than fp32, -0.01 dB"
ROUNDS = ["fp32", "bf16", "int8"] * (prec.WARMUP_PASSES + prec.TIMED_PASSES)


@pytest.fixture
def measured(monkeypatch, tmp_path):
    """auto measures a fixed table (int8 wins) and remembers in a file of the test's own;
    returns the precisions of the passes measured, in order."""
    monkeypatch.setenv(prec.CACHE_ENV, str(tmp_path / "precision.json"))
    table = {"fp32": (90.0, 15.0), "bf16": (60.0, 14.98), "int8": (30.0, 14.99)}
    calls: list[str] = []

    def measure(session):
        name = dtype_name(session.dtype)
        calls.append(name)
        return prec.Pass(table[name][0], table[name][1], None)

    monkeypatch.setattr(prec, "calibration_measure", lambda session: measure)
    monkeypatch.setattr(prec, "candidates", lambda device: ["fp32", "bf16", "int8"])
    return calls


def _action(group, text):
    return next(a for a in group.actions() if a.text() == text)


def test_auto_is_the_default_and_the_menu_says_what_it_chose(
    qtbot, new_window, hf_pair, photo, measured
):
    win = new_window()
    assert win.saved_device() == ("auto", "auto")  # a first start
    win.show()
    with qtbot.waitSignal(win.analysis_drawn, timeout=30000):
        win.files.open_checkpoint(hf_pair[1], *win.saved_device())
        win.files.open_image(photo)
    settle(qtbot, win)
    menus, group = win.menus, win.menus.precision_group
    assert measured == ROUNDS
    assert group.checkedAction() is menus.auto_precision
    assert menus.auto_precision.text() == f"auto ({REASON})"
    assert win.editor.model["dtype"] == "int8" and win.editor.model["auto"] == REASON
    assert win.live.shown.outcome.analysis.reconstruction.dtype == "int8"
    assert "int8 (auto)" in win.status.model_label.text()
    assert REASON in win.status.model_label.toolTip()
    enabled = {a.text(): a.isEnabled() for a in group.actions() if a is not menus.auto_precision}
    assert enabled == {"fp32": True, "fp16": False, "bf16": True, "int8": True}

    # another device keeps auto (here the CPU again: remembered, nothing measured)
    with qtbot.waitSignal(win.model_loaded, timeout=20000):
        _action(menus.device_group, "cpu").trigger()
    settle(qtbot, win)
    assert measured == ROUNDS
    assert win.editor.model["auto"] == REASON and group.checkedAction() is menus.auto_precision

    # naming a precision leaves auto; choosing auto again recalls its choice
    with qtbot.waitSignal(win.model_loaded, timeout=20000):
        _action(group, "fp32").trigger()
    settle(qtbot, win)
    assert group.checkedAction().text() == "fp32" and menus.auto_precision.text() == "auto"
    assert "auto" not in win.editor.model
    assert win.status.model_label.text().endswith("cpu · fp32")
    with qtbot.waitSignal(win.model_loaded, timeout=20000):
        menus.auto_precision.trigger()
    settle(qtbot, win)
    assert group.checkedAction() is menus.auto_precision and win.editor.model["dtype"] == "int8"
    assert measured == ROUNDS

    win.save_settings()
    assert win.settings.value("model/dtype") == "auto"
    assert new_window("settings").saved_device()[1] == "auto"
    win.close()


def test_int8_by_name_and_remembered(qtbot, window, new_window):
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        _action(window.menus.precision_group, "int8").trigger()
    settle(qtbot, window)
    assert window.editor.model["dtype"] == "int8" and "auto" not in window.editor.model
    assert window.live.shown.outcome.analysis.reconstruction.dtype == "int8"
    assert window.menus.precision_group.checkedAction().text() == "int8"
    window.save_settings()
    assert new_window("settings").saved_device()[1] == "int8"


def test_a_new_checkpoint_keeps_the_precision_the_menus_show(window, monkeypatch, hf_pair):
    calls = []
    monkeypatch.setattr(window.live, "open_model", lambda *args: calls.append(args) or 0)
    window.files.open_checkpoint(hf_pair[1])
    assert calls[-1][1:] == (window.editor.device_choice, window.editor.model["dtype"])
    monkeypatch.setitem(window.editor.model, "auto", "int8: 2.0x faster than fp32, -0.01 dB")
    window.files.open_checkpoint(hf_pair[1])
    assert calls[-1][2] == "auto"  # auto measures the new model
