"""No command: launch the desktop app (or its screenshot and self-test modes)."""

from __future__ import annotations

import argparse

from ..engine.errors import MAEError


def cmd_gui(args: argparse.Namespace) -> int:
    from ..app.run import run_app, run_self_test

    if args.self_test:
        return run_self_test(args.app_checkpoint, args.app_image)
    if args.size and not args.screenshot:
        raise MAEError("--size sets the window size of --screenshot: give --screenshot PATH")
    return run_app(args.app_checkpoint, args.app_image, args.screenshot, size=args.size)
