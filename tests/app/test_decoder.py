"""Images are decoded off the GUI thread: the window keeps running while a file decodes, the
newest image asked for is the one shown, and a bad file is one line in the error dialog."""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject

from mae_desktop.app.decoder import ImageDecoder
from mae_desktop.engine.errors import MAEError
from tests.app.conftest import settle


class GatedRead:
    """A read_image stand-in that holds each path until the test lets it go."""

    def __init__(self) -> None:
        self.gates: dict[str, threading.Event] = {}
        self.started: list[str] = []

    def gate(self, path: str) -> threading.Event:
        return self.gates.setdefault(str(path), threading.Event())

    def __call__(self, path: str) -> Image.Image:
        self.started.append(path)
        self.gate(path).wait(30)
        if path.endswith("bad.png"):
            raise MAEError(f"cannot read image {path}: not an image")
        return Image.new("RGB", (40, 30), (len(path) * 7 % 256, 50, 90))


def test_the_newest_request_wins_and_errors_come_back(qtbot):
    read, got = GatedRead(), []
    owner = QObject()
    decoder = ImageDecoder(owner, read)
    decoder.decode("a.png", lambda p, out: got.append((p, out)))
    qtbot.waitUntil(lambda: read.started == ["a.png"], timeout=5000)
    decoder.decode("b.png", lambda p, out: got.append((p, out)))  # waits, then replaced
    decoder.decode("c.png", lambda p, out: got.append((p, out)))
    assert decoder.busy
    read.gate("a.png").set()
    read.gate("c.png").set()
    qtbot.waitUntil(lambda: not decoder.busy, timeout=5000)
    assert [p for p, _ in got] == ["c.png"] and "b.png" not in read.started
    decoder.decode("bad.png", lambda p, out: got.append((p, out)))
    read.gate("bad.png").set()
    qtbot.waitUntil(lambda: len(got) == 2, timeout=5000)
    assert isinstance(got[1][1], MAEError)
    decoder.close()


def test_the_window_keeps_running_while_an_image_decodes(qtbot, window, photo, monkeypatch):
    read = GatedRead()
    monkeypatch.setattr(window.files.decoder, "_read", read)
    before_id, before_path = window.editor.image_id, window.editor.image_path
    window.files.open_image(photo)
    qtbot.waitUntil(lambda: read.started == [str(photo)], timeout=5000)
    # the GUI thread is free: it answers an edit while the image is still decoding
    assert not window.up_to_date  # (an image is on its way)
    with qtbot.waitSignal(window.analysis_drawn, timeout=20000):
        window.editor.invert()
    assert window.editor.image_id == before_id and window.editor.image_path == before_path
    read.gate(str(photo)).set()
    qtbot.waitUntil(lambda: window.editor.image_id != before_id, timeout=10000)
    settle(qtbot, window)
    assert window.editor.image_path == str(photo)
    assert np.allclose(window.live.shown.request.image, window.editor.image)


def test_a_bad_image_decoded_off_the_thread_is_the_error_dialog(qtbot, window, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n")
    before = window.editor.image_id
    with qtbot.waitSignal(window.error_shown, timeout=10000) as sig:
        window.files.open_image(bad)
    assert "bad.png" in sig.args[0] and "not an image of a kind" in sig.args[0]
    settle(qtbot, window)
    assert window.editor.image_id == before
