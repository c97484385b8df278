"""No command: launch the desktop app (or its screenshot and self-test modes), opening the
files given as plain arguments (`mae-desktop [options] FILE...`)."""

from __future__ import annotations

import argparse
import sys

from ..engine.errors import MAEError
from .arguments import PROG


def cmd_gui(args: argparse.Namespace) -> int:
    """Plan what the files open (core.launch_files: a conflict with --image/--checkpoint is
    a usage error, exit 2), say on stderr which files cannot be opened (the window shows it
    too: started from a desktop launcher, stderr is seen by nobody), then run the app."""
    from ..core.launch_files import LaunchConflict, plan_launch

    if args.size and not args.screenshot:
        raise MAEError("--size sets the window size of --screenshot: give --screenshot PATH")
    if args.screenshot:
        _check_screenshot(args.screenshot)
    try:
        launch = plan_launch(getattr(args, "files", []), args.app_checkpoint, args.app_image)
    except LaunchConflict as exc:
        from .parser import build_parser

        build_parser().error(str(exc))  # exits 2
    one_shot = args.self_test or args.screenshot
    if not one_shot:  # (the one-shot modes stop at the first problem and say it)
        for message in launch.messages:
            print(f"{PROG}: error: {message}", file=sys.stderr)

    from ..app.run import run_app, run_self_test

    if args.self_test:
        return run_self_test(args.app_checkpoint, args.app_image, launch=launch)
    return run_app(
        args.app_checkpoint, args.app_image, args.screenshot, size=args.size, launch=launch
    )


def _check_screenshot(name: str) -> None:
    """--screenshot writes a PNG: a name without a suffix is fine (it is written as PNG);
    another suffix, or a folder that cannot be written, is refused before the window opens."""
    from pathlib import Path

    from ..engine.files import writable_folder

    path = Path(name)
    if path.suffix and path.suffix.lower() != ".png":
        raise MAEError(f"--screenshot writes a PNG image: give a .png name, not {path.name}")
    if path.is_dir():
        raise MAEError(f"--screenshot {name} is a folder; give a file name")
    writable_folder(path.parent if str(path.parent) else Path("."), "folder of --screenshot")
