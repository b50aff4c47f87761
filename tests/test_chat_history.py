"""Issue 34 on the bundled model: deep in a chat over the HR leave export, a follow-up is still
answered about the story the previous answer cited, in that story's words, not an earlier answer's
(bench/history_recall.py measures the rest)."""

from pathlib import Path

import pytest

from storychat.answer.conversation import Conversation, answered
from storychat.stories.formats import read_file

pytestmark = pytest.mark.model

LEAVE = read_file(Path(__file__).parent / "data" / "leave.csv").stories
EARLIER = (
    "Can a manager reject a leave request?",
    "Do employees need a separate password to log in?",
    "Is every change to a leave request recorded?",  # HR-117: "As an IT administrator, I want a log of every change ..."
)


def test_who_asked_for_that_after_several_turns_is_answered_about_the_story_the_previous_answer_cited(pipeline):
    conversation = Conversation()
    for question in EARLIER:
        conversation = conversation.add(answered(question, pipeline.answer(question, LEAVE, conversation.history)))
    assert [c.id for c in conversation.turns[-1].citations if c.valid][:1] == ["HR-117"]
    follow_up = pipeline.answer("Who asked for that, and why?", LEAVE, conversation.history)
    assert not follow_up.gated and follow_up.raw.startswith("[HR-117]"), follow_up.raw
    assert "HR-117" in [c.id for c in follow_up.evidence]
    assert "IT administrator" in follow_up.raw, follow_up.raw  # the role of HR-117, not of an earlier answer's story
