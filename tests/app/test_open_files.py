"""`mae-desktop FILE...` in the window: the files open over what the app starts with (the
bundled model and sample), through the File menu's own actions; a file that cannot be
opened is shown as File ▸ Open shows it and the start stays; the one-shot modes take the
files too and say which Qt platform plugin they ran on."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mae_desktop import cli
from mae_desktop.app import files as files_mod
from mae_desktop.app import main_window as main_window_mod
from mae_desktop.app import run as run_mod
from mae_desktop.core import launch_files
from mae_desktop.core.launch_files import UNKNOWN_KIND, plan_launch
from mae_desktop.engine import masks
from mae_desktop.paths import default_model
from tests.app.conftest import settle
from tests.app.gui import finish, start_main

pytestmark = pytest.mark.skipif(default_model() is None, reason="no bundled model")


@pytest.fixture
def launch(qtbot, new_window):
    """Start a window as `mae-desktop` does with these plain files (and options); returns
    (window, the errors it showed)."""

    def start(*files, checkpoint=None, image=None, dialogs=False):
        win = new_window("launched")
        win.dialogs_enabled = dialogs
        errors: list[str] = []
        win.error_shown.connect(errors.append)
        plan = plan_launch([str(f) for f in files], checkpoint, image)
        run_mod.start_window(checkpoint, image, win, plan)
        return win, errors

    return start


def test_files_are_told_apart_as_the_file_menu_tells_them():
    """The command line's kinds and the File menu's (drag and drop, recent files) agree."""
    assert launch_files.IMAGE_SUFFIXES == files_mod.IMAGE_SUFFIXES
    assert launch_files.CHECKPOINT_SUFFIXES == files_mod.CHECKPOINT_SUFFIXES


def test_an_image_and_a_checkpoint_open_over_the_start(qtbot, launch, hf_pair, photo):
    win, errors = launch(photo, hf_pair[1])
    qtbot.waitUntil(
        lambda: win.editor.model is not None and win.editor.model["path"] == str(hf_pair[1]),
        timeout=30000,
    )
    settle(qtbot, win)
    assert win.editor.image_path == str(photo)
    assert win.live.is_current(win.live.shown)  # the result on screen is of those two
    assert "photo.png" in win.windowTitle() and errors == []


def test_files_that_cannot_be_opened_are_shown_and_the_start_stays(
    qtbot, launch, tmp_path, monkeypatch
):
    dialogs: list[str] = []
    monkeypatch.setattr(
        main_window_mod.QMessageBox, "warning", lambda _parent, _title, text: dialogs.append(text)
    )
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    (tmp_path / "notes.txt").write_text("hello")
    win, errors = launch(tmp_path / "gone.png", broken, tmp_path / "notes.txt", dialogs=True)
    qtbot.waitUntil(lambda: len(errors) == 3, timeout=30000)
    settle(qtbot, win)
    assert dialogs == errors  # each one in the window's error dialog
    # broken.png is opened as File ▸ Open image opens it, decoded off the GUI thread: refused
    # when its decoding fails, after the two found at once
    assert "broken.png" in errors[2]
    assert errors[:2] == [
        f"cannot open {tmp_path / 'gone.png'}: no such file or folder",
        f"cannot open {tmp_path / 'notes.txt'}: {UNKNOWN_KIND}",
    ]
    # the app started all the same, on the bundled model and sample
    assert Path(win.editor.image_path).name == run_mod.DEFAULT_SAMPLE
    assert win.editor.model["path"] == str(default_model())
    assert win.live.shown is not None and win.live.is_current(win.live.shown)


def test_of_several_images_the_first_opens_and_the_status_bar_counts_the_rest(
    qtbot, launch, photo, tmp_path
):
    others = [tmp_path / "a.png", tmp_path / "b.png"]
    for other in others:
        shutil.copy(photo, other)
    win, errors = launch(photo, *others)
    qtbot.waitUntil(lambda: "not opened" in win.statusBar().currentMessage(), timeout=30000)
    assert win.editor.image_path == str(photo) and errors == []
    message = win.statusBar().currentMessage()
    assert message.startswith("2 other images not opened") and "photo.png is open" in message


def test_a_session_reopens_its_image_checkpoint_and_mask(qtbot, window, launch, tmp_path):
    m = masks.random_mask((4, 4), 0.5, 5)
    window.editor.set_mask(m)
    settle(qtbot, window)
    session = tmp_path / "work.json"
    window.files.save_session_file(session)
    extra = tmp_path / "extra.png"
    shutil.copy(window.editor.image_path, extra)
    win, errors = launch(extra, session)
    qtbot.waitUntil(lambda: "not opened" in win.statusBar().currentMessage(), timeout=30000)
    e = win.editor
    assert e.model["path"] == window.editor.model["path"]
    assert e.image_path == window.editor.image_path and (e.mask == m).all()
    assert (win.live.shown.request.mask == m).all() and errors == []
    assert "the session work.json opens its own" in win.statusBar().currentMessage()


def test_the_command_line_starts_the_app_even_when_a_file_cannot_be_opened(
    monkeypatch, capsys, photo, tmp_path
):
    started = []
    monkeypatch.setattr(run_mod, "run_app", lambda *a, **kw: started.append((a, kw)) or 0)
    gone = tmp_path / "gone.png"
    assert cli.main([str(gone), str(photo)]) == 0
    assert capsys.readouterr().err == (
        f"mae-desktop: error: cannot open {gone}: no such file or folder\n"
    )
    (args, kw) = started[0]
    assert args[:3] == (None, None, None)  # no --checkpoint, --image, --screenshot
    assert kw["launch"].image == str(photo) and kw["launch"].problems


def test_the_one_shot_modes_open_plain_files_and_name_the_platform(tmp_path, hf_pair, photo):
    ok = start_main("--self-test", photo, hf_pair[1])
    missing = start_main("--self-test", tmp_path / "gone.png")
    shot = tmp_path / "shot.png"
    screenshot = start_main(photo, "--screenshot", shot, "--size", "1024x700")
    result = finish(ok, timeout=90)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("self-test ok: vitmae (") and "image photo.png" in line
    assert line.endswith("on platform offscreen")
    result = finish(missing, timeout=90)
    lines = [ln for ln in result.stderr.splitlines() if "propagateSizeHints" not in ln]
    assert result.returncode == 1 and lines == [
        f"self-test FAILED: cannot open {tmp_path / 'gone.png'}: no such file or folder"
    ]
    result = finish(screenshot, timeout=90)
    assert result.returncode == 0, result.stderr
    with Image.open(shot) as im:
        assert im.size == (1024, 700)
        assert len(np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3), axis=0)) > 500
