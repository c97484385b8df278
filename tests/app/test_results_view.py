"""What the result panels and docks draw, checked pixel by pixel against independent
expectations: absent attention cells, the error histogram, shared zoom and pan, the display
modes of a norm_pix model, and the attention controls."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from mae_desktop.app.imaging import ABSENT_RGBA, heatmap_rgba
from mae_desktop.engine import masks
from mae_desktop.engine.session import ModelSession
from tests.app.conftest import settle
from tests.app.gui import drag, widget_pos
from tests.helpers import hf_model

PATCH = 16  # the test model's patch size (64x64 images, a 4x4 grid)


# -- helpers -------------------------------------------------------------------------------
def lut_colours(cmap: str) -> set[tuple[int, int, int]]:
    """Every colour of pyqtgraph's colormap `cmap` (its 256-entry lookup table)."""
    lut = pg.colormap.get(cmap).getLookupTable(nPts=256, alpha=False)
    return {tuple(int(c) for c in rgb) for rgb in lut}


def cells(image: np.ndarray, patch: int) -> np.ndarray:
    """(H, W, 3) -> (gh, gw, patch * patch, 3): the pixels of each grid cell."""
    h, w, c = image.shape
    gh, gw = h // patch, w // patch
    x = image.reshape(gh, patch, gw, patch, c).transpose(0, 2, 1, 3, 4)
    return x.reshape(gh, gw, patch * patch, c)


def check_absent_and_present(
    image: np.ndarray, absent: np.ndarray, patch: int, colours: set[tuple[int, int, int]]
) -> None:
    """Absent cells: hatched grey (mostly ABSENT_RGBA, with a second, darker tone), never a
    colour of the map; present cells: one colour of the map each."""
    grey = tuple(ABSENT_RGBA[:3])
    per_cell = cells(image, patch)
    for (r, c), is_absent in np.ndenumerate(absent):
        pixels = {tuple(int(v) for v in p) for p in per_cell[r, c]}
        if is_absent:
            assert not pixels & colours, f"absent cell {(r, c)} drawn in a colormap colour"
            assert grey in pixels and len(pixels) == 2, f"cell {(r, c)}: {pixels}"
            greys = int((per_cell[r, c] == grey).all(axis=-1).sum())
            assert greys > len(per_cell[r, c]) // 2  # grey, with a thinner hatch
        else:
            assert len(pixels) == 1 and pixels <= colours, f"cell {(r, c)}: {pixels}"


def expected_attention(values: np.ndarray, cmap: str) -> np.ndarray:
    """The attention panel at opacity 1: the heatmap of `values` alone."""
    return heatmap_rgba(values, PATCH, cmap)[..., :3]


def assert_same_rect(got: QRectF, want: QRectF, what: str) -> None:
    """Aspect-locked views of other shapes show `want` with extra room along one axis:
    the same centre, `want` inside, one side exactly as wide (or as tall)."""
    assert abs(got.center().x() - want.center().x()) < 1e-6, what
    assert abs(got.center().y() - want.center().y()) < 1e-6, what
    assert got.width() >= want.width() - 1e-6 and got.height() >= want.height() - 1e-6, what
    side = min(abs(got.width() - want.width()), abs(got.height() - want.height()))
    assert side < 1e-6, f"{what}: {got} vs {want}"


