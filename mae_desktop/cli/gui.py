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
