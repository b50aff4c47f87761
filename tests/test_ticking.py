"""ticking: an event stream on a thread, with a tick for each silent second."""

import threading
import time

import pytest

from storychat.ui.ticking import ticking


def slow(events: list, pause_s: float, closed: threading.Event):
    try:
        for event in events:
            time.sleep(pause_s)
            yield event
    finally:
        closed.set()


def test_a_silent_stretch_reads_as_ticks_between_the_events():
    closed = threading.Event()
    seen = list(ticking(slow(["a", "b"], 0.35, closed), every_s=0.1))
    assert [x for x in seen if x is not None] == ["a", "b"] and seen.count(None) >= 4 and closed.is_set()


def test_closing_the_reader_stops_the_stream_at_its_next_event():
    closed = threading.Event()
    reader = ticking(slow(range(1000), 0.01, closed), every_s=1)
    assert next(reader) == 0
    reader.close()
    assert closed.wait(2)


def test_an_error_in_the_stream_reaches_the_reader():
    def failing():
        yield 1
        raise ValueError("bad question")

    reader = ticking(failing())
    assert next(reader) == 1
    with pytest.raises(ValueError, match="bad question"):
        next(reader)
