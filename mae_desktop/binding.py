"""Qt binding releases known to crash, checked without importing Qt.

PySide6/shiboken6 6.12.0 on Python < 3.12 drops one reference to ``True`` on every
``Signal.emit()``; after about 11,000 emits the interpreter aborts ("bool_dealloc:
deallocating True or False"). Python 3.12 made ``True`` immortal, so it is not affected.
pyproject.toml excludes the pair; the installers' build refuses it; the app warns.
"""

from __future__ import annotations

import sys
from importlib import metadata

# (binding version, first Python version NOT affected)
BROKEN = {"6.12.0": (3, 12)}


def binding_version() -> str | None:
    """The installed shiboken6 (PySide6's runtime) version, or None when absent."""
    try:
        return metadata.version("shiboken6")
    except metadata.PackageNotFoundError:
        return None


def binding_problem(
    version: str | None = None, python: tuple[int, int] | None = None
) -> str | None:
    """A one-line warning when this PySide6 + Python pair is known to abort, else None."""
    version = version if version is not None else binding_version()
    python = python or sys.version_info[:2]
    fixed_in = BROKEN.get(version or "")
    if fixed_in is None or tuple(python) >= fixed_in:
        return None
    return (
        f"PySide6 {version} on Python {python[0]}.{python[1]} aborts after about 11,000 Qt "
        "signals (a bug in that release); install another release, e.g. "
        "pip install 'PySide6-Essentials==6.11.3'"
    )
