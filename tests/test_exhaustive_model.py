"""Exhaustive mode on the bundled model: its passes run under llama.cpp grammars, each shard's
KV state is snapshotted and restored, and `ask --exhaustive` works through a real process."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from storychat.answer.answer import final

from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.llm.kvcache import KVCache
from storychat.llm.llama import EngineOptions, LlamaEngine
from storychat.llm.models import bundled_model
from storychat.stories.formats import decode_bytes, read_file
from storychat.stories.library import Library
from tests.helpers import ROOT, assert_contract

pytestmark = pytest.mark.model

QUESTION = "Which stories are about estimates?"


def test_a_second_exhaustive_question_restores_every_shard_instead_of_computing_it(tmp_path, dalpiaz, disk_read_speed):
    stories = read_file(dalpiaz / "g13-planningpoker.txt").stories
    cache = KVCache(tmp_path, disk_bytes=1 << 30, ram_bytes=1 << 30, read_bytes_per_s=disk_read_speed)
    engine = LlamaEngine(bundled_model(), EngineOptions(n_ctx=2048, cache=cache))
    pipeline = Pipeline(engine, options=AnswerOptions(max_tokens=48))

    def ask(question):
        answer = final(pipeline.ask_exhaustive(question, stories, "poker"))
        engine.wait_for_snapshot()
        return answer.reading

    first = ask(QUESTION)
    assert first.passes >= 2 and first.stories == len(stories)
    assert set(first.pass_sources) == {"cold"} and first.pass_evaluated > 0.8 * first.pass_tokens
    second = ask("Which stories are about exporting a game?")  # a topic (the stories of a role are listed by code)
    assert len(second.pass_sources) == first.passes and "cold" not in second.pass_sources
    # Only each pass's question is computed; the shards' stories come from their snapshots.
    assert second.pass_evaluated < 0.3 * second.pass_tokens


def test_cli_ask_exhaustive_reads_the_backlog_in_passes(dalpiaz, tmp_path):
    backlog = dalpiaz / "g13-planningpoker.txt"
    cmd = [sys.executable, "-m", "storychat", "ask", "--exhaustive", "--json", "-c", "2048", "-n", "48",
           "--data-dir", str(tmp_path), "--stories", str(backlog), QUESTION]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    stories = read_file(backlog).stories
    assert_contract(payload, stories)
    reading = payload["reading"]
    assert reading["stories"] == len(stories) and 2 <= reading["passes"] <= 3
    assert reading["line"].startswith(f"read all {len(stories)} stories in {reading['passes']} passes")
    for n in range(1, reading["passes"] + 1):
        assert f"pass {n} of {reading['passes']}:" in result.stderr
    cited = {s.id for s in stories}
    assert all(c["id"] in cited for c in payload["citations"] if c["valid"])
    assert backlog.name in (tmp_path / "shard-layouts.json").read_text()  # the cuts outlive the process


def test_after_a_reimport_with_one_story_reworded_only_its_shard_is_read_again(tmp_path, dalpiaz, disk_read_speed):
    library = Library(tmp_path / "data")
    backlog = Path(shutil.copy(dalpiaz / "g13-planningpoker.txt", tmp_path))
    library.add("poker", read_file(backlog))
    cache = KVCache(tmp_path / "kv", disk_bytes=1 << 30, ram_bytes=1 << 30, read_bytes_per_s=disk_read_speed)
    engine = LlamaEngine(bundled_model(), EngineOptions(n_ctx=2048, cache=cache))
    pipeline = Pipeline(engine, options=AnswerOptions(max_tokens=48))

    def ask(question):
        answer = final(pipeline.ask_exhaustive(question, library.stories("poker"), "poker"))
        engine.wait_for_snapshot()
        return answer.reading

    first = ask(QUESTION)
    shards = pipeline.shards(library.stories("poker"), "poker")
    assert first.passes == len(shards) >= 2
    story = shards[0].stories[len(shards[0].stories) // 2]
    lines = decode_bytes(backlog.read_bytes(), backlog.name).split("\n")
    lines[story.line - 1] = lines[story.line - 1].replace("I want", "I would like", 1)
    backlog.write_text("\n".join(lines), encoding="utf-8")
    report = library.add("poker", read_file(backlog), sync=True)
    assert (len(report.added), [s.id for s in report.gone]) == (1, [story.id])  # no ids in the file: matched by content

    after = pipeline.shards(library.stories("poker"), "poker")
    assert [s.stories for s in after[1:]] == [s.stories for s in shards[1:]]
    second = ask("Which stories are about exporting a game?")  # a topic (the stories of a role are listed by code)
    # the shard with the reworded story is read again from the change on; the others are restored whole
    assert second.pass_sources[0] in ("ram-partial", "disk-partial")
    assert set(second.pass_sources[1:]) <= {"ram", "disk", "live"}
    again = ask("Which stories are about exporting a game?")  # every shard restored: what the question alone costs
    assert 0 < second.pass_evaluated - again.pass_evaluated <= after[0].tokens
