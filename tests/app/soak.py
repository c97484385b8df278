"""A painting soak in the real window, offscreen: `python -m tests.app.soak CHECKPOINT N`.

Alternating mask and unmask strokes over the canvas until N mask edits have happened;
prints "edits drawn mismatched" (mismatched: the display not for the final mask)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QEvent, QEventLoop, QSettings, Qt

from mae_desktop.app.main_window import MainWindow
from mae_desktop.app.run import make_app
from mae_desktop.paths import package_resources
from tests.app.gui import mouse, widget_pos


def main(checkpoint: str, target: int) -> int:
    app = make_app()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings)
    win.dialogs_enabled = False
    win.resize(900, 560)
    win.show()
    drawn, edits = [], [0]
    win.analysis_drawn.connect(drawn.append)
    win.editor.mask_changed.connect(lambda: edits.__setitem__(0, edits[0] + 1))
    win.files.open_checkpoint(checkpoint)
    win.files.open_image(package_resources() / "samples" / "astronaut.png")
    while not drawn:
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    h, w = win.editor.image.shape[:2]
    vp = win.canvas.viewport()
    none = Qt.MouseButton.NoButton
    stroke = 0
    while edits[0] < target:
        button = Qt.MouseButton.LeftButton if stroke % 2 == 0 else Qt.MouseButton.RightButton
        row = (stroke // 2) % win.editor.grid[0]
        y = (row + 0.5) * h / win.editor.grid[0]
        points = [widget_pos(win, (i + 0.5) * w / 16, y) for i in range(16)]
        mouse(vp, QEvent.Type.MouseButtonPress, points[0], button, button)
        for i, p in enumerate(points[1:]):
            mouse(vp, QEvent.Type.MouseMove, p, none, button)
            if i % 8 == 7:  # results arrive and are drawn while the stroke goes on
                app.processEvents()
        mouse(vp, QEvent.Type.MouseButtonRelease, points[-1], button, none)
        app.processEvents()
        stroke += 1
    while win.live.busy:
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    mismatched = int(not (win.live.shown.request.mask == win.editor.mask).all())
    win.close()
    print(edits[0], len(drawn), mismatched)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], int(sys.argv[2])))
