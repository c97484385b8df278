"""Hostile and broken session files in the window: special files are refused unopened and the
GUI thread never blocks; hashing happens off it; a session is applied whole or not at all
(a refusal names the field and leaves the window exactly as it was); changed files ask
first; a device this machine lacks falls back and says so; bad files through the File menu
are one-line messages, never tracebacks."""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import re
import shutil
import struct
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QFileDialog

from mae_desktop import session_file
from mae_desktop.engine import masks
from tests.app.conftest import settle

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/zero")


@pytest.fixture(autouse=True)
def _no_hangs():
    """A regression that blocks on a pipe or /dev/zero fails the run instead of hanging."""
    faulthandler.dump_traceback_later(180, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def fifo(tmp_path):
    """A named pipe nobody writes to; from 20 s on, readers blocked on it get EOF (so a
    regression fails on the timing checks instead of hanging)."""
    path = tmp_path / "pipe.pth"
    os.mkfifo(path)

    stop = threading.Event()

    def unblock() -> None:  # from the deadline on, every reader blocked on it gets EOF
        if stop.wait(20):
            return
        while not stop.wait(0.2):
            with contextlib.suppress(OSError):  # nobody is reading
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    threading.Thread(target=unblock, daemon=True).start()
    yield path
    stop.set()


@pytest.fixture(scope="module")
def fine_grid_model(tmp_path_factory):
    """A model with patch 8: an 8x8 grid where the window's model has 4x4."""
    from tests.helpers import hf_model

    folder = tmp_path_factory.mktemp("hf8") / "vitmae8"
    hf_model(seed=1, patch_size=8).save_pretrained(folder)
    return folder


class Heartbeat:
    """A 10 ms timer on the GUI thread; `longest` is the longest gap between two ticks, i.e.
    how long the GUI thread was blocked at most."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.longest = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last:
            self.longest = max(self.longest, now - self.last)
        self.last = now

    def __enter__(self) -> Heartbeat:
        self.last = time.perf_counter()
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.stop()


def snapshot(win) -> dict:
    """Everything a refused session must leave as it was."""
    e, menus = win.editor, win.menus
    return {
        "image_id": e.image_id,
        "image_path": e.image_path,
        "image": None if e.image is None else e.image.tobytes(),
        "mask": e.mask.tobytes(),
        "history": (len(e.history._undo), len(e.history._redo)),
        "generator": e.generator,
        "attention": e.attention,
        "display_mode": e.display_mode,
        "resize": e.resize,
        "model": e.model and (e.model["path"], e.model["device"], e.model["dtype"]),
        "generation": e.generation,
        "worker_generation": win.live.lane.worker.generation,
        "device_choice": e.device_choice,
        "heads": dict(e.head_overrides),
        "input_norm": e.input_norm,
        "device_menu": menus.checked(menus.device_group),
        "precision_menu": menus.checked(menus.precision_group),
        "title": win.windowTitle(),
    }


def edited(qtbot, win) -> None:
    """Give the window a state of its own (seed, generator, an undo step, options)."""
    win.mask_dock.seed_spin.setValue(3)
    win.editor.invert()
    win.editor.set_attention(part="decoder")
    settle(qtbot, win)


def session_json(win, tmp_path: Path, name: str = "s.json", **changes) -> Path:
    """The window's session saved, then fields replaced: {"generator.seed": 5} style keys."""
    path = tmp_path / name
    win.files.save_session_file(path)
    data = json.loads(path.read_text())
    for key, value in changes.items():
        target = data
        *parents, last = key.split(".")
        for part in parents:
            target = target[part]
        target[last] = value
    path.write_text(json.dumps(data))
    return path


def refused(qtbot, win, path: Path, timeout: int = 30000) -> str:
    """Open a session that must be refused: its message, after the window settled."""
    with qtbot.waitSignal(win.error_shown, timeout=timeout) as sig:
        win.files.open_session_file(path)
    settle(qtbot, win)
    return sig.args[0]


def still_answers(qtbot, win) -> None:
    with qtbot.waitSignal(win.analysis_drawn, timeout=20000):
        win.editor.invert()
    settle(qtbot, win)


# -- special files ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("what", "which"),
    [
        ("image", "zero"),
        ("image", "fifo"),
        ("checkpoint", "zero"),
        ("checkpoint", "fifo"),
        ("session", "fifo"),
        ("session", "zero"),
    ],
)
def test_special_files_are_refused_without_blocking_the_window(
    qtbot, window, tmp_path, fifo, what, which
):
    special = "/dev/zero" if which == "zero" else str(fifo)
    edited(qtbot, window)
    if what == "session":
        path = Path(special)
    else:
        path = session_json(window, tmp_path, **{f"{what}.path": special})
    before = snapshot(window)
    with Heartbeat() as beat:
        message = refused(qtbot, window, path)
    assert re.search(r"is a (pipe|character device).* not an ordinary file", message), message
    assert special in message
    assert message.count("\n") == 0
    assert snapshot(window) == before
    assert beat.longest < 1.0, f"the GUI thread was blocked for {beat.longest:.1f} s"
    still_answers(qtbot, window)


