"""Images decoded off the GUI thread: a 9000 x 9000 scan takes seconds to decode and convert,
and the window must keep drawing meanwhile.

One daemon thread decodes what `decode(path, done)` asks, newest first (a request made while
another waits replaces it: only the last image the user picked matters); `done(path,
image_or_error)` runs on the GUI thread, through a queued signal, with the 8-bit RGB image or
the exception that reading raised. Qt only for the signal; the decoding is the engine's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PIL import Image
from PySide6.QtCore import QObject, Qt, Signal

from ..engine.images import read_image

Done = Callable[[str, "Image.Image | BaseException"], None]


class ImageDecoder(QObject):
    """See the module docstring. Parented to the window (its C++ object then outlives the
    thread's last reference to it)."""

    _decoded = Signal(object)

    def __init__(self, parent: QObject, read: Callable[[str], Image.Image] = read_image) -> None:
        super().__init__(parent)
        self._read = read
        self._cond = threading.Condition()
        self._waiting: tuple[int, str, Done] | None = None
        self._serial = 0  # the newest request's number: older results are dropped
        self._running = 0  # requests taken by the thread and not yet delivered
        self._closed = False
        self._decoded.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._thread = threading.Thread(target=self._loop, name="image-decoder", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """An image asked for has not been delivered yet (GUI thread)."""
        with self._cond:
            return self._waiting is not None or self._running > 0

    def decode(self, path: str, done: Done) -> None:
        """Decode `path` on the thread; `done` follows on the GUI thread unless a newer
        decode was asked meanwhile."""
        with self._cond:
            self._serial += 1
            self._waiting = (self._serial, str(path), done)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed, self._waiting = True, None
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._waiting is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                serial, path, done = self._waiting
                self._waiting = None
                self._running += 1
            try:
                out: Image.Image | BaseException = self._read(path)
            except Exception as exc:  # MemoryError too: the GUI thread reports it
                out = exc
            try:
                self._decoded.emit((serial, path, done, out))
            except RuntimeError:  # the window is gone
                return

    def _deliver(self, item: tuple[int, str, Done, Image.Image | BaseException]) -> None:
        serial, path, done, out = item
        with self._cond:
            self._running -= 1
            newest = serial == self._serial and not self._closed
        if newest:
            done(path, out)


__all__ = ["ImageDecoder"]
