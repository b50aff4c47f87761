"""Corpus KV reuse, proven by evaluated-token counts (never by time)."""

import pytest

from storychat.answer.pipeline import AnswerOptions, Done, Pipeline
from storychat.llm.kvcache import KVCache
from storychat.llm.llama import EngineOptions, LlamaEngine
from storychat.llm.models import bundled_model
from storychat.stories.formats import read_file

pytestmark = pytest.mark.model


def new_engine(cache_dir, flash_attn: str = "auto") -> LlamaEngine:
    cache = KVCache(cache_dir, ram_bytes=1 << 30, disk_bytes=1 << 30)
    return LlamaEngine(bundled_model(), EngineOptions(n_ctx=2048, flash_attn=flash_attn, cache=cache))


def answer(engine, question, stories, collection):
    pipeline = Pipeline(engine, options=AnswerOptions(max_tokens=8))
    return [e for e in pipeline.ask(question, stories, collection=collection) if isinstance(e, Done)][0].answer


@pytest.fixture(scope="module")
def backlogs(dalpiaz):
    poker = read_file(dalpiaz / "g13-planningpoker.txt").stories[:20]
    recycling = read_file(dalpiaz / "g04-recycling.txt").stories[:20]
    return poker, recycling


def test_a_restarted_engine_restores_the_stories_from_disk(tmp_path, backlogs):
    poker, _ = backlogs
    cold = answer(new_engine(tmp_path), "What can the moderator do?", poker, "poker")
    assert cold.timings.prefix_source == "cold"
    assert cold.timings.prompt_evaluated == cold.timings.prompt_tokens

    restarted = answer(new_engine(tmp_path), "What can estimators see?", poker, "poker")
    assert restarted.timings.prefix_source == "disk"
    # Only the question (and its focus block) is computed; the stories come from the snapshot.
    assert restarted.timings.prompt_evaluated < 0.4 * restarted.timings.prompt_tokens
    assert restarted.timings.prompt_tokens - restarted.timings.prompt_evaluated > 500


def test_switching_between_two_collections_restores_each_from_ram(tmp_path, backlogs):
    poker, recycling = backlogs
    engine = new_engine(tmp_path)
    assert answer(engine, "What can the moderator do?", poker, "poker").timings.prefix_source == "cold"
    assert answer(engine, "Which recycling facilities are near my zip code?", recycling, "recycling").timings.prefix_source == "cold"
    back = answer(engine, "What can estimators see?", poker, "poker")
    assert back.timings.prefix_source == "ram"
    assert back.timings.prompt_evaluated < 0.4 * back.timings.prompt_tokens
    follow_up = answer(engine, "Can the moderator export a game?", poker, "poker")
    assert follow_up.timings.prefix_source == "live"


def test_changed_stories_replace_the_old_snapshot(tmp_path, backlogs):
    poker, _ = backlogs
    engine = new_engine(tmp_path)
    answer(engine, "What can the moderator do?", poker, "poker")
    assert len(list(tmp_path.glob("*.kv"))) == 1
    changed = answer(engine, "What can the moderator do?", poker[:-1], "poker")
    assert changed.timings.prefix_source == "cold"
    assert len(list(tmp_path.glob("*.kv"))) == 1  # the old version is gone


def test_disk_use_stays_within_its_budget(tmp_path, backlogs):
    poker, recycling = backlogs
    engine = new_engine(tmp_path)
    answer(engine, "What can the moderator do?", poker, "a")
    one = engine.options.cache.disk_usage()
    engine.options.cache.disk_bytes = int(one * 1.5)
    answer(engine, "Which recycling facilities are near my zip code?", recycling, "b")
    assert engine.options.cache.disk_usage() <= int(one * 1.5)
    assert len(list(tmp_path.glob("*.kv"))) == 1


def test_a_second_cli_ask_on_the_same_stories_restores_them_from_disk(tmp_path, dalpiaz):
    import json
    import subprocess
    import sys

    from tests.serving import ROOT

    stories = tmp_path / "poker.txt"
    lines = (dalpiaz / "g13-planningpoker.txt").read_text(encoding="cp1252").splitlines()[:25]
    stories.write_text("\n".join(lines), encoding="utf-8")

    def ask(question: str) -> dict:
        result = subprocess.run(
            [sys.executable, "-m", "storychat", "ask", "--json", "-c", "2048", "-n", "8", "--data-dir", str(tmp_path),
             "--stories", str(stories), question],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["timings"]

    first = ask("What can the moderator do?")
    second = ask("What can estimators see?")
    assert first["prefix_source"] == "cold"
    assert second["prefix_source"] == "disk"
    assert second["prompt_evaluated"] < 0.4 * second["prompt_tokens"]


def test_a_snapshot_from_the_other_flash_attention_layout_is_not_restored(tmp_path, backlogs):
    poker, _ = backlogs
    answer(new_engine(tmp_path, "on"), "What can the moderator do?", poker, "poker")
    other = answer(new_engine(tmp_path, "off"), "What can the moderator do?", poker, "poker")
    assert other.timings.prefix_source == "cold"
    assert other.timings.prompt_evaluated == other.timings.prompt_tokens


def test_a_snapshot_llama_cpp_rejects_is_dropped_and_the_stories_evaluated_instead(tmp_path, backlogs):
    poker, _ = backlogs
    answer(new_engine(tmp_path / "on", "on"), "What can the moderator do?", poker, "poker")
    answer(new_engine(tmp_path, "off"), "What can the moderator do?", poker, "poker")
    # Put the flash-attention state under the key the flash-attention-off engine looks up.
    [good] = tmp_path.glob("*.kv")
    [foreign] = (tmp_path / "on").glob("*.kv")
    foreign.replace(good)

    again = answer(new_engine(tmp_path, "off"), "What can estimators see?", poker, "poker")
    assert again.timings.prefix_source == "cold" and again.answer
    assert again.timings.prompt_evaluated == again.timings.prompt_tokens
    restarted = answer(new_engine(tmp_path, "off"), "What can estimators see?", poker, "poker")
    assert restarted.timings.prefix_source == "disk"  # the rejected file was replaced by a good one
