"""The viewer: panels that fill the window in every layout, optional panels, one-line
titles, the linked cursor and its readout, outlines in every panel, mask styles, and the
small things (window title, folders remembered, strokes that leave the image)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, QRectF
from PySide6.QtWidgets import QApplication, QFileDialog

from mae_desktop.app.imaging import MASK_STYLES
from mae_desktop.app.panels import PANELS, best_columns
from mae_desktop.engine import masks
from tests.app.conftest import settle
from tests.app.gui import drag


def _shown_image_rect(tile) -> QRectF:
    """Where a panel's image lies on screen, in its widget's pixels."""
    h, w = tile.image.image.shape[:2]
    scene = tile.view.mapViewToScene(QRectF(0, 0, w, h)).boundingRect()
    return tile.area.mapFromScene(scene).boundingRect()


def _move_over(area, x: float, y: float) -> None:
    """The pointer moves to image pixel (x, y) over a panel or the canvas."""
    scene = area.view.mapViewToScene(QPointF(x, y))
    area.scene().sigMouseMoved.emit(scene)


def test_best_columns_makes_the_images_largest():
    assert best_columns(5, 1200, 700, chrome=(0, 0)) == 3  # 3 x 2 beats 5 x 1 and 2 x 3
    assert best_columns(5, 300, 1200, chrome=(0, 0)) == 1  # tall: one column
    assert best_columns(4, 800, 800, chrome=(0, 0)) == 2
    assert best_columns(6, 2000, 300, chrome=(0, 0)) == 6  # a strip: one row
    # a wide image in a square area: fewer columns than for a square one
    assert best_columns(4, 800, 800, aspect=4.0, chrome=(0, 0)) == 1


@pytest.mark.parametrize("size", [(1500, 900), (1024, 700)])
def test_result_images_fill_their_cells(qtbot, window, size):
    window.resize(*size)
    QApplication.processEvents()
    shown = [n for n in PANELS if window.panels.tiles[n].isVisible()]
    assert "compare" not in shown  # nothing to compare: no empty panel
    for name in shown:
        tile = window.panels.tiles[name]
        rect = _shown_image_rect(tile)
        view = tile.view.geometry()  # the tile's area less its colorbar
        assert view.height() >= 0.75 * tile.area.height(), name
        # the square image spans the view's short side (a few pixels of margin)
        assert max(rect.width(), rect.height()) >= 0.95 * min(view.width(), view.height()), name


def test_layouts_are_applied_and_remembered(qtbot, new_window, window):
    panels = window.panels
    window.menus.check(window.menus.layout_group, "row")
    window.set_layout("row")
    QApplication.processEvents()
    tops = {panels.tiles[n].mapTo(window, panels.tiles[n].rect().topLeft()).y() for n in PANELS[:5]}
    assert len(tops) == 1  # one row
    canvas_bottom = window.canvas.mapTo(window, window.canvas.rect().bottomLeft()).y()
    assert min(tops) > canvas_bottom  # under the canvas
    window.set_layout("tabs")
    QApplication.processEvents()
    assert panels._tabs.count() == 5 and panels._tabs.isVisible()
    assert sum(panels.tiles[n].isVisible() for n in PANELS) == 1  # one large panel
    assert window.menus.checked(window.menus.layout_group) == "tabs"
    window.save_settings()
    again = new_window()  # the same settings file
    assert again.layout_mode == "tabs" and again.panels.mode == "tabs"
    again.close()


def test_titles_stay_on_one_line_with_the_full_text_in_the_tooltip(qtbot, window):
    title = window.panels.titles["attention"]
    long = "Attention: " + "a very long note about the query patch " * 5
    window.panels.set_title("attention", long)
    QApplication.processEvents()
    assert title.text() == long and title.toolTip() == long
    assert title.height() <= 2 * title.fontMetrics().height()
    assert title.width() < title.fontMetrics().horizontalAdvance(long)  # elided, not wider


def test_the_linked_cursor_outlines_the_patch_everywhere_and_reads_it_out(qtbot, window):
    e = window.editor
    mask = masks.clear((4, 4))
    mask[1, 2] = True
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        e.set_mask(mask)
    settle(qtbot, window)
    rec = window.live.shown.outcome.analysis.reconstruction
    tile = window.panels.tiles["error"]
    _move_over(tile.area, 2 * 16 + 5.5, 1 * 16 + 7.5)  # over patch (1, 2) of the error map
    text = window.readout.text()
    assert "row 2, col 3" in text and "masked" in text
    assert f"error {rec.patch_error[1, 2]:.4f}" in text
    attention = window.results.attention_values[1, 2]
    assert ("attention: no token" in text) if np.isnan(attention) else f"{attention:.4f}" in text
    r, g, b = (e.image[16 + 7, 32 + 5] * 255 + 0.5).astype(int)
    assert f"pixel (38, 24) RGB {r} {g} {b}" in text
    want = QRectF(32, 16, 16, 16)
    for name in PANELS:
        outline = window.panels.tiles[name].hover
        assert outline.isVisible() and outline.rect() == want, name
    assert window.canvas.hover_item.isVisible() and window.canvas.hover_item.rect() == want
    # a visible patch from the canvas
    _move_over(window.canvas, 5.5, 5.5)
    assert "row 1, col 1" in window.readout.text() and "visible" in window.readout.text()
    # the pointer leaves: no outline anywhere, the readout says how to use it
    QApplication.sendEvent(tile.area, QEvent(QEvent.Type.Leave))
    assert not any(window.panels.tiles[n].hover.isVisible() for n in PANELS)
    assert not window.canvas.hover_item.isVisible()
    assert "row" not in window.readout.text()


def test_the_readout_follows_a_drag_and_is_never_stale(qtbot, window):
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.editor.set_mask(masks.clear((4, 4)))
    settle(qtbot, window)
    drag(window, [(5, 40), (20, 40), (40, 40)])  # row 2, cols 0-2, ending over col 2
    settle(qtbot, window)
    text = window.readout.text()
    assert "row 3, col 3" in text and "masked" in text  # where the drag ended, masked now
    rec = window.live.shown.outcome.analysis.reconstruction
    assert f"error {rec.patch_error[2, 2]:.4f}" in text  # from the result for the new mask


def test_the_query_patch_is_outlined_in_every_panel(qtbot, window):
    window.editor.pick_query((2, 1))
    want = QRectF(16, 32, 16, 16)
    for name in PANELS:
        assert window.panels.tiles[name].query.isVisible(), name
        assert window.panels.tiles[name].query.rect() == want
    window.editor.set_attention(query="cls")
    assert not any(window.panels.tiles[n].query.isVisible() for n in PANELS)


def test_the_error_map_marks_the_masked_cells(qtbot, window):
    mask = masks.clear((4, 4))
    mask[0, 0] = True
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.editor.set_mask(mask)
    settle(qtbot, window)
    marks = window.panels.tiles["error"].marks.image
    drawn = marks[..., 3] > 0
    assert drawn[:16, :16].any()  # around the masked cell
    assert not drawn[20:, 20:].any()  # nothing around visible cells far from it
    assert "error" in window.panels.tiles and window.panels.tiles["error"].colorbar.isVisible()


def test_colorbars_span_the_values_shown(qtbot, window):
    rec = window.live.shown.outcome.analysis.reconstruction
    bar = window.panels.tiles["error"].colorbar
    lo, hi = bar.levels()
    finite = rec.patch_error[np.isfinite(rec.patch_error)]
    assert lo == pytest.approx(finite.min()) and hi == pytest.approx(finite.max())
    att = window.results.attention_values
    lo, hi = window.panels.tiles["attention"].colorbar.levels()
    assert lo == pytest.approx(np.nanmin(att)) and hi == pytest.approx(np.nanmax(att))


@pytest.mark.parametrize("style", MASK_STYLES)
def test_mask_styles_change_the_overlay_and_are_remembered(qtbot, new_window, window, style):
    before = window.canvas.overlay_item.image.copy()
    window.set_mask_style(style)
    after = window.canvas.overlay_item.image
    masked = np.kron(window.editor.mask, np.ones((16, 16), bool))
    assert (after[masked][:, 3] > 0).any()  # masked patches are marked
    if style != "auto":
        assert not np.array_equal(before, after)
    window.save_settings()
    again = new_window()
    assert again.canvas.mask_style == style
    again.close()


def test_a_stroke_out_of_the_image_and_back_masks_only_what_it_crossed(qtbot, window):
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.editor.set_mask(masks.clear((4, 4)))
    settle(qtbot, window)
    # in at the top-left patch, out above the image, back in at the top-right patch
    drag(window, [(6, 6), (8, -30), (56, -30), (58, 6)])
    expected = masks.clear((4, 4))
    expected[0, 0] = expected[0, 3] = True
    assert (window.editor.mask == expected).all()


def test_window_title_names_the_image_and_the_model(qtbot, window, photo):
    title = window.windowTitle()
    assert window.editor.model_name in title and photo.name in title


def test_dialogs_open_in_the_folder_used_last(qtbot, window, monkeypatch, photo, tmp_path):
    asked = []

    def fake_open(_parent, _caption, folder, _filters):
        asked.append(folder)
        return str(photo), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake_open))
    window.files.choose_image()
    window.files.choose_image()
    assert asked[1] == str(photo.parent)
    window.files.choose_mask_to_load()  # another kind: the last folder used at all
    assert asked[2] == str(photo.parent)


def test_figure_export_holds_the_view_titles_and_scales(qtbot, window, tmp_path):
    import pypdf

    window.attention_dock.layer_slider.setValue(0)  # the figure shows the view as chosen
    window.files.export_figure(tmp_path / "f.svg")
    svg = (tmp_path / "f.svg").read_text()
    psnr = window.live.shown.outcome.analysis.reconstruction.masked_psnr
    for text in (
        "Original",
        "Reconstruction",
        "Composite",
        "Per-patch error",
        "encoder layer 1,",  # (a long title wraps onto two lines)
        "mean of heads",
        f"masked PSNR {psnr:.2f} dB",
        window.editor.image_name,
    ):
        assert text in svg, text
    window.files.export_figure(tmp_path / "f.pdf")
    pdf_text = pypdf.PdfReader(tmp_path / "f.pdf").pages[0].extract_text()
    assert "Composite" in pdf_text and "masked PSNR" in pdf_text
    window.files.export_figure(tmp_path / "f1.png", 1.0)
    window.files.export_figure(tmp_path / "f2.png", 2.0)
    from PIL import Image

    with Image.open(tmp_path / "f1.png") as a, Image.open(tmp_path / "f2.png") as b:
        assert b.size == (2 * a.size[0], 2 * a.size[1])


def test_a_figure_export_error_is_shown_and_writes_nothing(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.error_shown) as got:
        window.files._export(lambda: window.files.export_figure(tmp_path / "f.txt"))
    assert ".png" in got.args[0] and not (tmp_path / "f.txt").exists()


def test_the_docks_keep_their_width_when_the_metrics_text_grows(qtbot, window):
    def places():
        return [d.geometry() for d in window.docks[:3]], window.canvas.geometry()

    before = places()
    long = "<br>".join(["masked PSNR with a long note about the display mode " * 3] * 9)
    window.metrics.label.setText(long)
    QApplication.processEvents()
    assert places() == before


def test_colorbar_labels_have_the_decimals_their_range_needs():
    from mae_desktop.app.tiles import format_values

    assert format_values((0.0025, 0.05, 0.0977), 0.0025, 0.0977) == ["0.0025", "0.0500", "0.0977"]
    assert format_values((0.0, 0.5, 1.0), 0.0, 1.0) == ["0.00", "0.50", "1.00"]
    assert format_values((10.0, 600.0), 10.0, 600.0) == ["10", "600"]
    assert format_values((1e-9, 3e-9), 1e-9, 3e-9) == ["1e-09", "3e-09"]
