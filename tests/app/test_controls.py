"""Controls that tell the truth: what does not apply is disabled and says why, the generator
follows its controls live (a drag is one undo step), plots say what they show, counts read
as English, and layers and heads count from 1."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from mae_desktop.app.docks.common import noun, plural
from mae_desktop.engine import masks
from tests.app.conftest import settle
from tests.helpers import perturb_

GRID = (4, 4)  # the test model: 64x64 pixels, patches of 16


def legend_names(plot_widget) -> list[str]:
    return [label.text for _sample, label in plot_widget.getPlotItem().legend.items]


def plot_title(plot_widget) -> str:
    return plot_widget.getPlotItem().titleLabel.text


# -- attention controls ----------------------------------------------------------------------
def test_rollout_disables_layer_and_head_and_says_why(qtbot, window):
    dock = window.attention_dock
    normal = dock.layer_slider.toolTip(), dock.head_combo.toolTip()
    assert dock.layer_slider.isEnabled() and dock.head_combo.isEnabled()
    dock.rollout_check.setChecked(True)
    for widget in (dock.layer_slider, dock.head_combo):
        assert not widget.isEnabled()
        assert "Rollout combines every layer and head" in widget.toolTip()
    dock.rollout_check.setChecked(False)
    assert dock.layer_slider.isEnabled() and dock.head_combo.isEnabled()
    assert (dock.layer_slider.toolTip(), dock.head_combo.toolTip()) == normal
    assert "Rollout" not in normal[0] + normal[1]
    settle(qtbot, window)


def test_rollout_does_not_apply_to_the_decoder(qtbot, window):
    dock = window.attention_dock
    dock.rollout_check.setChecked(True)
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        dock.part_combo.setCurrentText("decoder")
    assert not dock.rollout_check.isEnabled() and not dock.rollout_check.isChecked()
    assert "encoder only" in dock.rollout_check.toolTip()
    # the decoder's map is one layer and head (no rollout): those controls apply again
    assert dock.layer_slider.isEnabled() and dock.head_combo.isEnabled()
    assert window.live.shown.outcome.analysis.attention.rollout is None
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        dock.part_combo.setCurrentText("encoder")
    assert dock.rollout_check.isEnabled() and dock.rollout_check.isChecked()
    assert "encoder only" not in dock.rollout_check.toolTip()
    assert not dock.layer_slider.isEnabled()
    settle(qtbot, window)


@pytest.fixture
def no_cls_checkpoint(tmp_path):
    """A small PaperWeekly from-scratch MAE: no CLS token."""
    from tests.paperweekly_reference import MAE, ViT

    torch.manual_seed(0)
    enc = ViT(64, 16, dim=64, depth=2, num_heads=2, mlp_dim=96, dim_per_head=64)
    mae = MAE(enc, decoder_dim=48, decoder_depth=2, num_decoder_heads=2, decoder_dim_per_head=64)
    perturb_(mae.eval(), 0)
    path = tmp_path / "paperweekly_mae.pth"
    torch.save(mae.state_dict(), path)
    return path


def test_a_model_without_cls_disables_the_cls_query(
    qtbot, new_window, no_cls_checkpoint, hf_pair, photo
):
    win = new_window()
    win.show()
    dock = win.attention_dock
    cls_item = dock.query_combo.model().item(0)
    with qtbot.waitSignal(win.analysis_drawn, timeout=30000):
        win.files.open_checkpoint(no_cls_checkpoint)
        win.files.open_image(photo)
    settle(qtbot, win)
    assert not win.editor.config.use_cls_token and win.editor.attention.query == "cls"
    assert not cls_item.isEnabled()
    assert not cls_item.flags() & Qt.ItemFlag.ItemIsEnabled
    assert "no CLS token" in cls_item.toolTip() and "no CLS token" in dock.query_combo.toolTip()
    # the combo shows the query that is used
    assert dock.query_combo.currentText() == "mean of queries"
    assert win.live.shown.request.query == "mean"
    with qtbot.waitSignal(win.model_loaded, timeout=30000):
        win.files.open_checkpoint(hf_pair[1])
    assert win.editor.config.use_cls_token
    assert cls_item.isEnabled() and "no CLS" not in dock.query_combo.toolTip()
    assert dock.query_combo.currentText() == "CLS"
    settle(qtbot, win)
    win.close()


def test_a_model_without_a_decoder_disables_the_decoder_part(qtbot, window, tmp_path):
    from tests.helpers import hf_model, hf_to_official

    dock = window.attention_dock
    decoder_item = dock.part_combo.model().item(dock.part_combo.findText("decoder"))
    assert decoder_item.isEnabled()
    sd = hf_to_official(hf_model(seed=4, layer_norm_eps=1e-6).state_dict())
    enc = {k: v for k, v in sd.items() if not k.startswith("decoder") and k != "mask_token"}
    torch.save({"model": enc}, tmp_path / "enc.pth")
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.files.open_checkpoint(tmp_path / "enc.pth")
    assert not decoder_item.isEnabled() and "no decoder" in decoder_item.toolTip()
    settle(qtbot, window)


def test_heads_count_from_one(qtbot, window):
    dock = window.attention_dock
    heads = window.editor.config.num_heads
    names = [dock.head_combo.itemText(i) for i in range(dock.head_combo.count())]
    assert names == ["mean", "max", *[f"head {h}" for h in range(1, heads + 1)]]
    dock.head_combo.setCurrentText("head 1")
    assert window.editor.attention.head == 0  # the first head
    window.heads_dock.show()
    qtbot.waitUntil(lambda: len(window.heads.labels) == heads)
    assert window.heads.labels == [f"head {h}" for h in range(1, heads + 1)]
    settle(qtbot, window)


# -- the generator ---------------------------------------------------------------------------
def test_a_generator_disables_the_controls_it_ignores(qtbot, window):
    dock = window.mask_dock
    ratio_tip, seed_tip = dock.ratio_slider.toolTip(), dock.seed_spin.toolTip()
    assert dock.ratio_slider.isEnabled() and dock.seed_spin.isEnabled()
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        dock.gen_combo.setCurrentText("grid")
    assert np.array_equal(window.editor.mask, masks.grid_mask(GRID))  # regenerated
    assert not dock.ratio_slider.isEnabled() and not dock.seed_spin.isEnabled()
    assert "75%" in dock.ratio_slider.toolTip() and "no seed" in dock.seed_spin.toolTip()
    dock.gen_combo.setCurrentText("center")
    assert dock.ratio_slider.isEnabled() and dock.ratio_slider.toolTip() == ratio_tip
    assert not dock.seed_spin.isEnabled() and "no seed" in dock.seed_spin.toolTip()
    dock.gen_combo.setCurrentText("random")
    assert dock.seed_spin.isEnabled() and dock.seed_spin.toolTip() == seed_tip
    settle(qtbot, window)


def test_the_ratio_slider_regenerates_live_and_a_drag_is_one_undo_step(qtbot, window):
    e, slider = window.editor, window.mask_dock.ratio_slider
    window.mask_dock.seed_spin.setValue(7)
    settle(qtbot, window)
    before = e.mask
    steps = []
    e.history_changed.connect(lambda: steps.append(e.mask))
    slider.setSliderDown(True)  # what a press on the handle does
    for percent in (50, 25):
        with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
            slider.setSliderPosition(percent)
        settle(qtbot, window)
        expected = masks.generate("random", GRID, percent / 100, 7)
        assert np.array_equal(e.mask, expected)  # the same seed at the new ratio
        assert e.mask.sum() == round(percent / 100 * 16)
        assert window.mask_dock.ratio_label.text() == f"{percent}%"
        shown = window.live.shown.request
        assert np.array_equal(shown.mask, expected) and shown.interactive  # live, as painting
    assert steps == []
    slider.setSliderDown(False)  # the release
    assert len(steps) == 1 and not e.stroking
    settle(qtbot, window)
    window.menus.undo.trigger()
    assert np.array_equal(e.mask, before)  # the whole drag in one step
    window.menus.redo.trigger()
    assert e.mask.sum() == 4
    # a key press is a step of its own
    steps.clear()
    slider.setFocus()
    QTest.keyClick(slider, Qt.Key.Key_PageUp)
    QTest.keyClick(slider, Qt.Key.Key_PageUp)
    assert len(steps) == 2 and slider.value() == 25 + 2 * slider.pageStep()
    assert not e.stroking and not e.analyse_request().interactive
    window.menus.undo.trigger()
    assert slider.value() == 25 + 2 * slider.pageStep()  # (undo is of the mask, not the ratio)
    expected = masks.generate("random", GRID, (25 + slider.pageStep()) / 100, 7)
    assert np.array_equal(e.mask, expected)
    settle(qtbot, window)


def test_a_seed_change_regenerates(qtbot, window):
    e = window.editor
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.mask_dock.seed_spin.setValue(3)
    assert np.array_equal(e.mask, masks.generate("random", GRID, e.generator.ratio, 3))
    settle(qtbot, window)
    assert np.array_equal(window.live.shown.request.mask, e.mask)


def test_a_session_load_keeps_its_saved_mask(qtbot, window, tmp_path):
    e, dock = window.editor, window.mask_dock
    dock.seed_spin.setValue(5)
    saved = masks.random_mask(GRID, 0.5, 123)
    e.set_mask(saved)
    settle(qtbot, window)
    window.files.save_session_file(tmp_path / "s.json")
    dock.seed_spin.setValue(6)  # regenerates: the mask differs now
    dock.gen_combo.setCurrentText("block")
    assert not np.array_equal(e.mask, saved)
    settle(qtbot, window)
    assert window.files.open_session_file(tmp_path / "s.json")
    settle(qtbot, window)
    assert np.array_equal(e.mask, saved) and np.array_equal(window.live.shown.request.mask, saved)
    assert dock.seed_spin.value() == 5 and dock.gen_combo.currentText() == "random"


# -- plots -----------------------------------------------------------------------------------
def test_the_sweep_plot_names_its_curve_and_marks_the_current_mask(qtbot, window, photo):
    from PIL import Image

    dock, e = window.analysis, window.editor
    plain = plot_title(dock.sweep_plot)
    assert "photo.png" not in plain
    dock.seeds_spin.setValue(1)
    with qtbot.waitSignal(window.live.sweep_finished, timeout=60000):
        dock.run()
    settle(qtbot, window)
    title = plot_title(dock.sweep_plot)
    assert title.startswith(plain) and "photo.png · vitmae" in title
    assert legend_names(dock.sweep_plot) == ["mean ± std over 1 seed", "current mask"]
    marker = dock.current_marker
    dock.mark_current(0.5, 12.5, e.image_id, e.generation)
    x, y = marker.getData()
    assert list(x) == [0.5] and list(y) == [12.5]
    dock.mark_current(0.5, 12.5, e.image_id + 1, e.generation)  # another image's result
    assert len(marker.getData()[0]) == 0
    dock.mark_current(0.5, 12.5, e.image_id, e.generation + 1)  # another model's
    assert len(marker.getData()[0]) == 0
    dock.mark_current(0.5, None, e.image_id, e.generation)  # no masked PSNR
    assert len(marker.getData()[0]) == 0
    dock.mark_current(0.25, 9.0, e.image_id, e.generation)
    assert list(marker.getData()[0]) == [0.25]
    e.set_source(Image.open(photo).rotate(90), None)  # a new image: curve and mark go
    assert plot_title(dock.sweep_plot) == plain
    assert len(dock.sweep_curve.getData()[0] or []) == 0
    assert len(marker.getData()[0]) == 0
    dock.mark_current(0.25, 9.0, e.image_id, e.generation)  # no curve for it yet
    assert len(marker.getData()[0]) == 0
    settle(qtbot, window)


def test_the_histogram_has_a_legend_for_both_colours(window):
    dock = window.analysis
    legend = dock.hist_plot.getPlotItem().legend
    assert sorted(legend_names(dock.hist_plot)) == ["masked patches", "visible patches"]
    assert legend.getLabel(dock.hist_masked).text == "masked patches"
    assert legend.getLabel(dock.hist_visible).text == "visible patches"
    assert dock.hist_masked.opts["brush"] != dock.hist_visible.opts["brush"]


# -- words -----------------------------------------------------------------------------------
def test_the_brush_size_says_patch_or_patches(window):
    spin = window.mask_dock.brush_spin
    spin.setValue(1)
    assert spin.text() == "1 patch"
    spin.setValue(2)
    assert spin.text() == "2 patches"
    spin.setValue(1)
    assert spin.text() == "1 patch" and window.canvas.brush_size == 1


def test_plural():
    assert [plural(n, "patch") for n in (0, 1, 2)] == ["0 patches", "1 patch", "2 patches"]
    assert plural(1, "seed") == "1 seed" and plural(3, "head") == "3 heads"
    assert noun(2, "layer") == "layers" and noun(1, "layer") == "layer"


def test_one_assumed_head_is_singular():
    from mae_desktop.app.status import assumed_heads_text

    assert assumed_heads_text({"assumed_heads": {"heads": 1}}) == "1 head assumed"
    assert assumed_heads_text({"assumed_heads": {"heads": 12}}) == "12 heads assumed"


def test_a_generator_that_cannot_draw_the_ratio_says_what_it_drew(qtbot, window):
    dock = window.mask_dock
    dock.gen_combo.setCurrentText("random")
    assert not dock.generator_note.isVisible() and dock.generator_note.text() == ""
    dock.gen_combo.setCurrentText("grid")  # one visible patch per 2x2: 75% whatever the ratio
    dock.ratio_slider.setValue(50)
    window.editor.set_generator(ratio=0.5)
    text = dock.generator_note.text()
    assert dock.generator_note.isVisibleTo(dock) and "75.0%" in text and "50%" in text
    assert window.editor.mask.mean() == 0.75