def wheel(win, x: float, y: float, steps: int = 1) -> None:
    """Turn the mouse wheel over image pixel (x, y) of the canvas (positive: zoom in)."""
    vp = win.canvas.viewport()
    pos = widget_pos(win, x, y)
    event = QWheelEvent(
        QPointF(pos),
        QPointF(vp.mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(vp, event)


def redraw_with(qtbot, win, mask: np.ndarray) -> None:
    with qtbot.waitSignal(win.analysis_drawn, timeout=20000):
        win.editor.set_mask(mask)
    settle(qtbot, win)


# -- absent cells --------------------------------------------------------------------------
def test_absent_attention_cells_are_hatched_grey_in_every_colormap(qtbot, window):
    """Masked cells have no encoder token: the attention panel draws them hatched grey,
    never a colour of the map, whichever map the Attention dock offers is picked."""
    dock = window.attention_dock
    dock.opacity_slider.setValue(100)  # the panel shows the heatmap alone
    mask = window.live.shown.request.mask
    assert 0 < mask.sum() < mask.size  # both kinds of cell are on screen
    cmaps = [dock.cmap_combo.itemText(i) for i in range(dock.cmap_combo.count())]
    assert len(cmaps) >= 2
    for cmap in cmaps:
        colours = lut_colours(cmap)
        assert tuple(ABSENT_RGBA[:3]) not in colours  # else the check below is vacuous
        dock.cmap_combo.setCurrentText(cmap)
        assert window.editor.attention.colormap == cmap
        check_absent_and_present(window.panels.data["attention"], mask, PATCH, colours)


def test_absent_cells_in_the_heads_view_are_hatched_grey_in_every_colormap(qtbot, window):
    """The same for every head's small multiple in the Heads dock, once it is shown."""
    dock = window.attention_dock
    att = window.live.shown.outcome.analysis.attention
    heads = att.maps.shape[1]
    mask = window.live.shown.request.mask
    window.heads_dock.show()
    qtbot.waitUntil(lambda: len(window.heads._items) == heads)
    cmaps = [dock.cmap_combo.itemText(i) for i in range(dock.cmap_combo.count())]
    for cmap in cmaps:
        dock.cmap_combo.setCurrentText(cmap)
        colours = lut_colours(cmap)
        for item in window.heads._items:
            image = np.asarray(item.image)[..., :3]
            patch = image.shape[0] // mask.shape[0]
            check_absent_and_present(image, mask, patch, colours)


# -- the error histogram -------------------------------------------------------------------
def check_histogram(win) -> None:
    """The bars: numpy histograms (20 bins over all the errors) of the masked and the
    visible patches' errors of the result on screen."""
    shown = win.live.shown
    errors = shown.outcome.analysis.reconstruction.patch_error
    mask = shown.request.mask
    edges = np.histogram_bin_edges(errors, bins=20)
    want_masked, _ = np.histogram(errors[mask], bins=edges)
    want_visible, _ = np.histogram(errors[~mask], bins=edges)
    got_masked = np.asarray(win.analysis.hist_masked.opts["height"])
    got_visible = np.asarray(win.analysis.hist_visible.opts["height"])
    np.testing.assert_array_equal(got_masked, want_masked)
    np.testing.assert_array_equal(got_visible, want_visible)
    assert got_masked.sum() == mask.sum() and got_visible.sum() == (~mask).sum()


def test_error_histogram_splits_the_shown_errors_by_the_mask(qtbot, window):
    """The Analysis dock's bars count the masked and the visible patches' errors."""
    window.analysis_dock.show()
    qtbot.waitUntil(lambda: len(window.analysis.hist_masked.opts["height"]) > 0)
    check_histogram(window)
    # another mask: the bars follow the new result (a different split of the patches)
    redraw_with(qtbot, window, masks.center_mask((4, 4), 0.25))
    assert window.live.shown.request.mask.sum() == 4
    check_histogram(window)


# -- shared zoom and pan -------------------------------------------------------------------
def test_zoom_and_pan_are_shared_and_0_resets(qtbot, window):
    """Wheel zoom and middle-drag pan on the canvas move every result panel to the same
    rect; View ▸ Reset zoom (0) shows the whole image everywhere again."""
    canvas = window.canvas.view
    views = window.panels.views
    whole = canvas.viewRect()
    wheel(window, 20, 20, steps=2)  # zoom in around (20, 20)
    zoomed = canvas.viewRect()
    assert zoomed.width() < whole.width() * 0.9
    for name, view in views.items():
        assert_same_rect(view.viewRect(), zoomed, f"{name} after zoom")
    drag(window, [(30, 30), (36, 34), (42, 38)], Qt.MouseButton.MiddleButton)  # pan
    panned = canvas.viewRect()
    assert abs(panned.center().x() - zoomed.center().x()) > 1
    assert abs(panned.width() - zoomed.width()) < 1e-6  # panning does not zoom
    assert (window.editor.mask == window.live.shown.request.mask).all()  # nor paint
    for name, view in views.items():
        assert_same_rect(view.viewRect(), panned, f"{name} after pan")
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    action = next(a for a in view_menu.actions() if a.text() == "Reset zoom")
    assert action.shortcut().toString() == "0"
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    QTest.keyClick(window, Qt.Key.Key_0)
    image = QRectF(0, 0, 64, 64)
    for name, view in {"canvas": canvas, **views}.items():
        rect = view.viewRect()
        assert rect.contains(image), f"{name} does not show the whole image: {rect}"
        assert abs(rect.center().x() - 32) < 1e-6 and abs(rect.center().y() - 32) < 1e-6
        assert min(rect.width(), rect.height()) < 64 * 1.1, f"{name}: {rect}"


# -- display modes (norm_pix) --------------------------------------------------------------
@pytest.fixture(scope="module")
def norm_pix_folder(tmp_path_factory):
    """A small ViTMAE trained (nominally) with norm_pix_loss, as a save_pretrained folder."""
    folder = tmp_path_factory.mktemp("normpix") / "vitmae-normpix"
    hf_model(seed=2, norm_pix_loss=True).save_pretrained(folder)
    return folder


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.int16)


def test_display_modes_change_the_reconstruction_and_say_what_they_used(
    qtbot, window, norm_pix_folder
):
    """On a norm_pix model each Display choice draws its own reconstruction and composite
    (as the engine makes them for that mode); only gt-stats says it uses ground truth,
    only the estimate says it is one."""
    with qtbot.waitSignal(window.model_loaded, timeout=20000):
        window.files.open_checkpoint(norm_pix_folder)
    settle(qtbot, window)
    assert window.editor.config.norm_pix_loss
    panels, combo = window.panels, window.attention_dock.mode_combo
    # auto is the estimate for norm_pix
    assert window.live.shown.outcome.analysis.reconstruction.mode == "estimate"
    assert panels.titles["reconstruction"].text() == "Reconstruction (estimate)"
    session = ModelSession.open(norm_pix_folder)
    image, mask = window.editor.image, window.editor.mask
    tags = {"raw": "", "plain": "", "gt-stats": " (uses ground truth)", "estimate": " (estimate)"}
    drawn = {}
    for mode, tag in tags.items():
        with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
            combo.setCurrentIndex(combo.findData(mode))
        settle(qtbot, window)
        rec = window.live.shown.outcome.analysis.reconstruction
        assert rec.mode == mode and window.live.shown.request.mode == mode
        assert panels.titles["reconstruction"].text() == f"Reconstruction{tag}"
        assert panels.titles["composite"].text() == f"Composite{tag}"
        want_rec, want_composite = session.reconstruct(image, mask, mode).viewable()
        got_rec = panels.data["reconstruction"].astype(np.int16)
        got_composite = panels.data["composite"].astype(np.int16)
        assert np.abs(got_rec - to_uint8(want_rec)).max() <= 1, mode
        assert np.abs(got_composite - to_uint8(want_composite)).max() <= 1, mode
        drawn[mode] = got_rec
    modes = list(drawn)
    for i, a in enumerate(modes):
        for b in modes[i + 1 :]:
            assert np.abs(drawn[a] - drawn[b]).max() > 2, f"{a} and {b} look the same"


def test_the_error_panel_says_what_its_errors_used(qtbot, window, norm_pix_folder):
    """The per-patch error is measured on the reconstruction of the chosen mode, so under
    gt-stats it used the hidden patches' statistics, and under estimate it is an estimate:
    its panel says so, like the reconstruction's and the composite's."""
    with qtbot.waitSignal(window.model_loaded, timeout=20000):
        window.files.open_checkpoint(norm_pix_folder)
    settle(qtbot, window)
    panels, combo = window.panels, window.attention_dock.mode_combo
    errors = {}
    for mode, tag in (("gt-stats", " (uses ground truth)"), ("estimate", " (estimate)")):
        if window.live.shown.request.mode != mode:
            with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
                combo.setCurrentIndex(combo.findData(mode))
            settle(qtbot, window)
        errors[mode] = panels.data["error"].copy()
        assert panels.titles["reconstruction"].text() == f"Reconstruction{tag}"
        if mode == "estimate":  # the error panel does depend on the mode...
            assert not np.array_equal(errors["gt-stats"], errors["estimate"])
        assert tag in panels.titles["error"].text()  # ...and should say so


def test_a_pixel_model_says_neither(window):
    """A pixel-target model shows plain pixels: no ground truth, no estimate."""
    assert window.live.shown.outcome.analysis.reconstruction.mode == "plain"
    assert window.panels.titles["reconstruction"].text() == "Reconstruction"
    assert window.panels.titles["composite"].text() == "Composite"


# -- attention controls --------------------------------------------------------------------
def test_layer_head_and_rollout_controls_draw_that_map(qtbot, window):
    """Every layer and head choice (mean, max, each head) and rollout draws that map of
    the result on screen, reduced here with numpy, and says so in the title."""
    dock, panels = window.attention_dock, window.panels
    dock.opacity_slider.setValue(100)
    cmap = window.editor.attention.colormap
    att = window.live.shown.outcome.analysis.attention
    layers, heads = att.maps.shape[:2]
    assert (layers, heads) == (2, 4) and att.part == "encoder" and att.query == "cls"
    assert dock.layer_slider.maximum() == layers - 1 and dock.head_combo.count() == heads + 2
    drawn = {}
    for layer in range(layers):
        dock.layer_slider.setValue(layer)
        assert dock.layer_label.text() == str(layer + 1)
        choices = {"mean": att.maps[layer].mean(axis=0), "max": att.maps[layer].max(axis=0)}
        choices.update({f"head {h + 1}": att.maps[layer, h] for h in range(heads)})
        for index, (label, values) in enumerate(choices.items()):
            dock.head_combo.setCurrentIndex(index)
            assert dock.head_combo.currentText() == label
            title = panels.titles["attention"].text()
            heads_label = f"{label} of heads" if label in ("mean", "max") else label
            assert title == f"Attention: encoder layer {layer + 1}, {heads_label}, CLS"
            want = expected_attention(values, cmap)
            np.testing.assert_array_equal(panels.data["attention"], want, err_msg=title)
            drawn[(layer, label)] = want
    # the choices draw different maps (so the comparisons above can tell them apart)
    assert not np.array_equal(drawn[(0, "mean")], drawn[(1, "mean")])
    assert not np.array_equal(drawn[(1, "mean")], drawn[(1, "max")])
    assert not np.array_equal(drawn[(1, "head 1")], drawn[(1, "head 2")])
    dock.rollout_check.setChecked(True)
    assert panels.titles["attention"].text() == "Attention: rollout, CLS"
    want = expected_attention(att.rollout, cmap)
    np.testing.assert_array_equal(panels.data["attention"], want)
    assert not any(np.array_equal(want, d) for d in drawn.values())
    dock.rollout_check.setChecked(False)
    assert panels.titles["attention"].text().startswith("Attention: encoder layer 2, head 4")


def test_switching_to_the_decoder_runs_a_decoder_pass(qtbot, window):
    """Part ▸ decoder asks for a new pass whose maps are the decoder's (no absent cells)."""
    dock, panels = window.attention_dock, window.panels
    dock.opacity_slider.setValue(100)
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        dock.part_combo.setCurrentText("decoder")
    settle(qtbot, window)
    shown = window.live.shown
    att = shown.outcome.analysis.attention
    assert shown.request.part == "decoder" and att.part == "decoder"
    assert att.maps.shape[:2] == (2, 2)  # the decoder's layers and heads
    assert not np.isnan(att.maps).any()  # every patch has a token in the decoder
    assert dock.head_combo.count() == 2 + 2
    assert panels.titles["attention"].text() == "Attention: decoder layer 2, mean of heads, CLS"
    want = expected_attention(att.maps[-1].mean(axis=0), window.editor.attention.colormap)
    np.testing.assert_array_equal(panels.data["attention"], want)
    assert tuple(ABSENT_RGBA[:3]) not in {tuple(p) for p in want.reshape(-1, 3)}
