"""Corpus KV reuse, proven by evaluated-token counts (never by time)."""

from dataclasses import replace

import pytest

from storychat.answer.answer import Done

from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.llm.engine import Message
from storychat.llm.kvcache import KVCache
from storychat.llm.llama import EngineOptions, LlamaEngine
from storychat.llm.models import bundled_model
from storychat.stories.formats import read_file

pytestmark = pytest.mark.model


@pytest.fixture
def new_engine(disk_read_speed):
    def make(cache_dir, flash_attn: str = "auto") -> LlamaEngine:
        cache = KVCache(cache_dir, disk_bytes=1 << 30, ram_bytes=1 << 30, read_bytes_per_s=disk_read_speed)
        return LlamaEngine(bundled_model(), EngineOptions(n_ctx=2048, flash_attn=flash_attn, cache=cache))

    return make


def answer(engine, question, stories, collection):
    pipeline = Pipeline(engine, options=AnswerOptions(max_tokens=8))
    done = [e for e in pipeline.ask(question, stories, collection=collection) if isinstance(e, Done)][0].answer
    engine.wait_for_snapshot()
    return done


@pytest.fixture(scope="module")
def backlogs(dalpiaz):
    poker = read_file(dalpiaz / "g13-planningpoker.txt").stories[:20]
    recycling = read_file(dalpiaz / "g04-recycling.txt").stories[:20]
    return poker, recycling


def test_a_restarted_engine_restores_the_stories_from_disk(tmp_path, backlogs, new_engine):
    poker, _ = backlogs
    cold = answer(new_engine(tmp_path), "What can the moderator do?", poker, "poker")
    assert cold.timings.prefix_source == "cold"
    assert cold.timings.prompt_evaluated == cold.timings.prompt_tokens

    restarted = answer(new_engine(tmp_path), "What can estimators see?", poker, "poker")
    assert restarted.timings.prefix_source == "disk"
    # Only the question (and its focus block) is computed; the stories come from the snapshot.
    assert restarted.timings.prompt_evaluated < 0.4 * restarted.timings.prompt_tokens
    assert restarted.timings.prompt_tokens - restarted.timings.prompt_evaluated > 500


def test_switching_between_two_collections_restores_each_from_ram(tmp_path, backlogs, new_engine):
    poker, recycling = backlogs
    engine = new_engine(tmp_path)
    assert answer(engine, "What can the moderator do?", poker, "poker").timings.prefix_source == "cold"
    assert answer(engine, "Which recycling facilities are near my zip code?", recycling, "recycling").timings.prefix_source == "cold"
    back = answer(engine, "What can estimators see?", poker, "poker")
    assert back.timings.prefix_source == "ram"
    assert back.timings.prompt_evaluated < 0.4 * back.timings.prompt_tokens
    follow_up = answer(engine, "Can the moderator export a game?", poker, "poker")
    assert follow_up.timings.prefix_source == "live"


def test_changed_stories_replace_the_old_snapshot(tmp_path, backlogs, new_engine):
    poker, _ = backlogs
    engine = new_engine(tmp_path)
    answer(engine, "What can the moderator do?", poker, "poker")
    assert len(list(tmp_path.glob("*.kv"))) == 1
    changed = answer(engine, "What can the moderator do?", poker[:-1], "poker")
    assert changed.timings.prefix_source == "cold"
    assert len(list(tmp_path.glob("*.kv"))) == 1  # the old version is gone


def test_disk_use_stays_within_its_budget(tmp_path, backlogs, new_engine):
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

    from tests.helpers import ROOT

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


def test_a_snapshot_from_the_other_flash_attention_layout_is_not_restored(tmp_path, backlogs, new_engine):
    poker, _ = backlogs
    answer(new_engine(tmp_path, "on"), "What can the moderator do?", poker, "poker")
    other = answer(new_engine(tmp_path, "off"), "What can the moderator do?", poker, "poker")
    assert other.timings.prefix_source == "cold"
    assert other.timings.prompt_evaluated == other.timings.prompt_tokens


def test_a_snapshot_llama_cpp_rejects_is_dropped_and_the_stories_evaluated_instead(tmp_path, backlogs, new_engine):
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


def chat(engine, stories, question: str, label: str = "") -> tuple[str, object]:
    system = "Answer from these stories.\n" + "\n".join(s.text for s in stories)
    stream = engine.stream_chat([Message("system", system), Message("user", question)], max_tokens=4, cache_label=label)
    return "".join(stream), stream.usage


def test_the_snapshot_is_written_only_after_the_answer_has_streamed(tmp_path, backlogs, new_engine):
    poker, _ = backlogs
    engine = new_engine(tmp_path)
    system = "Answer from these stories.\n" + "\n".join(s.text for s in poker)
    stream = engine.stream_chat([Message("system", system), Message("user", "What can the moderator do?")], max_tokens=4)
    pieces = iter(stream)
    next(pieces)  # the first token: the whole prompt has been evaluated
    assert not list(tmp_path.glob("*.kv")) and not list(tmp_path.glob("*.tmp"))
    list(pieces)
    assert stream.usage.prefix_source == "cold"
    engine.wait_for_snapshot()
    assert len(list(tmp_path.glob("*.kv"))) == 1
    # The next question waits for the write (it needs the context), then finds the stories live.
    assert chat(engine, poker, "What can estimators see?")[1].prefix_source == "live"


