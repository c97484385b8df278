"""The thin Qt bridge: worker items (Results, Progress) travel to the GUI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Qt, Signal


class LaneBridge(QObject):
    """`post(item)` from the worker thread; `receiver(items)` runs on the GUI thread with
    everything that arrived since it last ran, in order.

    One queued signal wakes the GUI per batch, so a GUI thread that falls behind a fast
    model handles a burst at once (and draws only its newest result) instead of drawing
    each. Parented to the window so that its C++ object is never destroyed by the worker
    thread dropping the last Python reference.
    """

    _wake = Signal()

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._items: list[object] = []
        self._receiver: Callable[[Sequence[object]], None] | None = None
        # queued even from the GUI thread: a receiver never runs inside a submit
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    def connect_receiver(self, receiver: Callable[[Sequence[object]], None]) -> None:
        self._receiver = receiver

    def post(self, item: object) -> None:
        """Any thread: queue an item; wake the GUI thread if it is not already woken."""
        with self._lock:
            self._items.append(item)
            wake = len(self._items) == 1
        if wake:
            self._wake.emit()

    def _drain(self) -> None:
        with self._lock:
            items, self._items = self._items, []
        if items and self._receiver is not None:
            self._receiver(items)
