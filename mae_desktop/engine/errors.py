"""The one exception type for errors a user can cause (bad file, wrong format, no decoder)."""

from __future__ import annotations


class MAEError(Exception):
    """A problem with the user's input, explained in one line.

    The message says what was found and what was expected. The CLI prints it and exits 1;
    the app shows it in a dialog and keeps its previous state.
    """


def known_cause(exc: BaseException) -> str | None:
    """The one line for a failure whose cause is known though it is not an MAEError (a
    full disk, a file that vanished or cannot be read, memory that ran out, input nested
    too deeply to walk); None for anything else (a bug: reported as an internal error)."""
    import errno

    if isinstance(exc, MemoryError):
        return "not enough memory for this task"
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to be read"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
            return f"the disk is full{where}"
        return f"{exc.strerror or exc}{where}"
    return None
