"""The window: painting, undo, live results, coalescing, errors, closing, exports."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from mae_desktop.engine import masks

ROOT = Path(__file__).resolve().parents[2]


def run_main(*args) -> subprocess.CompletedProcess:
    """`python main.py ARGS` offscreen, from the repository root."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "main.py", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _widget_pos(win, x: float, y: float):
    """Image pixel (x, y) -> position in the canvas viewport."""
    scene = win.canvas.view.mapViewToScene(QPointF(x, y))
    return win.canvas.mapFromScene(scene)


def _mouse(widget, kind, pos, button, buttons):
    event = QMouseEvent(
        kind,
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),
        button,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)


def drag(win, points, button=Qt.MouseButton.LeftButton):
    """Press at the first image point, move through the rest, release at the last."""
    vp = win.canvas.viewport()
    pos = [_widget_pos(win, x, y) for x, y in points]
    none = Qt.MouseButton.NoButton
    _mouse(vp, QEvent.Type.MouseButtonPress, pos[0], button, button)
    for p in pos[1:]:
        _mouse(vp, QEvent.Type.MouseMove, p, none, button)
    _mouse(vp, QEvent.Type.MouseButtonRelease, pos[-1], button, none)


def _set_and_wait(qtbot, win, mask):
    with qtbot.waitSignal(win.analysis_drawn, timeout=20000):
        win.set_mask(mask)


def test_startup_shows_every_panel(window):
    assert window.mask.shape == (4, 4)
    for name in ("masked", "reconstruction", "composite", "error", "attention"):
        assert window.panels.data[name].shape[:2] == (64, 64)
    assert "masked" in window.count_label.text()
    assert window.device_label.text() == "cpu · fp32"
    assert not window.busy


def test_left_drag_masks_exactly_the_patches_under_it(qtbot, window):
    _set_and_wait(qtbot, window, masks.clear((4, 4)))
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        # a fast drag along row 1: two mouse events three patches apart
        drag(window, [(4, 24), (30, 24), (60, 24)])
    expected = np.zeros((4, 4), bool)
    expected[1] = True
    assert (window.mask == expected).all()
    assert (window.last_mask == expected).all()  # the drawn result is for this mask


def test_right_drag_unmasks_and_a_stroke_is_one_undo_step(qtbot, window):
    _set_and_wait(qtbot, window, masks.mask_all((4, 4)))
    before = window.mask.copy()
    drag(window, [(8, 8), (8, 40), (8, 60)], Qt.MouseButton.RightButton)
    expected = before.copy()
    expected[:, 0] = False
    assert (window.mask == expected).all()
    window.undo()
    assert (window.mask == before).all()
    window.redo()
    assert (window.mask == expected).all()


def test_mask_tool_toggle_and_brush_size(qtbot, window):
    _set_and_wait(qtbot, window, masks.mask_all((4, 4)))
    window.erase_check.setChecked(True)  # left button now unmasks
    window.brush_spin.setValue(3)
    drag(window, [(40, 40)])
    assert window.mask.sum() == 16 - 9


def test_generators_invert_and_count(qtbot, window):
    window.gen_combo.setCurrentText("grid")
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.generate_mask()
    assert (window.mask == masks.grid_mask((4, 4))).all()
    assert window.count_label.text() == "12 / 16 masked (75.0%)"
    window.invert_mask()
    assert window.mask.sum() == 4


def test_requests_while_busy_collapse_into_the_newest(qtbot, window):
    session = window.lane.session
    real = session.analyse
    gate = threading.Event()
    calls = []

    def slow(image, mask, *args, **kwargs):
        calls.append(mask.copy())
        if len(calls) == 1:
            gate.wait(10)  # the first computation is still running...
        return real(image, mask, *args, **kwargs)

    session.analyse = slow
    drawn = []
    window.analysis_drawn.connect(drawn.append)
    window.set_mask(masks.clear((4, 4)))
    qtbot.waitUntil(lambda: len(calls) == 1)
    last = None
    for seed in range(20):  # ...while 20 more requests arrive
        last = masks.random_mask((4, 4), 0.5, seed)
        window.set_mask(last)
    assert window.busy
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        gate.set()
    qtbot.waitUntil(lambda: not window.busy)
    assert len(calls) == 2  # the running one and the newest, nothing in between
    assert (calls[1] == last).all()
    assert drawn == [window.latest["analyse"]]  # only the newest result was drawn
    assert (window.last_mask == last).all() and window.stale_drawn == 0


