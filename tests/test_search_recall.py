"""Recall at 5 of /search_stories (bench/search_recall.py): how a question's hits are scored."""

from bench.search_recall import Outcome, found, recall
from storychat.evals.qa import Question


def test_a_question_is_found_when_an_expected_id_is_among_the_first_k_hits():
    assert found({"d-9", "d-4"}, ["d-1", "d-2", "d-4", "d-5", "d-6"], k=5)


def test_an_expected_id_ranked_below_k_is_a_miss():
    assert not found({"d-6"}, ["d-1", "d-2", "d-3", "d-4", "d-5", "d-6"], k=5)


def test_recall_counts_all_answerable_questions_and_each_kind():
    outcomes = [
        Outcome(Question("a?", ("d-1",), kind="description"), ("d-1",), True),
        Outcome(Question("b?", ("d-2",), kind="description"), ("d-7",), False),
        Outcome(Question("c?", ("d-3",), kind="title"), ("d-3",), True),
    ]
    assert recall(outcomes) == {"all": (2, 3), "description": (1, 2), "title": (1, 1)}
