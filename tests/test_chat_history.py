"""Issue 34 on the bundled model: in a chat over the HR leave export, "Who asked for that, and why?"
is still answered about the story the previous answer cited, and no earlier answer's words come back as its
(bench/history_recall.py measures the rest)."""

from pathlib import Path

import pytest

from storychat.chats.conversation import Conversation, answered
from storychat.stories.formats import read_file

pytestmark = pytest.mark.model

LEAVE = read_file(Path(__file__).parent / "data" / "leave.csv").stories
EARLIER = (
    "Do employees need a separate password to log in?",
    "Can a manager reject a leave request?",  # HR-104: "As a manager, I want to approve or reject the leave requests ..."
)


def test_who_asked_for_that_is_answered_from_the_story_the_previous_answer_cited_without_misquoting_it(pipeline):
    pipeline = pipeline.with_options(max_tokens=48)  # as bench/history_recall.py
    conversation = Conversation()
    for question in EARLIER:
        conversation = conversation.add(answered(question, pipeline.answer(question, LEAVE, conversation.history)))
    assert [c.id for c in conversation.turns[-1].citations if c.valid][:1] == ["HR-104"]
    follow_up = pipeline.answer("Who asked for that, and why?", LEAVE, conversation.history)
    assert not follow_up.gated and follow_up.raw.startswith("[HR-104]"), follow_up.raw
    assert "HR-104" in [c.id for c in follow_up.evidence]
    # Given the turn before, the model named "the CEO"; given every turn, it presented another story's words as HR-104's.
    assert "manager" in follow_up.raw and not [m for m in follow_up.support.misquotes if m.owner], follow_up.raw
