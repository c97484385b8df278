"""Files in the window: bad images, checkpoints, masks and sessions keep the state; masks,
panels, figures and sessions round-trip; drag and drop, paste, recent files."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage

from mae_desktop.core.requests import OpenModel
from mae_desktop.engine import masks
from tests.app.conftest import settle


def test_bad_image_shows_the_message_and_keeps_the_state(qtbot, window, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    e = window.editor
    image, mask, path, image_id = e.image, e.mask, e.image_path, e.image_id
    with qtbot.waitSignal(window.error_shown) as sig:
        window.files.open_image(bad)  # decoded off the GUI thread: the error follows
    assert "broken.png" in sig.args[0]
    assert e.image is image and e.mask is mask and e.image_path == path
    assert e.image_id == image_id


def test_bad_checkpoint_keeps_the_model(qtbot, window, tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"garbage")
    info = window.editor.model
    with qtbot.waitSignal(window.error_shown, timeout=20000) as sig:
        window.files.open_checkpoint(junk)
    assert "junk.pth" in sig.args[0]
    assert window.editor.model is info
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.editor.invert()  # the old model still answers


def test_a_queued_open_is_never_dropped(qtbot, window, hf_pair, tmp_path):
    """Commands run in order: a device switch and a compare asked for while a checkpoint
    loads do not swallow the load."""
    loaded = []
    window.model_loaded.connect(loaded.append)
    window.files.open_checkpoint(hf_pair[1])
    window.set_device("cpu", "bf16")
    window.live.open_compare(str(hf_pair[1]))
    settle(qtbot, window)
    assert [i["dtype"] for i in loaded] == ["fp32", "bf16"]
    assert loaded[0]["sha256"] == loaded[1]["sha256"] and loaded[0]["sha256"]
    assert window.editor.compare is not None
    assert "compare" in window.panels.data


def test_encoder_only_checkpoint_shows_attention_and_says_why(qtbot, window, tmp_path):
    import torch

    from tests.helpers import hf_model, hf_to_official

    sd = hf_to_official(hf_model(seed=4, layer_norm_eps=1e-6).state_dict())
    enc = {k: v for k, v in sd.items() if not k.startswith("decoder") and k != "mask_token"}
    torch.save({"model": enc}, tmp_path / "enc.pth")
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.files.open_checkpoint(tmp_path / "enc.pth")
    assert "attention" in window.panels.data and "reconstruction" not in window.panels.data
    assert "no decoder" in window.metrics.label.text()


def test_mask_files_and_exports(qtbot, window, tmp_path):
    m = masks.center_mask((4, 4), 0.25)
    masks.save_mask(tmp_path / "m.npy", m)
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        assert window.files.load_mask_file(tmp_path / "m.npy")
    assert (window.editor.mask == m).all()
    np.save(tmp_path / "bad.npy", np.zeros((3, 3), bool))
    with qtbot.waitSignal(window.error_shown):
        assert not window.files.load_mask_file(tmp_path / "bad.npy")
    assert (window.editor.mask == m).all()
    settle(qtbot, window)
    window.files.export_panel("reconstruction", tmp_path / "rec.png")
    window.files.export_figure(tmp_path / "fig.png")
    with Image.open(tmp_path / "rec.png") as im:
        assert im.size == (64, 64)
        assert (np.asarray(im) == window.panels.data["reconstruction"]).all()
    with Image.open(tmp_path / "fig.png") as im:
        assert im.size[0] > 5 * 64


def test_session_round_trip(qtbot, window, new_window, tmp_path):
    m = masks.random_mask((4, 4), 0.5, 9)
    window.mask_dock.seed_spin.setValue(9)  # (regenerates the mask: the mask comes after)
    window.editor.set_mask(m)
    window.attention_dock.part_combo.setCurrentText("decoder")
    settle(qtbot, window)
    window.files.save_session_file(tmp_path / "s.json")
    other = new_window("other")
    with qtbot.waitSignal(other.analysis_drawn, timeout=30000):
        assert other.files.open_session_file(tmp_path / "s.json")
    settle(qtbot, other)
    e, shown = other.editor, other.live.shown
    assert (e.mask == m).all() and (shown.request.mask == m).all()
    assert e.image_path == window.editor.image_path
    assert e.model["path"] == window.editor.model["path"]
    assert other.mask_dock.seed_spin.value() == 9
    assert other.attention_dock.part_combo.currentText() == "decoder"
    assert shown.outcome.analysis.attention.part == "decoder"


def test_bad_session_file_keeps_the_state(qtbot, window, tmp_path):
    (tmp_path / "s.json").write_text('{"format": "mae-desktop-session", "version": 1}')
    mask = window.editor.mask
    with qtbot.waitSignal(window.error_shown) as sig:
        assert not window.files.open_session_file(tmp_path / "s.json")
    assert "damaged" in sig.args[0] and window.editor.mask is mask


def test_drop_paste_and_recent_files(qtbot, window, hf_pair, photo, tmp_path):
    other = tmp_path / "other.png"
    Image.fromarray(np.full((30, 40, 3), 200, np.uint8)).save(other)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(other))])
    drop = QDropEvent(
        QPoint(10, 10),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.dropEvent(drop)
    assert window.editor.image_path == str(other)
    assert np.allclose(window.editor.image, 200 / 255, atol=1e-6)
    QGuiApplication.clipboard().setImage(QImage(str(photo)))
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.files.paste_image()
    assert window.editor.image_path is None and window.editor.image_name == "pasted image"
    QGuiApplication.clipboard().clear()
    with qtbot.waitSignal(window.error_shown):
        window.files.paste_image()
    recent = [a.text() for a in window.files.recent_menu.actions()]
    assert recent[:3] == [str(other), str(hf_pair[1]), str(photo)]  # newest first
    requests = []
    real_submit = window.live.lane.submit
    window.live.lane.submit = lambda r: requests.append(r) or real_submit(r)
    next(a for a in window.files.recent_menu.actions() if a.text() == str(hf_pair[1])).trigger()
    assert isinstance(requests[0], OpenModel) and requests[0].path == str(hf_pair[1])
    settle(qtbot, window)
