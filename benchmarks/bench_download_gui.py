"""Does a download stall the window? (offscreen, against a throttled loopback server)

Opens the real window on the bundled model and sample, then downloads a checkpoint (the
bundled model by default, 6.8 MB) through Model ▸ Get pretrained models…'s dialog from a
loopback HTTP server throttled to `--rate` MB/s, while a 5 ms GUI timer records the gaps
between its ticks (a gap much above 5 ms is the GUI thread busy or blocked).

Prints one JSON line:
  download_s         click on Download -> the dialog reports the file downloaded and checked
  bytes              size of the file
  progress_updates_per_s   progress updates the GUI thread handled per second (about 10)
  gui_stall_p99_ms, gui_stall_max_ms   gaps of the 5 ms timer during the download
                                       (target: max under 50 ms)

    python benchmarks/bench_download_gui.py [--checkpoint PATH] [--rate 2.0]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer  # noqa: E402

from mae_desktop.app.download_dialog import DownloadDialog  # noqa: E402
from mae_desktop.app.main_window import MainWindow  # noqa: E402
from mae_desktop.app.run import make_app, start_window  # noqa: E402
from mae_desktop.engine.catalogue import find  # noqa: E402
from mae_desktop.paths import default_model  # noqa: E402
from tests.loopback import Loopback  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 1) if values else math.nan


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="file to serve (default: the bundled model)")
    parser.add_argument("--rate", type=float, default=2.0, help="server speed, MB/s")
    args = parser.parse_args()
    source = Path(args.checkpoint) if args.checkpoint else default_model()
    if source is None:
        print("no bundled model: pass --checkpoint PATH", file=sys.stderr)
        return 1
    data = source.read_bytes()

    make_app()
    tmp = Path(tempfile.mkdtemp(prefix="bench-download-"))
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings)
    win.dialogs_enabled = False
    win.resize(1400, 850)
    loop = QEventLoop()
    win.analysis_drawn.connect(lambda _id: loop.quit())
    start_window(None, None, win)
    loop.exec()

    with Loopback({"/" + source.name: data}) as server:
        server.rate = args.rate * 1e6
        entry = dataclasses.replace(
            find("mae-vit-base-visualize"), url=server.url("/" + source.name)
        )
        dialog = DownloadDialog(win, win.files, (entry,), tmp / "cache")
        dialog.confirm_licence = lambda _entry: True
        dialog.show()
        dialog.table.selectRow(0)
        updates: list[float] = []
        dialog._relay.progressed.connect(lambda *_a: updates.append(time.perf_counter()))

        gaps: list[float] = []
        last = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append((now - last[0]) * 1000.0)
            last[0] = now

        probe = QTimer()
        probe.setTimerType(Qt.TimerType.PreciseTimer)
        probe.timeout.connect(tick)
        outcome: list[str] = []
        done = QEventLoop()
        dialog.download_finished.connect(lambda p: (outcome.append(p), done.quit()))
        dialog.download_failed.connect(lambda m, _c: (outcome.append("failed: " + m), done.quit()))
        last[0] = time.perf_counter()
        probe.start(5)
        start = time.perf_counter()
        dialog.download_button.click()
        done.exec()
        seconds = time.perf_counter() - start
        probe.stop()
    dialog.close()
    win.close()
    ok = bool(outcome) and not outcome[0].startswith("failed")
    span = (updates[-1] - updates[0]) if len(updates) > 1 else math.nan
    print(
        json.dumps(
            {
                "ok": ok if ok else outcome,
                "download_s": round(seconds, 2),
                "bytes": len(data),
                "server_rate_mb_s": args.rate,
                "progress_updates_per_s": round((len(updates) - 1) / span, 1),
                "gui_stall_p99_ms": percentile(gaps, 99),
                "gui_stall_max_ms": round(max(gaps), 1) if gaps else math.nan,
                "ticks": len(gaps),
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
