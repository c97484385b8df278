"""Small helpers shared by the docks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtWidgets import QWidget


@contextmanager
def quiet(*widgets: QWidget) -> Iterator[None]:
    """Set widget values from the state without their change signals echoing back."""
    old = [w.blockSignals(True) for w in widgets]
    try:
        yield
    finally:
        for w, was in zip(widgets, old, strict=True):
            w.blockSignals(was)


def noun(n: int, word: str) -> str:
    """The word for n things: noun(1, 'patch') -> 'patch', noun(2, 'patch') -> 'patches'
    (regular English nouns only)."""
    if n == 1:
        return word
    return word + ("es" if word.endswith(("s", "sh", "ch", "x", "z")) else "s")


def plural(n: int, word: str) -> str:
    """'1 patch', '2 patches', '0 seeds'."""
    return f"{n} {noun(n, word)}"
