"""The embedded engine on the real model: it serialises its own calls, hands the usage over with
the stream, frees itself when a stream is closed, and describes itself."""

import threading

import pytest

from storychat.llm.engine import Message

pytestmark = pytest.mark.model

MESSAGES = [Message("system", "You are terse."), Message("user", "Name three colours.")]


def answer_in_thread(engine, results: list) -> threading.Thread:
    def run():
        stream = engine.stream_chat(MESSAGES, max_tokens=4)
        results.append("".join(stream))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_the_usage_comes_with_the_stream_once_it_is_read(engine):
    stream = engine.stream_chat(MESSAGES, max_tokens=8)
    assert stream.usage is None
    text = "".join(stream)
    assert stream.usage.completion_tokens == engine.count(text) > 0
    assert 0 < stream.usage.prompt_evaluated <= stream.usage.prompt_tokens
    assert stream.usage.prompt_tokens > engine.count("You are terse.Name three colours.")


def test_a_second_caller_waits_until_the_answer_in_progress_ends(engine):
    first = iter(engine.stream_chat(MESSAGES, max_tokens=16))
    next(first)  # generating: the engine is busy
    results = []
    waiting = answer_in_thread(engine, results)
    # Unserialised, the second answer (4 tokens from a warm prefix) would be done well within this.
    waiting.join(timeout=10)
    assert waiting.is_alive() and results == []
    list(first)  # the first answer ends, and frees the engine
    waiting.join(timeout=120)
    assert not waiting.is_alive() and results and results[0]


def test_closing_a_stream_part_way_frees_the_engine_for_the_next_answer(engine):
    stream = engine.stream_chat(MESSAGES, max_tokens=64)
    pieces = iter(stream)
    next(pieces)
    stream.close()  # what Stop in the UI does
    assert stream.usage is None
    results = []
    answer_in_thread(engine, results).join(timeout=120)
    assert results and results[0]


def test_the_engine_describes_itself_with_its_own_facts(engine):
    info = engine.info()
    report = engine.report()
    assert report[0].startswith(f"Model: {info.model}, context {info.n_ctx:,} model tokens")
    assert any(line.startswith("Flash attention:") for line in report)
    assert any("Largest context that fits" in line for line in report)
    assert f"context {info.n_ctx} tokens" in info.startup_line() and "KV cache" in info.startup_line()


def test_a_turn_deep_in_the_context_is_timed_and_the_next_answer_reuses_none_of_its_filler(engine):
    deep = engine.turn_speed(depth=200, turn=20, decode=4)
    assert deep.depth == 200 and deep.turn_s > 0 and deep.decode_tps > 0
    stream = engine.stream_chat(MESSAGES, max_tokens=4)
    assert "".join(stream)
    assert stream.usage.prompt_evaluated == stream.usage.prompt_tokens