def test_a_big_checkpoint_folder_is_hashed_off_the_gui_thread(
    qtbot, window, hf_pair, tmp_path, monkeypatch
):
    big = tmp_path / "big-model"
    shutil.copytree(hf_pair[1], big)
    (big / "training_state.bin").write_bytes(os.urandom(8 << 20))
    path = session_json(
        window,
        tmp_path,
        **{"checkpoint.path": str(big), "checkpoint.sha256": session_file.file_sha256(big)},
    )
    threads, busy = [], []
    real = session_file.sha256_of

    def slow_hash(files, between=None):
        threads.append(threading.current_thread())
        time.sleep(1.5)  # a folder of many gigabytes
        return real(files, between)

    monkeypatch.setattr(session_file, "sha256_of", slow_hash)
    window.live.busy_changed.connect(busy.append)
    with Heartbeat() as beat, qtbot.waitSignal(window.model_loaded, timeout=30000):
        assert window.files.open_session_file(path)
    settle(qtbot, window)
    assert threads and threading.main_thread() not in threads
    assert beat.longest < 0.75, f"the GUI thread was blocked for {beat.longest:.1f} s"
    assert busy[:1] == [True] and busy[-1] is False  # the busy indicator ran meanwhile
    assert window.editor.model["path"] == str(big)
    assert window.editor.model["sha256"] == session_file.file_sha256(big)


# -- whole or nothing ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"mask": ["10101"] * 5}, "mask is 5x5"),
        ({"resize": "bogus"}, "resize"),
        ({"generator.seed": 2**40}, "generator.seed"),
        ({"generator.ratio": "abc"}, "generator.ratio"),
        ({"display_mode": "sharpest"}, "display_mode"),
        ({"display_mode": "estimate"}, "display_mode"),  # not for this model's target
        ({"attention.cell": [6, 1], "attention.query": "patch"}, "attention.cell"),
        ({"heads.heads": -3}, "heads.heads"),
        ({"input_norm": "1:0"}, "input_norm"),
        ({"device": "quantum"}, "device"),
    ],
)
def test_a_field_that_does_not_fit_is_named_and_changes_nothing(
    qtbot, window, tmp_path, changes, named
):
    edited(qtbot, window)
    path = session_json(window, tmp_path, **{"generator.seed": 7, **changes})
    before = snapshot(window)
    message = refused(qtbot, window, path)
    assert named in message
    assert snapshot(window) == before
    still_answers(qtbot, window)
    window.files.open_image(window.editor.image_path)  # later images still get results
    settle(qtbot, window)
    assert window.live.shown.request.image_id == window.editor.image_id


def test_a_mask_for_the_grid_of_the_model_it_loads_is_checked_before_that_model_comes(
    qtbot, window, tmp_path, fine_grid_model
):
    """The session names another model (8x8 grid) but keeps a 4x4 mask: refused once the
    checkpoint is read, and the model on screen stays (on the worker too)."""
    edited(qtbot, window)
    path = session_json(
        window, tmp_path, **{"checkpoint.path": str(fine_grid_model), "checkpoint.sha256": None}
    )
    before = snapshot(window)
    message = refused(qtbot, window, path)
    assert "mask is 4x4" in message and "8x8" in message
    assert snapshot(window) == before
    assert window.live.lane.worker.session.config.grid_size == (4, 4)
    still_answers(qtbot, window)


def test_a_changed_image_asks_first_stop_keeps_continue_applies(qtbot, window, tmp_path, photo):
    edited(qtbot, window)
    path = session_json(window, tmp_path)
    window.mask_dock.seed_spin.setValue(11)
    settle(qtbot, window)
    Image.new("RGB", (64, 64), (10, 200, 30)).save(photo)  # the same path, another picture
    asked = []
    window.files.confirm = lambda message: asked.append(message) or False
    before = snapshot(window)
    assert window.files.open_session_file(path)
    qtbot.waitUntil(lambda: bool(asked), timeout=20000)
    settle(qtbot, window)
    assert "photo.png is not the file the session was saved with" in asked[0]
    assert snapshot(window) == before
    window.files.confirm = lambda message: asked.append(message) or True
    with qtbot.waitSignal(window.analysis_drawn, timeout=30000):
        window.files.open_session_file(path)
    settle(qtbot, window)
    assert len(asked) == 2 and window.editor.generator.seed == 3
    assert np.allclose(window.editor.image[0, 0], (10 / 255, 200 / 255, 30 / 255))
    assert window.live.shown.request.image_id == window.editor.image_id


