"""QA evaluation: scores on crafted results, the question-set loader, item keys, the Dalpiaz and GPT2SP sets, and a real `eval` run."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from storychat.evals.items import ids_by_key
from storychat.evals.qa import (
    DALPIAZ_SET,
    THRESHOLDS,
    Metrics,
    Question,
    QuestionSetError,
    Result,
    SweepRow,
    choose_threshold,
    gate,
    load_backlogs,
    load_questions,
    score,
    sweep,
)
from storychat.stories.formats import read_file

ROOT = Path(__file__).resolve().parent.parent
GPT2SP = ROOT / "storychat" / "evals" / "data" / "gpt2sp"
GPT2SP_SET = ROOT / "storychat" / "evals" / "qa-gpt2sp.jsonl"


def _result(expect=(), refused=False, valid=(), invalid=(), match=0.5, false_valid=(), **more) -> Result:
    question = Question("Is it there?", tuple(expect), stories="b.txt", line=1)
    return Result(
        question, "answer", refused, gated=False, best_match=match, valid_ids=tuple(valid),
        invalid_ids=tuple(invalid), false_valid=tuple(false_valid), **{"seconds": 1.0, **more},
    )


def _metrics(refused_unanswerable: int, unanswerable: int, wrong_refusals: int, answerable: int) -> Metrics:
    zero = dict(evidence_found=0, citations=0, invalid_citations=0, false_valid=0, gated=0, unsupported=0, seconds=0.0, retrieved=0)
    return Metrics(answerable + unanswerable, answerable, unanswerable, refused_unanswerable, wrong_refusals, **zero)


# --- metrics -------------------------------------------------------------------------------------


def test_scores_count_refusals_recall_invalid_citations_and_answers_with_no_supported_sentence():
    results = [
        _result(expect=["b-1"], valid=["b-1", "b-2"], retrieved=True),  # evidence found
        _result(expect=["b-1"], valid=["b-3"], invalid=["X-9"], retrieved=True),  # answered, wrong story
        _result(expect=["b-4"], refused=True),  # wrong refusal
        _result(expect=["b-5"], valid=["b-5"]),  # evidence found
        _result(refused=True),  # unanswerable, refused
        _result(valid=["b-2"]),  # unanswerable, answered
        _result(refused=True, invalid=["b-99"], retrieved=True, unsupported=True),  # retrieval: answerable only
        _result(refused=True, valid=["b-2"], nothing_supported=True),  # unanswerable, withheld: no supported sentence
    ]
    m = score(results)
    assert (m.questions, m.answerable, m.unanswerable) == (8, 4, 4)
    assert (m.refused_unanswerable, m.refused_rate) == (3, 3 / 4)
    assert (m.wrong_refusals, m.wrong_refusal_rate) == (1, 0.25)
    assert (m.evidence_found, m.recall) == (2, 0.5)
    assert (m.citations, m.invalid_citations, m.invalid_share) == (8, 2, 2 / 8)
    assert m.seconds == 8.0
    assert m.retrieved == 2
    assert (m.unsupported, m.nothing_supported) == (1, 1)
    assert m.separation == round(3 / 4 - 0.25, 6)


def test_a_refusal_that_opens_with_the_expected_id_is_not_evidence():
    # A constrained answer must open with an id, and may still refuse after it.
    assert score([_result(expect=["b-1"], refused=True, valid=["b-1"])]).evidence_found == 0


def test_citations_marked_valid_that_are_no_story_are_counted_apart():
    m = score([_result(expect=["b-1"], valid=["b-1", "ghost-1"], false_valid=["ghost-1"])])
    assert m.false_valid == 1


def test_rates_of_an_empty_group_are_zero_not_an_error():
    m = score([_result(expect=["b-1"], valid=["b-1"])])
    assert (m.unanswerable, m.refused_rate, m.invalid_share) == (0, 0.0, 0.0)


# --- gate replay and sweep -------------------------------------------------------------------------


def test_the_gate_refuses_answers_below_the_threshold_without_their_citations():
    below = _result(expect=["b-1"], valid=["b-1"], match=0.2, retrieved=True)
    at = _result(valid=["b-2"], invalid=["Z-1"], match=0.3)
    gated = gate([below, at], 0.3)
    assert gated[0].refused and gated[0].gated and gated[0].valid_ids == () and gated[0].seconds == 0.0
    assert (gated[0].best_match, gated[0].retrieved) == (0.2, True)
    assert gated[1] == at  # the pipeline gates only a match strictly below min_match


def test_the_sweep_covers_0_to_0_8_in_steps_of_0_05():
    assert THRESHOLDS[:3] == (0.0, 0.05, 0.1) and THRESHOLDS[-1] == 0.8 and len(THRESHOLDS) == 17
    results = [_result(expect=["b-1"], valid=["b-1"], match=0.6), _result(valid=["b-2"], match=0.1)]
    rows = sweep(results)
    assert [r.threshold for r in rows] == list(THRESHOLDS)
    by_threshold = {r.threshold: r.metrics for r in rows}
    assert (by_threshold[0.1].refused_unanswerable, by_threshold[0.1].wrong_refusals) == (0, 0)
    assert (by_threshold[0.15].refused_unanswerable, by_threshold[0.15].wrong_refusals) == (1, 0)
    assert (by_threshold[0.65].refused_unanswerable, by_threshold[0.65].wrong_refusals) == (1, 1)


def test_the_chosen_threshold_best_separates_and_is_the_lowest_of_equals():
    rows = [
        SweepRow(0.0, _metrics(2, 10, 0, 10)),  # J 0.2
        SweepRow(0.1, _metrics(8, 10, 1, 10)),  # J 0.7
        SweepRow(0.2, _metrics(9, 10, 2, 10)),  # J 0.7
        SweepRow(0.3, _metrics(10, 10, 5, 10)),  # J 0.5
    ]
    assert choose_threshold(rows).threshold == 0.1


# --- the question-set loader ------------------------------------------------------------------------


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_loader_reads_both_line_forms_and_skips_blank_lines(tmp_path):
    path = _write(
        tmp_path,
        '{"stories": "g13-planningpoker.txt", "question": "Can we export a game?", "expect_ids": ["g13-planningpoker-19"]}',
        "",
        '{"collection": "team", "question": "  What is the capital of France? ", "unanswerable": true}',
    )
    first, second = load_questions(path)
    assert first == Question("Can we export a game?", ("g13-planningpoker-19",), stories="g13-planningpoker.txt", line=1)
    assert second == Question("What is the capital of France?", (), collection="team", line=3)
    assert second.unanswerable and not first.unanswerable
    assert (first.backlog, second.backlog) == ("g13-planningpoker.txt", "collection team")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"stories": "a.txt", "question": "q?", "expect_ids": ["a-1"]', "not valid JSON"),
        ('["a.txt", "q?"]', "expected a JSON object"),
        ('{"stories": "a.txt", "question": "q?"}', '"expect_ids" (a non-empty list of story ids) or "unanswerable": true'),
        ('{"stories": "a.txt", "question": "q?", "expect_ids": []}', '"expect_ids"'),
        ('{"stories": "a.txt", "collection": "c", "question": "q?", "unanswerable": true}', 'either "stories"'),
        ('{"question": "q?", "unanswerable": true}', 'either "stories"'),
        ('{"stories": "a.txt", "question": " ", "unanswerable": true}', '"question" must be a non-empty string'),
        ('{"stories": "a.txt", "question": "q?", "expect_id": ["a-1"]}', "unknown key(s) expect_id"),
        ('{"stories": "a.txt", "question": "q?", "unanswerable": true, "expect_ids": ["a-1"]}', 'has no "expect_ids"'),
        ('{"stories": "a.txt", "question": "q?", "unanswerable": "yes"}', '"unanswerable" must be true or false'),
        ('{"stories": "a.txt", "question": "q?", "unanswerable": true, "kind": "title"}', 'is one of near miss'),
        ('{"stories": "a.txt", "question": "q?", "expect_ids": ["a-1"], "kind": "near miss"}', "is one of title, description"),
    ],
)
def test_a_malformed_line_is_refused_with_its_line_number(tmp_path, bad, message):
    good = '{"stories": "a.txt", "question": "q?", "unanswerable": true}'
    path = _write(tmp_path, good, good, bad)
    with pytest.raises(QuestionSetError) as caught:
        load_questions(path)
    assert str(caught.value).startswith("set.jsonl line 3: ")
    assert message in str(caught.value)


def test_an_expected_id_that_is_not_in_the_backlog_is_refused_before_the_model_loads(tmp_path, dalpiaz):
    path = _write(
        tmp_path,
        '{"stories": "g13-planningpoker.txt", "question": "Export?", "expect_ids": ["g13-planningpoker-19"]}',
        '{"stories": "g13-planningpoker.txt", "question": "Invoices?", "expect_ids": ["g13-planningpoker-99"]}',
    )
    with pytest.raises(QuestionSetError, match="line 2: g13-planningpoker-99 is not a story of g13-planningpoker.txt"):
        load_backlogs(load_questions(path), dalpiaz, open_library=lambda: pytest.fail("no collection was named"))


def test_an_item_key_stands_for_what_the_importer_read_from_that_item(tmp_path):
    (tmp_path / "jira.csv").write_text(
        "issuekey,title,description\n"
        "PRJ-7,\"As a user, I want to export a game, so that I can keep it\",\n"
        "PRJ-3,Fix the export button,It should say Save\n",
        encoding="utf-8",
    )
    path = _write(tmp_path, '{"stories": "jira.csv", "question": "What should the button say?", "expect_ids": ["PRJ-3"]}')
    questions = load_questions(path)
    backlog = load_backlogs(questions, tmp_path, open_library=lambda: pytest.fail("no collection was named"))["jira.csv"]
    item = next(s for s in backlog.stories if s.line == 2)
    assert not item.is_note and item.id == "PRJ-3" and backlog.by_ids(questions[0]).expect_ids == (item.id,)


def test_a_key_that_is_no_item_of_the_file_is_refused(tmp_path):
    (tmp_path / "jira.csv").write_text("issuekey,title\nPRJ-7,Fix the export button\n", encoding="utf-8")
    path = _write(tmp_path, '{"stories": "jira.csv", "question": "Export?", "expect_ids": ["PRJ-8"]}')
    with pytest.raises(QuestionSetError, match="line 1: PRJ-8 is not a story of jira.csv"):
        load_backlogs(load_questions(path), tmp_path, open_library=lambda: pytest.fail("no collection was named"))


def test_a_missing_story_file_names_the_question_and_the_path(tmp_path):
    path = _write(tmp_path, '{"stories": "nowhere.txt", "question": "q?", "unanswerable": true}')
    with pytest.raises(QuestionSetError, match=r"line 1: no story file .*nowhere.txt"):
        load_backlogs(load_questions(path), tmp_path, open_library=lambda: pytest.fail("no collection was named"))


# --- the hand-written Dalpiaz set ---------------------------------------------------------------------


def test_the_dalpiaz_set_has_60_questions_a_third_unanswerable_over_6_backlogs():
    questions = load_questions(DALPIAZ_SET)
    assert len(questions) >= 60
    assert sum(q.unanswerable for q in questions) * 3 >= len(questions)
    assert len({q.backlog for q in questions}) >= 6
    assert len({q.question for q in questions}) == len(questions)


def test_the_gpt2sp_set_asks_15_description_5_title_and_10_near_miss_questions_on_items_of_two_backlogs():
    questions = load_questions(GPT2SP_SET)
    assert Counter(q.kind for q in questions) == {"description": 15, "title": 5, "near miss": 10}
    assert {q.stories for q in questions} == {"duracloud.csv", "mulestudio.csv"}
    load_backlogs(questions, GPT2SP, open_library=lambda: pytest.fail("no collection was named"))  # every key an item


def test_an_item_key_finds_what_the_importer_read_from_its_record_in_a_real_jira_export():
    path = GPT2SP / "mulestudio.csv"
    stories = {s.id: s for s in read_file(path).stories}
    keys = ids_by_key(path, list(stories.values()))
    assert len(keys) == 732
    (last,) = keys["STUDIO-7487"]  # the last record, after many descriptions that span several lines
    assert stories[last].text == "Spike to verify support extension child element naming conventions"


def test_every_expected_id_of_the_dalpiaz_set_is_a_story_of_its_backlog(dalpiaz):
    stories = {}
    for q in load_questions(DALPIAZ_SET):
        if q.stories not in stories:
            stories[q.stories] = {s.id for s in read_file(dalpiaz / q.stories).stories if not s.is_note}
        assert set(q.expect_ids) <= stories[q.stories], f"line {q.line}: {set(q.expect_ids) - stories[q.stories]}"


# --- a real run -----------------------------------------------------------------------------------------


@pytest.mark.model
def test_eval_command_answers_a_question_set_and_sweeps_the_gate(tmp_path):
    (tmp_path / "team.txt").write_text(
        "As a moderator, I want to export a game transcript as a CSV file, so that I can process the estimates.\n"
        "As an estimator, I want to join a game from the link I was sent, so that I can take part.\n"
        "As a moderator, I want to delete a game, so that its estimates are no longer stored.\n",
        encoding="utf-8",
    )
    questions = _write(
        tmp_path,
        '{"stories": "team.txt", "question": "Can a game transcript be exported as CSV?", "expect_ids": ["team-1"]}',
        '{"stories": "team.txt", "question": "How do estimators join a game?", "expect_ids": ["team-2"]}',
        '{"stories": "team.txt", "question": "What is the capital of France?", "unanswerable": true}',
    )
    cmd = [sys.executable, "-m", "storychat", "eval", "--qa", str(questions), "--data-root", str(tmp_path),
           "--sweep-gate", "--json", "-c", "2048", "-n", "16", "--data-dir", str(tmp_path / "data")]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    m = report["metrics"]
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (3, 2, 1)
    assert m["false_valid"] == 0
    assert [r["line"] for r in report["results"]] == [1, 2, 3]
    assert [row["threshold"] for row in report["sweep"]] == list(THRESHOLDS)
    assert report["chosen_threshold"] in THRESHOLDS
    assert report["results"][0]["retrieved"]
    off_topic = report["results"][2]
    assert off_topic["best_match"] == 0.0 and not off_topic["gated"]  # the sweep asks the model with the gate off
    assert report["sweep"][1]["threshold"] == 0.05 and report["sweep"][1]["refused_unanswerable"] == 1
    assert "[3/3]" in result.stderr
