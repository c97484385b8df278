"""The Qt binding survives what a long painting session does: 100,000 signal emits, and
a soak of thousands of paint edits through the real window (each in a child process, so
an abort is a failed test, not a dead test run)."""

from __future__ import annotations

import subprocess
import sys

from mae_desktop.binding import binding_problem
from tests.app.gui import ROOT

EMITS = """
from PySide6.QtCore import QObject, Signal

class O(QObject):
    s0 = Signal()
    s1 = Signal(object)

o = O()
for i in range(100_000):
    o.s0.emit()
    o.s1.emit(i)
print("survived")
"""


def test_100000_signal_emits_do_not_abort_the_interpreter():
    result = subprocess.run(
        [sys.executable, "-c", EMITS], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "survived"


def test_the_known_broken_binding_is_named():
    assert binding_problem("6.12.0", (3, 11)) is not None
    assert "6.12.0" in binding_problem("6.12.0", (3, 11))
    assert binding_problem("6.12.0", (3, 12)) is None
    assert binding_problem("6.11.3", (3, 11)) is None
    assert binding_problem() is None  # the binding installed here is a good one


def test_a_soak_of_5000_paint_edits_through_the_window(hf_pair):
    result = subprocess.run(
        [sys.executable, "-m", "tests.app.soak", str(hf_pair[1]), "5000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    edits, drawn, mismatched = map(int, result.stdout.split()[-3:])
    assert edits >= 5000 and drawn > 0 and mismatched == 0
