"""Painting in the window: real mouse strokes, undo, generators, live results that refresh
while painting and never go backwards, the query tool, closing during a pass."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from mae_desktop.engine import masks
from mae_desktop.engine.reconstruction import masked_view
from tests.app.conftest import settle
from tests.app.gui import Gate, drag


def _set_and_wait(qtbot, win, mask):
    with qtbot.waitSignal(win.analysis_drawn, timeout=20000):
        win.editor.set_mask(mask)
    settle(qtbot, win)


def test_startup_shows_every_panel(window):
    assert window.editor.mask.shape == (4, 4)
    for name in ("masked", "reconstruction", "composite", "error", "attention"):
        assert window.panels.data[name].shape[:2] == (64, 64)
    e = window.editor
    masked = np.round(masked_view(e.image, e.mask, e.patch_size) * 255)
    assert (window.panels.data["masked"] == masked).all()
    assert "masked" in window.mask_dock.count_label.text()
    assert "cpu · fp32" in window.status.model_label.text()
    assert "vitmae" in window.windowTitle() and "photo.png" in window.windowTitle()
    assert not window.live.busy and not window.status.busy_bar.isVisible()


def test_left_drag_masks_exactly_the_patches_under_it(qtbot, window):
    _set_and_wait(qtbot, window, masks.clear((4, 4)))
    # a fast drag along row 1: two mouse events three patches apart
    drag(window, [(4, 24), (30, 24), (60, 24)])
    settle(qtbot, window)
    expected = np.zeros((4, 4), bool)
    expected[1] = True
    assert (window.editor.mask == expected).all()
    assert (window.live.shown.request.mask == expected).all()  # drawn for this mask
    assert (window.canvas._mask == expected).all()  # and the overlay shows it


def test_right_drag_unmasks_and_a_stroke_is_one_undo_step(qtbot, window):
    _set_and_wait(qtbot, window, masks.mask_all((4, 4)))
    before = window.editor.mask.copy()
    drag(window, [(8, 8), (8, 40), (8, 60)], Qt.MouseButton.RightButton)
    expected = before.copy()
    expected[:, 0] = False
    assert (window.editor.mask == expected).all()
    assert window.menus.undo.isEnabled() and not window.menus.redo.isEnabled()
    window.menus.undo.trigger()
    assert (window.editor.mask == before).all()
    window.menus.redo.trigger()
    assert (window.editor.mask == expected).all()


def test_mask_tool_toggle_and_brush_size(qtbot, window):
    _set_and_wait(qtbot, window, masks.mask_all((4, 4)))
    window.mask_dock.erase_check.setChecked(True)  # left button now unmasks
    window.mask_dock.brush_spin.setValue(3)
    drag(window, [(40, 40)])
    assert window.editor.mask.sum() == 16 - 9


def test_generators_invert_and_count(qtbot, window):
    window.mask_dock.gen_combo.setCurrentText("grid")
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.editor.generate()
    assert (window.editor.mask == masks.grid_mask((4, 4))).all()
    assert window.mask_dock.count_label.text() == "12 / 16 masked (75.0%)"
    window.editor.invert()
    assert window.editor.mask.sum() == 4


def test_results_are_drawn_while_painting_and_never_go_backwards(qtbot, window):
    gate = Gate(window.live.lane.worker.session)
    drawn = []
    window.analysis_drawn.connect(drawn.append)
    window.editor.set_mask(masks.clear((4, 4)))
    gate.started()  # the first pass runs...
    last = None
    for seed in range(20):  # ...while 20 more edits arrive
        last = masks.random_mask((4, 4), 0.5, seed)
        window.editor.set_mask(last)
    assert window.live.busy and window.status.busy_bar.isVisible()
    gate.release()
    qtbot.waitUntil(lambda: len(drawn) == 1)
    # drawn at once although a newer request waits, and said to be catching up
    assert "catching up" in window.status.latency_label.text()
    assert window.panels.data["masked"] is not None
    assert (gate.started() == last).all()  # then only the newest edit runs
    gate.release()
    settle(qtbot, window)
    assert drawn == sorted(drawn) and len(drawn) == 2 and gate.finished == 2
    assert drawn[-1] == window.live.latest["analyse"]
    assert (window.live.shown.request.mask == last).all()
    assert "catching up" not in window.status.latency_label.text()


def test_query_patch_pick(qtbot, window):
    _set_and_wait(qtbot, window, masks.clear((4, 4)))
    window.mask_dock.set_tool("query")
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        drag(window, [(40, 8)])
    assert window.editor.attention.cell == (0, 2)
    assert window.live.shown.outcome.analysis.attention.query == (0, 2)
    assert window.attention_dock.query_combo.currentText() == "picked patch"
    assert window.editor.mask.sum() == 0  # picking does not paint


def test_closing_during_a_pass_stops_it_and_runs_nothing_more(qtbot, window):
    gate = Gate(window.live.lane.worker.session)
    lane = window.live.lane
    closing = threading.Event()
    real_close = lane.close

    def close(*args, **kwargs):
        closing.set()
        return real_close(*args, **kwargs)

    lane.close = close
    releaser = threading.Thread(target=lambda: closing.wait(20) and gate.release(5))
    releaser.start()
    drawn = []
    window.analysis_drawn.connect(drawn.append)
    window.editor.invert()
    gate.started()  # a pass is running
    window.editor.clear()  # and one waits
    window.close()  # returns once the running pass has stopped (at its next block)
    releaser.join(20)
    assert not lane.alive and gate.calls == 1  # the waiting one never ran
    QApplication.processEvents()  # anything queued would be drawn now: nothing is
    assert drawn == []


def test_ctrl_c_closes_the_window_cleanly(qtbot, window):
    import os
    import signal

    from mae_desktop.app.run import _close_on_signals

    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        got = _close_on_signals(window)
        window.editor.invert()  # a pass is asked for
        os.kill(os.getpid(), signal.SIGINT)
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=10000)
        assert got == [signal.SIGINT]
        assert window.live.closed and not window.live.lane.alive
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
