"""Names, paths and the error that the licensing modules share."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIST = "mae-desktop"
PROGRAM = "mae-desktop"


class LicenceError(Exception):
    """Something bundled whose licence cannot be told."""


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
