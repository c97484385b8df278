"""The command line: `mae-desktop [reconstruct|info|train|evaluate|download] ...`; no command:
the app, opening the files given (`mae-desktop [options] FILE...`, see parser.py).

Exit codes: 0 success, 2 usage error (argparse), 1 bad input (a one-line message on stderr;
a traceback only with --debug).
"""

from __future__ import annotations

import sys

from ..engine.errors import MAEError, known_cause
from .arguments import PROG
from .gui import cmd_gui
from .parser import build_parser, parse_command_line
from .reconstruct import _unique_dirs

__all__ = ["PROG", "_unique_dirs", "build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = parse_command_line(argv)
    func = getattr(args, "func", cmd_gui)
    try:
        return func(args)
    except MAEError as exc:
        if args.debug:
            raise
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except (OSError, MemoryError, RecursionError) as exc:  # a full disk, a vanished file
        if args.debug:
            raise
        print(f"{PROG}: error: {known_cause(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # an unexpected failure: one line, the details with --debug
        if args.debug:
            raise
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {exc} (run with --debug for "
            "the traceback)",
            file=sys.stderr,
        )
        return 1
