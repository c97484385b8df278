"""A minimal observer: the Qt-free core announces changes; views subscribe."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any


class Event:
    """Callbacks called in order, on the thread that emits (the GUI thread in the app).

    Named after what happened (`mask_changed`); handlers are `_on_<event>`.
    """

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []
        self._held: list[tuple[Any, ...]] | None = None  # emits kept back (see `held`)

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Subscribe; returns the callback (usable as a decorator)."""
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any]) -> None:
        self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        if self._held is not None:
            self._held.append(args)
            return
        for callback in list(self._callbacks):
            callback(*args)

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {len(self._callbacks)} subscribers)"


@contextlib.contextmanager
def held(events: Sequence[Event]) -> Iterator[None]:
    """Hold back the events' emits while the block runs. When it ends normally, each event
    that fired is emitted once, in the order given (the arguments of an event emitted with
    frozensets are united; otherwise the last emit's arguments are used), so subscribers see
    the final state only. When the block raises, nothing is emitted."""
    fresh = [e for e in events if e._held is None]  # an outer `held` keeps the rest
    for e in fresh:
        e._held = []
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        pending = [(e, e._held) for e in fresh]
        for e in fresh:
            e._held = None
        if not failed:
            for e, emits in pending:
                if emits:
                    e.emit(*_merged(emits))


def _merged(emits: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    if all(len(a) == 1 and isinstance(a[0], frozenset) for a in emits):
        return (frozenset().union(*(a[0] for a in emits)),)
    return emits[-1]
