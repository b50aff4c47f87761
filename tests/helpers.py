"""Helpers the test modules share: the repository's test data, and the contract every answer keeps."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from storychat.answer.answer import Done, Progress
from storychat.answer.support import NO_CLAIM, PARAPHRASED, PARTLY, SUPPORTED, UNSUPPORTED

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
BOOKSHOP = (DATA / "bookshop.txt").read_text(encoding="utf-8")  # 13 invented stories, pasted


def table_rows(db: sqlite3.Connection, tables: Iterable[str], like: dict[str, list[tuple]] | None = None) -> dict[str, list[tuple]]:
    """Each table's rows in rowid order; with ``like`` (rows read before a migration) only the columns the
    tables had then, which a migration that adds columns must leave as they were."""
    def columns(table: str) -> str:
        names = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        return ", ".join(names[: len(like[table][0])] if like and like[table] else names)

    return {t: db.execute(f"SELECT {columns(t)} FROM {t} ORDER BY rowid").fetchall() for t in tables}


def week_later(tmp_path: Path) -> Path:
    """The same Jira export a week later, under the first one's name: HR-102 reworded, HR-110 with
    new acceptance criteria, HR-130 deleted, HR-131 new."""
    (tmp_path / "week2").mkdir(exist_ok=True)
    return Path(shutil.copy(DATA / "leave-week2.csv", tmp_path / "week2" / "leave.csv"))


def run(pipeline, question, stories, history=()):
    events = list(pipeline.ask(question, stories, history))
    assert isinstance(events[0], Progress)
    assert isinstance(events[-1], Done)
    return events, events[-1].answer


def assert_contract(payload: dict, stories) -> None:
    by_id = {s.id: s for s in stories}
    assert set(payload) >= {"answer", "refused", "citations", "context", "timings"}
    assert isinstance(payload["answer"], str) and isinstance(payload["refused"], bool)
    for c in payload["citations"]:
        assert set(c) >= {"id", "source", "line", "text", "valid", "verified"}
        if c["valid"]:
            story = by_id[c["id"]]
            assert (c["source"], c["line"], c["text"]) == (story.source, story.line, story.text)
    # One record per sentence of what the model wrote, in order; a ✓ only for a story backing a supported one.
    backing = set()
    at = 0
    for sentence in payload["sentences"]:
        assert set(sentence) >= {"text", "cites", "against", "verdict", "unsupported_words", "backed_by", "cut", "misquote"}
        assert sentence["verdict"] in (SUPPORTED, PARAPHRASED, PARTLY, UNSUPPORTED, NO_CLAIM)
        assert (sentence["verdict"] == SUPPORTED) <= (not sentence["unsupported_words"] and not sentence["misquote"])
        at = payload["raw"].index(sentence["text"], at)
        if sentence["verdict"] == SUPPORTED and not sentence["cut"]:
            backing.update(sentence["backed_by"])
    assert {c["id"] for c in payload["citations"] if c["verified"]} == {c["id"] for c in payload["citations"] if c["valid"]} & backing
    assert not any(c["verified"] and c["paraphrased"] for c in payload["citations"])  # ✓ and ≈ never together
    assert payload["missing"] is None or payload["missing"]["line"].startswith("No story mentions ")
    says = payload["no_story_says"]
    assert says is None or (says["line"].startswith("No story ") and not payload["refused"])
    ctx = payload["context"]
    assert set(ctx) >= {"stories_in_context", "stories_total", "tokens_in_context", "n_ctx", "mode"}
    assert ctx["stories_in_context"] <= ctx["stories_total"] == len([s for s in stories if not s.is_note])
    assert ctx["tokens_in_context"] <= ctx["n_ctx"]
    assert ctx["mode"] in ("full", "retrieval", "exhaustive")
    if ctx["mode"] == "exhaustive":  # every story read in passes; the answer written from those they cited
        reading = payload["reading"]
        assert reading["stories"] == ctx["stories_total"] and reading["cited"] == len(reading["ids"]) == ctx["stories_in_context"]
    else:
        assert 0 < ctx["stories_in_context"] and 0 < ctx["tokens_in_context"] and payload["reading"] is None
        assert (ctx["mode"] == "full") == (ctx["stories_in_context"] == ctx["stories_total"])
    t = payload["timings"]
    assert set(t) >= {"ttft_s", "total_s", "prompt_tokens", "completion_tokens"}
    assert 0 <= t["ttft_s"] <= t["total_s"]
    assert t["prompt_tokens"] >= ctx["tokens_in_context"] * 0.9
