"""Fixtures for the Qt tests: a main window on the small test model, dialogs off."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from mae_desktop.app.run import make_app


@pytest.fixture
def window(qtbot, tmp_path, hf_pair, photo):
    from mae_desktop.app.main_window import MainWindow

    make_app()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings)
    win.dialogs_enabled = False
    qtbot.addWidget(win)
    win.resize(1200, 700)
    win.show()
    with qtbot.waitSignal(win.analysis_drawn, timeout=30000):
        win.open_checkpoint(hf_pair[1])
        win.open_image(photo)
    yield win
    win.close()
