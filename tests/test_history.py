"""What of a chat's earlier turns each history policy carries to the model (storychat/answer/history.py)."""

import argparse

import pytest

from storychat.answer.history import ALL, CITED_IDS, NOTHING, ON_FOLLOW_UP, POLICIES, PREVIOUS_QUESTION, carry, earlier_turns
from storychat.answer.prompt import REFUSAL
from storychat.config import Settings, add_options
from storychat.llm.engine import Message
from storychat.runtime import make_pipeline
from tests.fakes import FakeEngine

HISTORY = [
    Message("user", "Can a manager reject a leave request?"),
    Message("assistant", "[HR-104] As a manager, I want to approve or reject the leave requests of my team. The answer is yes."),
    Message("user", "What is the capital of France?"),
    Message("assistant", REFUSAL),
    Message("user", "Who sees absences?"),
    Message("assistant", "[HR-106] Managers see a team calendar, and [HR-114] Outlook shows it."),
]


def sent(policy: str, follow_up: bool = False) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in carry(HISTORY, follow_up, policy)]


def test_all_carries_every_turn_as_it_was_asked_and_answered():
    assert sent(ALL) == [(m.role, m.content) for m in HISTORY]


def test_cited_ids_carry_each_question_with_only_the_ids_its_answer_cited_and_leave_out_a_turn_that_cited_none():
    assert sent(CITED_IDS) == [
        ("user", "Can a manager reject a leave request?"), ("assistant", "[HR-104]"),
        ("user", "Who sees absences?"), ("assistant", "[HR-106] [HR-114]"),
    ]


def test_the_previous_question_is_carried_without_its_answer():
    assert sent(PREVIOUS_QUESTION) == [("user", "Who sees absences?")]


def test_on_follow_up_carries_the_turn_before_a_follow_up_and_nothing_before_a_fresh_question():
    assert sent(ON_FOLLOW_UP, follow_up=True) == [(m.role, m.content) for m in HISTORY[-2:]]
    assert sent(ON_FOLLOW_UP, follow_up=False) == []


@pytest.mark.parametrize("policy", POLICIES)
def test_a_first_question_gets_no_history_whatever_the_policy(policy):
    assert carry([], True, policy) == []
    assert sent(NOTHING, follow_up=True) == []


def test_turns_are_paired_question_with_answer_and_know_the_ids_cited():
    turns = earlier_turns(HISTORY)
    assert [(t.question, t.cited) for t in turns] == [
        ("Can a manager reject a leave request?", ("HR-104",)), ("What is the capital of France?", ()),
        ("Who sees absences?", ("HR-106", "HR-114")),
    ]


def test_an_unknown_policy_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="must be one of all, previous-question"):
        carry(HISTORY, False, "everything")


def test_chat_history_flag_and_variable_choose_the_policy_and_auto_leaves_it_to_the_profile(tmp_path, monkeypatch):
    def pipeline_for(*argv: str):
        parser = argparse.ArgumentParser()
        add_options(parser, "answer", "library")
        settings = Settings.from_namespace(parser.parse_args(["--data-dir", str(tmp_path), "--meaning", "off", *argv]))
        return make_pipeline(settings, FakeEngine())

    assert pipeline_for().history == NOTHING
    assert pipeline_for("--chat-history", "cited-ids").history == CITED_IDS
    monkeypatch.setenv("STORYCHAT_CHAT_HISTORY", "all")
    assert pipeline_for().history == ALL
    with pytest.raises(ValueError, match="--chat-history must be auto or one of all, previous-question"):
        pipeline_for("--chat-history", "everything")
