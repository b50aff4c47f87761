import json
from dataclasses import replace

from storychat.analysis.filters import parse_scope
from storychat.analysis.lists import Listing

from storychat.answer.citations import Citation
from storychat.chats.conversation import Conversation, Turn, answered, stopped
from storychat.answer.context import Coverage
from storychat.answer.answer import Answer, Timings, listing_json
from storychat.answer.support import PARAPHRASED
from storychat.chats.transcript import to_json, to_markdown
from storychat.stories import Story

EXPORT = Story("US-1", "As a moderator, I want to export a game.", "poker.txt", 19)


def export_answer() -> Answer:
    return Answer(
        answer="[US-1] The moderator can export a game.",
        refused=False,
        citations=[
            Citation("US-1", "poker.txt", 19, "As a moderator, I want to export a game.", True, digest=EXPORT.digest),
            Citation("US-99", "", 0, "", False),
        ],
        context=Coverage(53, 53, 2641, 8192, "full"),
        timings=Timings(1.0, 2.0, 2641, 12, 30),
        raw="[US-1] The moderator can export a game.",
    )


def turn() -> Turn:
    return answered("Can the moderator export?", export_answer())


def test_markdown_transcript_marks_each_citation_as_the_chat_does():
    text = to_markdown([turn()], "poker")
    assert "## Can the moderator export?" in text
    assert "- ⚠ [US-1] As a moderator, I want to export a game. (poker.txt:19)" in text
    assert "  - No sentence of the answer is supported by it." in text
    assert "- ✗ [US-99] is not a story id" in text
    assert "_Context: 53 of 53 stories, 2,641 of 8,192 model tokens (full) · first token 1.0s, total 2.0s_" in text


def test_json_transcript_keeps_the_ask_contract_per_turn():
    data = json.loads(to_json([turn(), turn()], "poker"))
    assert data["collection"] == "poker" and len(data["turns"]) == 2
    first = data["turns"][0]
    assert first["question"] == "Can the moderator export?"
    assert [c["valid"] for c in first["citations"]] == [True, False]
    assert first["context"]["mode"] == "full"


def test_a_stopped_answer_is_exported_as_stopped_and_left_out_of_the_next_prompt():
    conversation = Conversation().add(turn()).add(stopped("Who estimates?", "[US-2] The estim"))
    text = to_markdown(conversation.turns, "poker")
    assert "## Who estimates?\n\n[US-2] The estim\n\n_Stopped: the answer was not finished" in text
    assert json.loads(to_json(conversation.turns, "poker"))["turns"][1] == {"question": "Who estimates?", "kind": "stopped", "answer": "[US-2] The estim"}
    assert [m.content for m in conversation.history] == ["Can the moderator export?", "[US-1] The moderator can export a game."]


def test_an_answer_citing_a_story_changed_since_says_so_in_both_exports():
    reworded = Story("US-1", "As a moderator, I want to export a game as PDF.", "poker.txt", 19)
    assert "US-1 changed after this answer" not in to_markdown([turn()], "poker", {"US-1": EXPORT})
    assert "⚠ US-1 changed after this answer." in to_markdown([turn()], "poker", {"US-1": reworded})
    assert "⚠ US-1 was removed after this answer." in to_markdown([turn()], "poker", {})
    [first] = json.loads(to_json([turn()], "poker", {"US-1": reworded}))["turns"]
    assert first["changed_after"] == ["US-1 changed after this answer"]
    assert first["citations"][0]["digest"] == EXPORT.digest


def test_the_markdown_export_marks_a_sentence_supported_in_other_words_and_counts_tokens_as_the_chat_does():
    record = {**turn().record, "sentences": [{
        "text": "[US-1] The moderator can save a game.", "cites": ["US-1"], "against": ["US-1"], "verdict": PARAPHRASED,
        "unsupported_words": ["save"], "backed_by": ["US-1"], "cut": "", "misquote": None,
        "why": "supported in other words: [US-1] addresses the question, in other words than save",
    }]}
    text = to_markdown([Turn("Can the moderator save a game?", record=record)], "poker")
    assert "- ≈ supported in other words: [US-1] addresses the question, in other words than save: [US-1] The moderator can save" in text
    assert "2,641 of 8,192 model tokens" in text


def test_a_list_questions_exact_list_is_exported_before_its_summary_and_kept_when_the_summary_was_stopped():
    listing = Listing(parse_scope(["role=moderator"]), (EXPORT,), kept=1)
    finished = answered("Which stories are for moderators?", replace(export_answer(), listing=listing))
    cut = stopped("Which stories are for moderators?", "[US-1] The mod", listing_json(listing))
    for exported in (to_markdown([finished], "poker"), to_markdown([cut], "poker")):
        assert "Computed by code: 1 story has the role moderator\n\n- [US-1] As a moderator, I want to export a game. (poker.txt:19)\n" in exported
