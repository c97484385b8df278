"""Everything outside the Qt layer (mae_desktop.app) never imports Qt: the engine, the app
core, training, the CLI, session files, paths and the binding check."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import mae_desktop


def qt_free_modules() -> list[str]:
    """Every module of the package except mae_desktop.app.* and __main__."""
    names = []
    for info in pkgutil.walk_packages(mae_desktop.__path__, "mae_desktop."):
        if info.name.startswith("mae_desktop.app") or info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return names


def test_the_module_list_covers_the_core_and_the_engine():
    names = qt_free_modules()
    for expected in (
        "mae_desktop.engine.session",
        "mae_desktop.core.lane",
        "mae_desktop.core.editor",
        "mae_desktop.core.live",
        "mae_desktop.engine.sweep",
        "mae_desktop.cli",
        "mae_desktop.session_file",
        "mae_desktop.binding",
    ):
        assert expected in names


def test_qt_free_modules_import_no_qt():
    modules = qt_free_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "from mae_desktop.cli import build_parser; build_parser()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'pyqtgraph')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
