"""The engine, the training code and the CLI never import Qt."""

from __future__ import annotations

import subprocess
import sys


def test_engine_imports_no_qt():
    code = (
        "import sys, mae_desktop.engine, mae_desktop.training.train, mae_desktop.cli;"
        "from mae_desktop.cli import build_parser; build_parser();"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'pyqtgraph')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
