"""Start-up cost of the app, against the bare imports it cannot avoid.

Each row is the median of `--runs` warm runs (one unmeasured run first fills the disk
cache), in seconds from the moment the process is started:

  bare imports       `python -c "import torch, PySide6.QtWidgets, pyqtgraph"`
  help               `python main.py --help` (imports neither torch nor Qt)
  window visible     `python main.py` on an X server until a window named "MAE Desktop" is
                     mapped (polled through libX11 every 5 ms); fresh settings
  first result       `python main.py --self-test`, until its line is printed
  screenshot         `python main.py --screenshot PATH`, until the process has exited

Also prints the ratios the targets are about: window / bare imports (target <= 0.5) and
screenshot - bare imports (target <= 0.6 s).

Needs an X server for the window row: DISPLAY (default :99; start one with
`Xvfb :99 -screen 0 1600x1000x24 &`) and libX11. Without them that row is skipped.

    python benchmarks/bench_startup.py [--runs 3] [--json] [--app CHECKOUT ...]

(--app twice, e.g. an export of the previous commit and this checkout, compares them with
their runs interleaved: on a busy machine that is fairer than two separate runs.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
MAIN = str(ROOT / "main.py")


def _env(config: str, display: str | None) -> dict[str, str]:
    env = {**os.environ, "XDG_CONFIG_HOME": config, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("QT_QPA_PLATFORM", None)
    if display:
        env["DISPLAY"] = display
    else:
        env.pop("DISPLAY", None)
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def time_command(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> float:
    """Seconds from start to exit; raises when the command fails."""
    t0 = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, cwd=cwd)
    seconds = time.perf_counter() - t0
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return seconds


class _X11:
    """Polls an X server for a mapped top-level window by name, in-process (libX11 through
    ctypes: a poll costs microseconds, where spawning xdotool would take the app's CPU)."""

    def __init__(self, display: str) -> None:
        import ctypes
        import ctypes.util

        c = ctypes
        lib = c.util.find_library("X11")
        if lib is None:
            raise OSError("libX11 not found")
        x = c.CDLL(lib)
        x.XOpenDisplay.restype = c.c_void_p
        x.XOpenDisplay.argtypes = [c.c_char_p]
        x.XDefaultRootWindow.restype = c.c_ulong
        x.XDefaultRootWindow.argtypes = [c.c_void_p]
        x.XQueryTree.argtypes = (
            [c.c_void_p, c.c_ulong]
            + [c.c_void_p] * 2
            + [
                c.POINTER(c.POINTER(c.c_ulong)),
                c.POINTER(c.c_uint),
            ]
        )
        x.XFetchName.argtypes = [c.c_void_p, c.c_ulong, c.POINTER(c.c_char_p)]
        x.XFree.argtypes = [c.c_void_p]

        class Attributes(c.Structure):
            _fields_ = (
                *((n, c.c_int) for n in ("x", "y", "w", "h", "border", "depth")),
                ("visual", c.c_void_p),
                ("root", c.c_ulong),
                *((n, c.c_int) for n in ("cls", "bit_gravity", "win_gravity", "store")),
                ("planes", c.c_ulong),
                ("pixel", c.c_ulong),
                ("save_under", c.c_int),
                ("colormap", c.c_ulong),
                ("map_installed", c.c_int),
                ("map_state", c.c_int),
                ("all_events", c.c_long),
                ("your_events", c.c_long),
                ("no_propagate", c.c_long),
                ("override", c.c_int),
                ("screen", c.c_void_p),
            )

        x.XGetWindowAttributes.argtypes = [c.c_void_p, c.c_ulong, c.POINTER(Attributes)]
        self.c, self.x, self.Attributes = c, x, Attributes
        self.dpy = x.XOpenDisplay(display.encode())
        if not self.dpy:
            raise OSError(f"cannot open display {display}")
        self.root = x.XDefaultRootWindow(self.dpy)

    def visible(self, name: str) -> bool:
        """A mapped (viewable) child of the root window whose title contains name."""
        c, x = self.c, self.x
        root, parent = c.c_ulong(), c.c_ulong()
        children, count = c.POINTER(c.c_ulong)(), c.c_uint()
        if not x.XQueryTree(
            self.dpy, self.root, c.byref(root), c.byref(parent), c.byref(children), c.byref(count)
        ):
            return False
        try:
            for i in range(count.value):
                title = c.c_char_p()
                if not x.XFetchName(self.dpy, children[i], c.byref(title)) or not title.value:
                    continue
                found = name.encode() in title.value
                x.XFree(title)
                attrs = self.Attributes()
                if (
                    found
                    and x.XGetWindowAttributes(self.dpy, children[i], c.byref(attrs))
                    and attrs.map_state == 2  # IsViewable
                ):
                    return True
        finally:
            if children:
                x.XFree(children)
        return False


def time_window(main: str, env: dict[str, str], display: str, timeout_s: float = 60.0) -> float:
    """Seconds from start until the app's window is mapped; the app is then killed."""
    x11 = _X11(display)
    if x11.visible("MAE Desktop"):
        raise RuntimeError("a window named MAE Desktop is already open on " + display)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [PY, main],
        env=env,
        cwd=Path(main).parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not x11.visible("MAE Desktop"):
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited ({proc.returncode}) before its window")
            if time.perf_counter() - t0 > timeout_s:
                raise RuntimeError("no window within the time limit")
            time.sleep(0.005)
        return time.perf_counter() - t0
    finally:
        proc.kill()  # (only the time to the window is measured here)
        proc.wait()


def time_first_result(main: str, env: dict[str, str]) -> float:
    """Seconds from start until --self-test prints its line (the first result drawn)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [PY, main, "--self-test"],
        env=env,
        cwd=Path(main).parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    seconds = time.perf_counter() - t0
    proc.wait()
    if proc.returncode or not line.startswith("self-test ok"):
        raise RuntimeError(f"--self-test failed: {line.strip()}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--display", default=os.environ.get("DISPLAY") or ":99")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--app",
        type=Path,
        action="append",
        help="a checkout whose main.py to measure (repeatable: the runs are interleaved; "
        "default: this one)",
    )
    args = parser.parse_args()
    apps = [str(a.resolve() / "main.py") for a in args.app] if args.app else [MAIN]
    config = tempfile.mkdtemp()
    shot = str(Path(config) / "shot.png")
    offscreen = _env(config, None)
    display: str | None = args.display
    try:
        _X11(args.display)
    except OSError as exc:
        print(f"(no window row: {exc})", file=sys.stderr)
        display = None
    on_x = _env(config, display) if display else {}
    bare = [PY, "-c", "import torch, PySide6.QtWidgets, pyqtgraph"]
    rows: dict[str, Callable[[str], float]] = {
        "bare imports": lambda main: time_command(bare, offscreen),
        "help": lambda main: time_command([PY, main, "--help"], offscreen),
        "window visible": lambda main: time_window(main, on_x, display),
        "first result (self-test)": lambda main: time_first_result(main, offscreen),
        "screenshot": lambda main: time_command([PY, main, "--screenshot", shot], offscreen),
    }
    if not display:
        del rows["window visible"]
    times: dict[tuple[str, str], list[float]] = {}
    try:
        for run in range(args.runs + 1):  # the first run warms the disk cache: not counted
            for name, measure in rows.items():
                for main in apps[:1] if name == "bare imports" else apps:
                    try:
                        seconds = measure(main)
                    except RuntimeError as exc:
                        print(f"{name} ({main}): {exc}", file=sys.stderr)
                        continue
                    if run:
                        times.setdefault((name, main), []).append(seconds)
    finally:
        shutil.rmtree(config, ignore_errors=True)
    bare_s = statistics.median(times[("bare imports", apps[0])])
    results: dict[str, dict[str, float]] = {}
    for main in apps:
        row = {"bare imports": bare_s}
        for name in rows:
            if (name, main) in times and name != "bare imports":
                row[name] = statistics.median(times[(name, main)])
        if "window visible" in row:
            row["window / bare imports"] = row["window visible"] / bare_s
        if "screenshot" in row:
            row["screenshot - bare imports"] = row["screenshot"] - bare_s
        results[main] = row
    if args.json:
        print(json.dumps({m: {k: round(v, 3) for k, v in r.items()} for m, r in results.items()}))
        return 0
    for main in apps:
        print(main if len(apps) > 1 else f"{main} (medians of {args.runs})")
        for name, value in results[main].items():
            unit = "" if "/" in name else " s"
            print(f"  {name:28s} {value:7.3f}{unit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
