"""Exhaustive-question evaluation: the scorer on crafted answers, the topic-set
loader, the hand-labelled Dalpiaz set itself, and the mention baseline run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from storychat.evals import dalpiaz_stories
from storychat.evals.exhaustive import (
    DALPIAZ_TOPICS,
    Topic,
    TopicSetError,
    check_ids,
    load_topics,
    score,
    table,
)
from storychat.stories import Story

ROOT = Path(__file__).resolve().parent.parent


def _topic(name: str, ids: list[str]) -> Topic:
    return Topic(name, f"Which stories are about {name}?", frozenset(ids), (name,))


def _answers(mapping: dict[str, list[str]]):
    return lambda topic: mapping[topic.topic]


# --- the scorer ----------------------------------------------------------------------------------


def test_recall_and_precision_per_topic_count_hits_misses_and_extras():
    topic = _topic("pay", ["a-1", "a-2", "a-3", "b-4"])
    result = score("x", [topic], _answers({"pay": ["a-1", "a-2", "c-9"]})).topics[0]
    assert (result.hits, result.recall, result.precision) == (2, 0.5, 2 / 3)
    assert result.missed == ["a-3", "b-4"]
    assert result.extra == ["c-9"]


def test_micro_pools_the_stories_and_macro_averages_the_topics():
    big = _topic("big", [f"a-{i}" for i in range(1, 9)])  # 8 stories, all found, 8 extra
    small = _topic("small", ["b-1", "b-2"])  # 2 stories, none found, 1 extra
    answers = {"big": [f"a-{i}" for i in range(1, 17)], "small": ["b-9"]}
    s = score("x", [big, small], _answers(answers))
    assert s.micro_recall == 8 / 10
    assert s.micro_precision == 8 / 17
    assert s.macro_recall == (1.0 + 0.0) / 2
    assert s.macro_precision == (0.5 + 0.0) / 2


def test_an_empty_answer_has_precision_zero_and_does_not_count_as_careful():
    s = score("x", [_topic("t", ["a-1"])], _answers({"t": []}))
    assert (s.topics[0].recall, s.topics[0].precision) == (0.0, 0.0)
    assert (s.micro_precision, s.macro_precision) == (0.0, 0.0)


def test_repeated_ids_in_an_answer_count_once():
    s = score("x", [_topic("t", ["a-1", "a-2"])], _answers({"t": ["a-1", "a-1", "a-1"]}))
    assert (s.topics[0].recall, s.topics[0].precision) == (0.5, 1.0)


def test_a_perfect_answer_scores_one_everywhere():
    topics = [_topic("t", ["a-1", "a-2"]), _topic("u", ["b-1"])]
    s = score("x", topics, lambda t: t.ids)
    assert (s.micro_recall, s.micro_precision, s.macro_recall, s.macro_precision) == (1.0, 1.0, 1.0, 1.0)


def test_the_table_has_a_row_per_topic_and_the_pooled_and_averaged_rows():
    topics = [_topic("t", ["a-1", "a-2"]), _topic("u", ["b-1"])]
    lines = table([score("one", topics, _answers({"t": ["a-1"], "u": ["b-1"]})), score("two", topics, lambda t: [])])
    assert [line.split()[0] for line in lines[2:4]] == ["t", "u"]
    assert "0.50 / 1.00" in lines[2] and "0.00 / 0.00" in lines[2]
    assert lines[-2].startswith("micro") and "0.67 / 1.00" in lines[-2]
    assert lines[-1].startswith("macro") and "0.75 / 1.00" in lines[-1]


# --- the loader ----------------------------------------------------------------------------------

GOOD = {"topic": "t", "question": "Which stories are about t?", "keywords": ["t"], "ids": ["a-1"], "notes": ""}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({**GOOD, "answer": "x"}), "unknown key(s) answer"),
        (json.dumps({**GOOD, "question": " "}), '"question" must be a non-empty string'),
        (json.dumps({**GOOD, "ids": []}), '"ids" must be a non-empty list'),
        (json.dumps({**GOOD, "ids": ["a-1", 2]}), '"ids" must be a non-empty list'),
        (json.dumps({**GOOD, "ids": ["a-1", "a-2", "a-1"]}), "a-1 listed more than once"),
        (json.dumps({**GOOD, "keywords": "t"}), '"keywords" must be a non-empty list'),
    ],
)
def test_the_loader_names_the_line_of_a_malformed_topic(tmp_path, line, message):
    path = tmp_path / "topics.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n" + line + "\n")
    with pytest.raises(TopicSetError, match="topics.jsonl line 3") as error:
        load_topics(path)
    assert message in str(error.value)


def test_the_loader_refuses_a_topic_listed_twice(tmp_path):
    path = tmp_path / "topics.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "ids": ["a-2"]}) + "\n")
    with pytest.raises(TopicSetError, match="line 2: topic 't' is already on line 1"):
        load_topics(path)


def test_an_id_that_is_not_a_story_of_the_collection_is_named():
    stories = [Story("a-1", "As a user, I want x.", "a.txt", 1), Story("a-2", "Heading", "a.txt", 2, kind="note")]
    check_ids([_topic("t", ["a-1"])], stories)
    with pytest.raises(TopicSetError, match="topic 't'.*a-2 is not a story"):
        check_ids([_topic("t", ["a-1", "a-2"])], stories)


# --- the hand-labelled Dalpiaz set ---------------------------------------------------------------


def test_the_dalpiaz_topic_set_is_well_formed(dalpiaz):
    raw = [json.loads(line) for line in DALPIAZ_TOPICS.read_text(encoding="utf-8").splitlines() if line.strip()]
    topics = load_topics(DALPIAZ_TOPICS)
    assert len(topics) >= 20
    assert all(len(r["ids"]) == len(set(r["ids"])) for r in raw), "an id is listed twice within a topic"
    stories = dalpiaz_stories(dalpiaz)
    assert len(stories) == 1677
    check_ids(topics, stories)
    narrow = [t.topic for t in topics if len({i.rsplit("-", 1)[0] for i in t.ids}) < 3]
    assert not narrow, f"these topics span fewer than 3 backlogs: {narrow}"
    undocumented = [t.topic for t in topics if len(t.notes) < 100]
    assert not undocumented, f"say what counts and what does not for: {undocumented}"


def test_the_mention_baseline_misses_paraphrases_and_counts_passing_mentions(tmp_path):
    """The exact "stories mentioning" action run over the set: what the labels add beyond word matching."""
    out = tmp_path / "mention.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "exhaustive_eval.py"), "--approach", "mention", "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "micro (all stories pooled)" in run.stdout
    scored = {t["topic"]: t for t in json.loads(out.read_text())["scores"][0]["topics"]}
    assert len(scored) == len(load_topics(DALPIAZ_TOPICS))
    # "well-visible buttons" is about accessibility without the word; "my embargoed dissertation" is not about embargoes.
    assert "g19-alfred-3" in scored["accessibility"]["missed"]
    assert "g27-culrepo-69" in scored["embargoes and time-limited restrictions"]["extra"]
    assert "g10-scrumalliance-43" in scored["help, documentation and support"]["extra"]  # a help wanted ad
