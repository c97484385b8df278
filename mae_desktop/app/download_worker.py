"""The download thread behind Model ▸ Get pretrained models… (no widgets).

A download runs on its own Python thread (network I/O, not the inference lane); its progress
comes back to the GUI thread through queued signals, at most about 10 times a second. The
GUI thread never waits on the network: Cancel and closing the dialog only set an Event that
the thread checks between chunks. Only `_Job._run` runs on the download thread.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from ..engine.catalogue import CatalogueEntry
from ..engine.download import DownloadCancelled
from ..engine.errors import MAEError
from ..engine.fetch import fetch

THROTTLE_S = 0.1  # progress reaches the GUI at most this often (about 10 updates a second)
RETRIES = 3  # in a row, before the dialog says so (1 + 2 + 4 s of waiting)


class _Relay(QObject):
    """Carries a job's news to the GUI thread (queued: emitted on the download thread).
    Sizes travel as Python objects: they pass 2**31."""

    progressed = Signal(int, object, object, float)  # job id, done, total or None, bytes/s
    status = Signal(int, str)  # job id, a phase or a retry
    finished = Signal(int, str)  # job id, path
    failed = Signal(int, str, bool)  # job id, message, cancelled


class _Job:
    """One download on a daemon thread. `detach()` (GUI thread) cancels it and stops every
    later signal, so nothing reaches a dialog that is gone."""

    def __init__(self, ident: int, entry: CatalogueEntry, root: Path, relay: _Relay, endpoint):
        self.ident, self.entry, self.root, self.relay = ident, entry, root, relay
        self.endpoint = endpoint
        self.cancel = threading.Event()
        self._lock = threading.Lock()
        self._detached = False
        self.reported = False  # its end reached the GUI thread (the thread may still be ending)
        self._last = 0.0
        self._latest: tuple[int, int | None, float] | None = None
        self.thread = threading.Thread(target=self._run, name=f"download {entry.name}", daemon=True)

    def alive(self) -> bool:
        return self.thread.is_alive()

    def detach(self) -> None:
        self.cancel.set()
        with self._lock:
            self._detached = True

    def _emit(self, signal, *args) -> None:
        with self._lock:  # held for the emit only: posting a queued signal does not block
            if not self._detached:
                signal.emit(self.ident, *args)

    def latest(self) -> tuple[int, int | None, float] | None:
        """The newest (done, total, rate), also the ones not sent (any thread)."""
        with self._lock:
            return self._latest

    def _progress(self, done: int, total: int | None, rate: float) -> None:
        with self._lock:
            self._latest = (done, total, rate)
        now = time.monotonic()
        if now - self._last >= THROTTLE_S or (total is not None and done >= total):
            self._last = now
            self._emit(self.relay.progressed, done, total, rate)

    def _run(self) -> None:  # the download thread
        try:
            path = fetch(
                self.entry,
                self.root,
                progress=self._progress,
                cancel=self.cancel,
                status=lambda text: self._emit(self.relay.status, text),
                retries=RETRIES,
                endpoint=self.endpoint,
            )
        except DownloadCancelled as exc:
            self._emit(self.relay.failed, str(exc), True)
        except MAEError as exc:
            self._emit(self.relay.failed, str(exc), False)
        except Exception as exc:  # never let the thread die silently
            self._emit(self.relay.failed, f"{type(exc).__name__}: {exc}", False)
        else:
            self._emit(self.relay.finished, str(path))
