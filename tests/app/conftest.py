"""Fixtures for the Qt tests: a main window on the small test model, dialogs off."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from mae_desktop.app.run import make_app


def settle(qtbot, win, timeout: int = 30000) -> None:
    """Wait until nothing is outstanding on the worker and its newest result is drawn."""
    qtbot.waitUntil(lambda: win.up_to_date, timeout=timeout)


@pytest.fixture
def new_window(qtbot, tmp_path):
    """A factory of windows on their own settings files (closed at the end)."""
    from mae_desktop.app.main_window import MainWindow

    make_app()

    def make(name: str = "settings") -> MainWindow:
        settings = QSettings(str(tmp_path / f"{name}.ini"), QSettings.Format.IniFormat)
        win = MainWindow(settings)
        win.dialogs_enabled = False
        qtbot.addWidget(win)
        win.resize(1200, 700)
        return win

    return make


@pytest.fixture
def window(qtbot, new_window, hf_pair, photo):
    win = new_window()
    win.show()
    with qtbot.waitSignal(win.analysis_drawn, timeout=30000):
        win.files.open_checkpoint(hf_pair[1])
        win.files.open_image(photo)
    settle(qtbot, win)
    yield win
    win.close()
