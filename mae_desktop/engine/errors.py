"""The one exception type for errors a user can cause (bad file, wrong format, no decoder)."""

from __future__ import annotations


class MAEError(Exception):
    """A problem with the user's input, explained in one line.

    The message says what was found and what was expected. The CLI prints it and exits 1;
    the app shows it in a dialog and keeps its previous state.
    """
