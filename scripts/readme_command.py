#!/usr/bin/env python3
"""Print one of the README's two Quick start commands, so that CI runs the README's own text.

    python3 scripts/readme_command.py app     # sets up and launches the app
    python3 scripts/readme_command.py tests   # sets up and runs the tests

The Quick start section holds exactly two ```bash blocks of one line each: the first
launches the app, the second runs the tests. Anything else is an error (exit 2), so the
README cannot drift into a shape this script (and CI) would misread. Standard library only:
CI runs it before any virtual environment exists.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
WHICH = {"app": 0, "tests": 1}


def quick_start_commands(text: str) -> list[str]:
    """The one-line ```bash blocks of the README's '## Quick start' section, in order,
    up to its first '**' paragraph (the step-by-step notes that follow hold other blocks)."""
    match = re.search(r"^## Quick start\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if not match:
        raise ValueError("README.md has no '## Quick start' section")
    section = match.group(1).split("\n**", 1)[0]
    blocks = re.findall(r"^```bash\n(.*?)^```$", section, re.S | re.M)
    commands = [b.strip() for b in blocks]
    if len(commands) != 2 or any("\n" in c or not c for c in commands):
        raise ValueError(
            "the Quick start section must hold exactly two one-line ```bash blocks "
            f"(found {len(commands)})"
        )
    return commands


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in WHICH:
        print("usage: readme_command.py app|tests", file=sys.stderr)
        return 2
    try:
        print(quick_start_commands(README.read_text(encoding="utf-8"))[WHICH[argv[0]]])
    except (OSError, ValueError) as exc:
        print(f"readme_command.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
