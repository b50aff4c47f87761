"""A KV state over 2 GiB saves, restores and answers, and a restored context continues exactly as the cold one.

The model is generated (tests/fixtures/make_gguf.py, shape "wide-kv"): 32 values
wide but with 64 KV heads of 1024 in 40 layers, 10 MiB of f16 KV a token, so a
256-token context holds 2.5 GiB and a ~240-token prompt leaves a state past
the 2 GiB that ``ctypes.string_at`` and Python's bytes could not take.
"""

import gc

import numpy as np
import pytest

from storychat.llm.engine import Message
from storychat.llm.kvcache import KVCache
from storychat.llm.llama import EngineOptions, LlamaEngine

pytestmark = pytest.mark.model
SYSTEM = "Answer from these stories.\n" + "As a moderator, I want to export a game, so that I can keep it. " * 11


@pytest.fixture(scope="module")
def wide_model(generated_model):
    return generated_model("wide-kv")


@pytest.fixture
def cache_dir(tmp_path):
    yield tmp_path
    for path in tmp_path.glob("*"):  # gigabytes: do not leave them to pytest's kept temp folders
        path.unlink()


def engine(model, cache_dir, read_speed) -> LlamaEngine:
    cache = KVCache(cache_dir, disk_bytes=8 << 30, ram_bytes=0, read_bytes_per_s=read_speed)
    return LlamaEngine(model, EngineOptions(n_ctx=256, cache=cache))


def ask(engine: LlamaEngine, question: str):
    stream = engine.stream_chat([Message("system", SYSTEM), Message("user", question)], max_tokens=4)
    return "".join(stream), stream.usage


def next_token_logits(engine: LlamaEngine, question: str) -> np.ndarray:
    """The logits after the question's prompt, recomputed from the context's own KV for its last token."""
    llm = engine._llm
    prompt, _ = engine._prompt([Message("system", SYSTEM), Message("user", question)])
    assert llm.input_ids[: len(prompt)].tolist() == prompt
    llm.n_tokens = len(prompt) - 1
    llm.eval(prompt[-1:])
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()


def test_a_state_over_2_gib_saves_restores_and_answers_like_the_cold_context(wide_model, cache_dir, disk_read_speed):
    cold = engine(wide_model, cache_dir, disk_read_speed)
    text, usage = ask(cold, "What can the moderator do?")
    cold.wait_for_snapshot()
    assert usage.prefix_source == "cold" and usage.prompt_evaluated == usage.prompt_tokens > 200
    [snapshot] = cache_dir.glob("*.kv")
    assert snapshot.stat().st_size > 2**31
    follow_text, follow = ask(cold, "What can estimators see?")
    assert follow.prefix_source == "live"
    expected = next_token_logits(cold, "What can estimators see?")
    del cold
    gc.collect()  # one 2.5 GiB context at a time

    restored = engine(wide_model, cache_dir, disk_read_speed)
    restored_text, again = ask(restored, "What can estimators see?")
    assert again.prefix_source == "disk"
    assert again.prompt_evaluated < 0.2 * again.prompt_tokens
    assert restored_text == follow_text and restored_text
    assert np.array_equal(next_token_logits(restored, "What can estimators see?"), expected)