def test_bad_image_shows_the_message_and_keeps_the_state(qtbot, window, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    image, mask, path = window.image.copy(), window.mask.copy(), window.image_path
    with qtbot.waitSignal(window.error_shown) as sig:
        assert not window.open_image(bad)
    assert "broken.png" in sig.args[0]
    assert (window.image == image).all() and (window.mask == mask).all()
    assert window.image_path == path


def test_bad_checkpoint_keeps_the_model(qtbot, window, tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"garbage")
    info = window.model_info
    with qtbot.waitSignal(window.error_shown, timeout=20000) as sig:
        window.open_checkpoint(junk)
    assert "junk.pth" in sig.args[0]
    assert window.model_info is info
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.invert_mask()  # the old model still answers


def test_encoder_only_checkpoint_shows_attention_and_says_why(qtbot, window, tmp_path):
    import torch

    from tests.helpers import hf_model, hf_to_official

    sd = hf_to_official(hf_model(seed=4, layer_norm_eps=1e-6).state_dict())
    enc = {k: v for k, v in sd.items() if not k.startswith("decoder") and k != "mask_token"}
    torch.save({"model": enc}, tmp_path / "enc.pth")
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.open_checkpoint(tmp_path / "enc.pth")
    assert "attention" in window.panels.data and "reconstruction" not in window.panels.data
    assert "no decoder" in window.metrics_label.text()


def test_query_patch_pick(qtbot, window):
    _set_and_wait(qtbot, window, masks.clear((4, 4)))
    window.set_tool("query")
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        drag(window, [(40, 8)])
    assert window.query == (0, 2)
    assert window.last.attention.query == (0, 2)
    assert window.mask.sum() == 0  # picking does not paint


def test_mask_files_and_exports(qtbot, window, tmp_path):
    m = masks.center_mask((4, 4), 0.25)
    masks.save_mask(tmp_path / "m.npy", m)
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        assert window.load_mask_file(tmp_path / "m.npy")
    assert (window.mask == m).all()
    np.save(tmp_path / "bad.npy", np.zeros((3, 3), bool))
    with qtbot.waitSignal(window.error_shown):
        assert not window.load_mask_file(tmp_path / "bad.npy")
    assert (window.mask == m).all()
    window.export_panel("reconstruction", tmp_path / "rec.png")
    window.export_figure(tmp_path / "fig.png")
    with Image.open(tmp_path / "rec.png") as im:
        assert im.size == (64, 64)
    with Image.open(tmp_path / "fig.png") as im:
        assert im.size[0] > 5 * 64


def test_closing_during_a_computation_exits_cleanly(qtbot, window):
    session = window.lane.session
    real = session.analyse
    started = threading.Event()

    def slow(*args, **kwargs):
        started.set()
        threading.Event().wait(0.3)  # stands in for a long forward pass
        return real(*args, **kwargs)

    session.analyse = slow
    window.invert_mask()
    assert started.wait(10)
    window.close()
    assert not window.lane._thread.is_alive()


def test_screenshot_command(tmp_path, hf_pair):
    out = tmp_path / "shot.png"
    result = run_main("--checkpoint", hf_pair[1], "--screenshot", out)
    assert result.returncode == 0, result.stderr
    with Image.open(out) as im:
        assert im.size[0] >= 800 and im.size[1] >= 500


def test_session_round_trip(qtbot, window, tmp_path, hf_pair):
    from PySide6.QtCore import QSettings

    from mae_desktop.app.main_window import MainWindow

    m = masks.random_mask((4, 4), 0.5, 9)
    _set_and_wait(qtbot, window, m)
    window.seed_spin.setValue(9)
    window.save_session_file(tmp_path / "s.json")
    other = MainWindow(QSettings(str(tmp_path / "o.ini"), QSettings.Format.IniFormat))
    other.dialogs_enabled = False
    qtbot.addWidget(other)
    with qtbot.waitSignal(other.analysis_drawn, timeout=30000):
        assert other.open_session_file(tmp_path / "s.json")
    qtbot.waitUntil(lambda: not other.busy)
    assert (other.mask == m).all() and (other.last_mask == m).all()
    assert other.image_path == window.image_path
    assert other.checkpoint_path == window.checkpoint_path
    assert other.seed_spin.value() == 9
    other.close()


def test_bad_session_file_keeps_the_state(qtbot, window, tmp_path):
    (tmp_path / "s.json").write_text('{"format": "mae-desktop-session", "version": 1}')
    mask = window.mask.copy()
    with qtbot.waitSignal(window.error_shown) as sig:
        assert not window.open_session_file(tmp_path / "s.json")
    assert "damaged" in sig.args[0] and (window.mask == mask).all()


def test_compare_reconstructs_the_same_image_and_mask(qtbot, window, tmp_path, hf_pair):
    from mae_desktop.engine import ModelSession

    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.open_compare(hf_pair[1])
    assert "compare" in window.panels.data
    # the same weights: the comparison's composite is the main one
    assert (window.panels.data["compare"] == window.panels.data["composite"]).all()
    direct = ModelSession.open(hf_pair[1]).reconstruct(window.image, window.mask)
    assert f"{direct.masked_psnr:.2f} dB" in window.panels.titles["compare"].text()
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.stop_compare()
    assert "compare" not in window.panels.data


def test_ratio_sweep_runs_on_the_lane(qtbot, window):
    window.analysis.seeds_spin.setValue(1)
    with qtbot.waitSignal(
        window.lane.signals.finished, timeout=60000, check_params_cb=lambda r: r.kind == "extra"
    ):
        window.request_sweep()
    x, y = window.analysis.sweep_curve.getData()
    assert len(x) == 18 and x[0] == 0.1 and x[-1] == 0.95 and np.isfinite(y).all()


def test_heads_view_shows_every_head_when_shown(qtbot, window):
    assert window.heads._items == []  # hidden: not drawn per stroke
    window.heads_dock.show()
    qtbot.waitUntil(lambda: len(window.heads._items) == window.last.attention.maps.shape[1])


def test_switching_precision_keeps_image_and_mask(qtbot, window):
    image, mask = window.image.copy(), window.mask.copy()
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.set_device("cpu", "bf16")
    assert window.model_info["dtype"] == "bf16"
    assert (window.image == image).all() and (window.mask == mask).all()
    assert window.last.reconstruction.dtype == "bf16"
    with qtbot.waitSignal(window.error_shown, timeout=20000) as sig:
        window.set_device("cpu", "fp16")
    assert "fp16 is not available" in sig.args[0]
    assert window.model_info["dtype"] == "bf16"
    checked = window.precision_group.checkedAction().text()
    assert checked == "bf16"


def test_self_test_passes_and_fails_loudly(tmp_path, hf_pair):
    ok = run_main("--checkpoint", hf_pair[1], "--self-test")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("self-test ok:") and "attention 2x4x4x4" in ok.stdout
    (tmp_path / "junk.pth").write_bytes(b"garbage")
    bad = run_main("--checkpoint", tmp_path / "junk.pth", "--self-test")
    assert bad.returncode == 1 and "self-test FAILED: cannot read junk.pth" in bad.stderr


def test_device_choice_is_remembered(qtbot, window, tmp_path):
    from mae_desktop.app.main_window import MainWindow

    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.set_device("cpu", "bf16")
    window.save_settings()
    again = MainWindow(window.settings)
    qtbot.addWidget(again)
    assert again.saved_device() == ("cpu", "bf16")
    window.settings.setValue("model/device", "cuda:7")  # a GPU this machine does not have
    assert again.saved_device() == ("auto", "fp32")
    again.close()