def test_no_snapshot_is_taken_when_prefill_is_cheaper_than_reading_it_back(tmp_path, backlogs):
    poker, _ = backlogs
    slow_disk = KVCache(tmp_path, disk_bytes=1 << 30, read_bytes_per_s=1024.0)  # 1 KiB/s: any prefill beats it
    engine = LlamaEngine(bundled_model(), EngineOptions(n_ctx=2048, cache=slow_disk))
    engine.probe(prompt_tokens=64, decode_tokens=2)
    estimate = engine.snapshot_estimate(1000)
    assert estimate.restore_s > estimate.prefill_s and not estimate.pays
    _, usage = chat(engine, poker, "What can the moderator do?")
    engine.wait_for_snapshot()
    assert usage.prefix_source == "prompt"
    assert usage.prompt_evaluated == usage.prompt_tokens
    assert not list(tmp_path.glob("*.kv"))


def test_a_snapshot_is_taken_when_reading_it_back_beats_the_measured_prefill(tmp_path, backlogs, disk_read_speed):
    poker, _ = backlogs
    cache = KVCache(tmp_path, disk_bytes=1 << 30, read_bytes_per_s=disk_read_speed)
    engine = LlamaEngine(bundled_model(), EngineOptions(n_ctx=2048, cache=cache))
    engine.probe(prompt_tokens=64, decode_tokens=2)
    estimate = engine.snapshot_estimate(1000)
    # On a CPU the bundled model fills ~23 KB of KV a token at a few hundred tokens/s: disks read far faster.
    assert estimate.pays and estimate.restore_s < estimate.prefill_s
    assert chat(engine, poker, "What can the moderator do?")[1].prefix_source == "cold"
    engine.wait_for_snapshot()
    assert len(list(tmp_path.glob("*.kv"))) == 1


def test_cache_ram_0_and_cache_disk_0_take_no_snapshot(tmp_path, dalpiaz):
    import json
    import subprocess
    import sys

    from tests.helpers import ROOT

    stories = tmp_path / "poker.txt"
    lines = (dalpiaz / "g13-planningpoker.txt").read_text(encoding="cp1252").splitlines()[:25]
    stories.write_text("\n".join(lines), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "storychat", "ask", "--json", "-c", "2048", "-n", "8", "--data-dir", str(tmp_path),
         "--cache-ram", "0", "--cache-disk", "0", "--stories", str(stories), "What can the moderator do?"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    timings = json.loads(result.stdout)["timings"]
    assert timings["prefix_source"] == "prompt"
    assert not [p for p in tmp_path.rglob("*") if p.suffix in (".kv", ".tmp")]
    assert not (tmp_path / "kv-cache").exists()


def test_a_snapshot_that_does_not_fit_the_disk_is_skipped_with_the_reason(tmp_path, backlogs, disk_read_speed, capsys):
    poker, _ = backlogs
    cache = KVCache(tmp_path, disk_bytes=1 << 20, read_bytes_per_s=disk_read_speed)  # 1 MiB: too small for any snapshot
    engine = LlamaEngine(bundled_model(), EngineOptions(n_ctx=2048, cache=cache))
    text, usage = chat(engine, poker, "What can the moderator do?")
    engine.wait_for_snapshot()
    assert text and not list(tmp_path.glob("*.kv"))
    assert any("more than --cache-disk" in note for note in engine.notes)
    assert "Raise --cache-disk" in capsys.readouterr().err


def test_a_full_disk_is_reported_with_its_free_space_and_the_fix(tmp_path, monkeypatch):
    import shutil

    from storychat.llm.kvcache import SnapshotError

    cache = KVCache(tmp_path, disk_bytes=1 << 40, read_bytes_per_s=1e9)
    real = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real._replace(free=100 * 2**20))
    with pytest.raises(SnapshotError, match=r"has 0\.10 GiB free and the snapshot needs 1\.00 GiB.*--cache-disk 0"):
        cache.save("k", "", 2**30, lambda path: pytest.fail("nothing may be written"))
    assert not list(tmp_path.glob("*"))


def test_the_disk_read_speed_is_measured_once_and_kept(tmp_path):
    cache = KVCache(tmp_path, disk_bytes=1 << 30)
    speed = cache.read_speed()
    assert speed > 0 and (tmp_path / "read-speed.json").exists()
    assert KVCache(tmp_path, disk_bytes=1 << 30).read_speed() == speed
    assert not list(tmp_path.glob("*.tmp"))


def test_after_one_story_changed_the_snapshot_restores_the_stories_before_it(tmp_path, backlogs, new_engine):
    poker, _ = backlogs
    cold = answer(new_engine(tmp_path), "What can the moderator do?", poker, "poker")
    middle = len(poker) // 2
    changed = poker[:middle] + [replace(poker[middle], text=poker[middle].text.replace("I want", "I would like", 1))] + poker[middle + 1:]

    restarted = answer(new_engine(tmp_path), "What can the moderator do?", changed, "poker")
    assert restarted.timings.prefix_source == "disk-partial"
    # The stories before the changed one come from the snapshot: about half the prompt is computed.
    assert 0.3 * cold.timings.prompt_tokens < restarted.timings.prompt_evaluated < 0.8 * cold.timings.prompt_evaluated
    assert len(list(tmp_path.glob("*.kv"))) == 1  # the changed stories' snapshot replaced the old one
    again = answer(new_engine(tmp_path), "What can estimators see?", changed, "poker")
    assert again.timings.prefix_source == "disk"
