"""An event stream run on a thread, so its reader hears the clock tick while the stream is silent."""

from __future__ import annotations

import queue
import threading
from typing import Iterator, TypeVar

T = TypeVar("T")
_END = object()


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


def ticking(events: Iterator[T], every_s: float = 1.0) -> Iterator[T | None]:
    """Each event of ``events``, and ``None`` whenever ``every_s`` seconds pass without one.

    ``events`` runs on its own thread, so a silent stretch (the model reading its
    prompt) can still be shown as time passing. Closing this iterator stops
    ``events`` at its next event, on that thread (a generator closes where it runs).
    """
    box: queue.Queue = queue.Queue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for event in events:
                box.put(event)
                if stop.is_set():
                    break
        except BaseException as exc:  # handed to the reader, who raises it
            box.put(_Raised(exc))
        finally:
            getattr(events, "close", lambda: None)()
            box.put(_END)

    threading.Thread(target=pump, daemon=True, name="ticking").start()
    try:
        while True:
            try:
                item = box.get(timeout=every_s)
            except queue.Empty:
                yield None
                continue
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