def test_a_checkpoint_hash_mismatch_asks_and_a_missing_image_opens_without_it(
    qtbot, window, tmp_path, photo
):
    edited(qtbot, window)
    path = session_json(window, tmp_path, **{"checkpoint.sha256": "ab" * 32})
    asked = []
    window.files.confirm = lambda message: asked.append(message) or False
    before = snapshot(window)
    window.files.open_session_file(path)
    qtbot.waitUntil(lambda: bool(asked), timeout=20000)
    settle(qtbot, window)
    assert "checkpoint vitmae is not the file the session was saved with" in asked[0]
    assert snapshot(window) == before
    gone = tmp_path / "gone.png"
    path = session_json(window, tmp_path, **{"image.path": str(gone), "generator.seed": 9})
    window.files.confirm = lambda message: asked.append(message) or True
    image_id = window.editor.image_id
    window.files.open_session_file(path)
    qtbot.waitUntil(lambda: window.editor.generator.seed == 9, timeout=20000)
    settle(qtbot, window)
    assert "image is missing" in asked[-1] and "the image on screen stays" in asked[-1]
    assert window.editor.image_path == str(photo) and window.editor.image_id >= image_id


def test_without_dialogs_a_changed_file_is_not_opened_and_says_why(qtbot, window, tmp_path):
    path = session_json(window, tmp_path, **{"checkpoint.sha256": "cd" * 32})
    before = snapshot(window)
    message = refused(qtbot, window, path)
    assert "is not the file the session was saved with" in message
    assert snapshot(window) == before


# -- devices -------------------------------------------------------------------------------------
def test_a_session_from_a_gpu_machine_falls_back_and_the_menus_keep_working(
    qtbot, window, new_window, tmp_path, monkeypatch
):
    absent = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda:0"
    path = session_json(window, tmp_path, device=absent, dtype="fp16")
    other = new_window("other")
    other.show()
    notices = []
    other.live.notice.connect(notices.append)
    with qtbot.waitSignal(other.model_loaded, timeout=30000):
        assert other.files.open_session_file(path)
    settle(qtbot, other)
    assert any(
        n.startswith(f"the session was saved on {absent}; this machine has no") for n in notices
    )
    assert other.statusBar().currentMessage()  # said where the user looks
    menus = other.menus
    assert menus.checked(menus.device_group) == "auto" == other.editor.device_choice
    assert menus.checked(menus.precision_group) == other.editor.model["dtype"]
    hooked = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: hooked.append(exc))
    [bf16] = [a for a in menus.precision_group.actions() if a.text() == "bf16"]
    if bf16.isEnabled():
        with qtbot.waitSignal(other.model_loaded, timeout=30000):
            bf16.trigger()
        settle(qtbot, other)
        assert other.editor.model["dtype"] == "bf16"
        assert menus.checked(menus.precision_group) == "bf16"
    other.close()
    assert not hooked
    saved = QSettings(str(tmp_path / "other.ini"), QSettings.Format.IniFormat)
    assert saved.value("model/device") == "auto"
    assert not other.live.lane.alive


# -- hostile files through the File menu --------------------------------------------------------
def bomb_png(path: Path, side: int = 30000) -> Path:
    """A 1-bit PNG of side x side pixels (900 megapixels) in ~100 kB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = zlib.compress(b"\0" * ((side // 8 + 1) * side), 9)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows)
    path.write_bytes(png + chunk(b"IEND", b""))
    return path


def huge_npy(path: Path) -> Path:
    """A .npy whose header claims a 100000 x 100000 bool array (and holds no data)."""
    header = "{'descr': '|b1', 'fortran_order': False, 'shape': (100000, 100000), }"
    header = header.ljust(117) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    return path


def file_action(win, text: str):
    [file_menu] = [a.menu() for a in win.menuBar().actions() if a.text() == "&File"]
    [action] = [a for a in file_menu.actions() if a.text() == text]
    return action


def test_hostile_files_through_the_file_menu_are_one_line_messages(
    qtbot, window, tmp_path, monkeypatch, capfd
):
    hooked = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: hooked.append(exc))
    cases = [
        ("Open image…", bomb_png(tmp_path / "bomb.png")),
        ("Load mask…", bomb_png(tmp_path / "bomb-mask.png")),
        ("Load mask…", huge_npy(tmp_path / "huge.npy")),
        ("Open session…", Path("/dev/zero")),
    ]
    before = snapshot(window)
    capfd.readouterr()
    for text, path in cases:
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, p=path, **k: (str(p), ""))
        with qtbot.waitSignal(window.error_shown, timeout=20000) as sig:
            file_action(window, text).trigger()
        assert sig.args[0] and "\n" not in sig.args[0], (text, sig.args[0])
        assert path.name in sig.args[0] or "pixels" in sig.args[0], (text, sig.args[0])
    settle(qtbot, window)
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    assert not hooked
    assert snapshot(window) == before


def test_an_unexpected_failure_in_a_file_action_is_one_line_not_lost(
    qtbot, window, tmp_path, monkeypatch
):
    def broken(path, grid):
        raise RuntimeError("the mask reader broke\nwith a second line")

    hooked = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: hooked.append(exc))
    monkeypatch.setattr(masks, "load_mask", broken)
    np.save(tmp_path / "m.npy", np.zeros((4, 4), bool))
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda *a, **k: (str(tmp_path / "m.npy"), "")
    )
    with qtbot.waitSignal(window.error_shown, timeout=5000) as sig:
        file_action(window, "Load mask…").trigger()
    assert sig.args[0] == "unexpected error: RuntimeError: the mask reader broke"
    assert not hooked
