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
