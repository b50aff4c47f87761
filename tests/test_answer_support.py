"""What the user sees of the support check: the pipeline's answer, its JSON, the chat and the CLI, on a FakeEngine.

The check itself is tested in test_support.py; the bundled model's own answers in test_pipeline.py.
"""

import pytest

from storychat.chats.conversation import Conversation, answered
from storychat.answer.answer import NOTHING_SUPPORTED, UNCITED
from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.answer.prompt import REFUSAL
from storychat.answer.support import EMPTY_OPENER, REPEAT, SUPPORTED, UNSUPPORTED
from storychat.chats.transcript import to_markdown
from storychat.cli import print_answer
from storychat.stories.embedder import load_embedder
from storychat.stories.formats import read_text
from storychat.ui.render import answer_messages
from tests.helpers import BOOKSHOP

STORIES = read_text(BOOKSHOP).stories
PARCEL = "How can I follow my parcel?"
# The bundled model's answer from issue 16: an invented sentence under paste-9 (packing slips),
# then paste-10 (locking accounts) quoted faithfully.
INVENTED = "[paste-9] As a customer, I want to follow where my parcel is."
FAITHFUL = "[paste-10] As an administrator, I want to lock an account after five failed logins."
PARCEL_ANSWER = f"{INVENTED} The answer is: {FAITHFUL}"
TRACKED = "[paste-4] As a customer, I want to track the delivery status of my order."


def answer(fake_engine, reply: str, question: str = PARCEL, **options):
    """The pipeline as the app makes it (with the reader of meaning) on the fake engine's ``reply``."""
    fake_engine.reply = reply
    # min_match 0: these tests are about what happens to the model's answer, not the relevance gate.
    options = AnswerOptions(max_tokens=200, constrained=False, min_match=0.0, **options)
    return Pipeline(fake_engine, options=options, embedder=load_embedder()).answer(question, STORIES)


def test_a_citation_is_verified_only_where_a_sentence_citing_it_is_supported_by_it(fake_engine):
    a = answer(fake_engine, PARCEL_ANSWER)
    assert [(c.id, c.valid, c.verified) for c in a.citations] == [("paste-9", True, False), ("paste-10", True, True)]
    assert [c.id for c in a.evidence] == ["paste-9", "paste-10"]  # valid keeps its meaning: shown to the model
    assert not a.refused and not a.doubt and not a.unsupported


def test_an_answer_none_of_whose_sentences_is_supported_is_shown_with_a_warning_and_an_uncited_one_withheld(fake_engine):
    doubted = answer(fake_engine, INVENTED)
    assert (doubted.refused, doubted.withheld, doubted.answer, doubted.raw) == (False, False, INVENTED, INVENTED)
    assert doubted.doubt == NOTHING_SUPPORTED and not doubted.unsupported  # it does cite a story it was shown
    assert doubted.closest  # the stories that might hold the answer
    uncited = answer(fake_engine, "You can follow it.")
    assert (uncited.withheld, uncited.doubt, uncited.unsupported, uncited.answer) == (True, UNCITED, True, REFUSAL)
    shown = answer(fake_engine, "You can follow it.", strict=False)
    assert (shown.refused, shown.withheld, shown.answer, shown.doubt) == (False, False, "You can follow it.", UNCITED)


def test_a_supported_answer_to_a_question_its_story_carries_is_neither_withheld_nor_doubted(fake_engine):
    a = answer(fake_engine, TRACKED, "Can a customer track the delivery status of an order?")
    assert (a.refused, a.doubt, a.answer, [c.verified for c in a.citations]) == (False, "", TRACKED, [True])
    assert a.no_story_says is None and a.closest == []


def test_a_supported_answer_its_story_does_not_carry_says_so_and_lists_what_might(fake_engine):
    """The reader does not know that following a parcel is tracking an order: the answer says it cannot tell."""
    a = answer(fake_engine, TRACKED)
    assert not a.doubt and [c.verified for c in a.citations] == [True]
    assert a.gap_line == "No story answers “How can I follow my parcel?”; closest: [paste-9] (print packing slips order)"
    assert [s.id for s in a.closest] == ["paste-9"]  # the only hit: paste-4 shares no word and is 0.36 close


def test_a_model_refusal_is_not_doubted(fake_engine):
    a = answer(fake_engine, REFUSAL)
    assert a.refused and not a.doubt and not a.withheld and a.answer == REFUSAL


def test_repeated_sentences_and_an_empty_opener_are_cut_from_the_answer_and_kept_in_the_raw_text(fake_engine):
    raw = f"{TRACKED} {TRACKED}\n\nThe answer is:"
    a = answer(fake_engine, raw)
    assert a.answer == TRACKED and a.raw == raw
    assert [s.cut for s in a.support.sentences] == ["", REPEAT, EMPTY_OPENER]


def test_the_json_has_one_record_per_sentence_and_keeps_the_existing_fields(fake_engine):
    payload = answer(fake_engine, PARCEL_ANSWER).to_json()
    assert payload["answer"] == payload["raw"] == PARCEL_ANSWER
    assert [c["valid"] for c in payload["citations"]] == [True, True]
    assert [c["verified"] for c in payload["citations"]] == [False, True]
    invented, faithful = payload["sentences"]
    assert invented["text"] == INVENTED and invented["cites"] == ["paste-9"] and invented["verdict"] == UNSUPPORTED
    assert set(invented["unsupported_words"]) == {"customer", "follow"}
    assert invented["misquote"] == {
        "id": "paste-9", "claimed": "As a customer, I want to follow where my parcel is.",
        "library": "As a warehouse clerk, I want to print packing slips for each order, so that parcels hold the right books.",
        "owner": "",
    }
    assert faithful["text"] == f"The answer is: {FAITHFUL}" and faithful["cut"] == ""
    assert (faithful["verdict"], faithful["backed_by"], faithful["misquote"]) == (SUPPORTED, ["paste-10"], None)
    assert payload["doubt"] == "" and payload["missing"] is None


def test_a_question_word_no_story_mentions_gets_the_missing_line_also_when_the_gate_refuses(fake_engine):
    question = "Can users pay with PayPal?"
    line = 'No story mentions "PayPal"; closest: [paste-3] (credit card)'
    answered = answer(fake_engine, "[paste-3] As a customer, I want to pay by credit card.", question)
    assert answered.missing.line() == line
    assert answered.to_json()["missing"] == {"words": ["PayPal"], "closest": "paste-3", "line": line}
    fake_engine.reply, fake_engine.calls = "unused", []
    gated = Pipeline(fake_engine, options=AnswerOptions(min_match=0.99)).answer(question, STORIES)
    assert gated.gated and fake_engine.calls == [] and gated.missing.line() == line


def test_every_question_word_a_story_holds_gets_no_missing_line(fake_engine):
    assert answer(fake_engine, TRACKED, "Can a customer track the delivery of an order?").missing is None


def test_the_chat_marks_unsupported_sentences_and_gives_a_check_mark_only_to_verified_citations(fake_engine):
    shown, evidence, *_ = answer_messages(answer(fake_engine, PARCEL_ANSWER).to_json())
    assert shown["content"].startswith('<span class="sentence-unsupported" title="unsupported: no story it cites says ')
    assert f"⚠ {INVENTED}</span> The answer is: {FAITHFUL}" in shown["content"]
    assert evidence["metadata"]["title"] == "Evidence: 2 cited stories checked, 1 supports the answer"
    paste9, paste10 = evidence["content"].split("\n")
    assert paste9.startswith("- ⚠ **[paste-9]**") and "No sentence of the answer is supported by it." in paste9
    assert paste10.startswith("- ✓ **[paste-10]**")


def test_a_marked_sentence_that_is_a_list_item_stays_a_list_item(fake_engine):
    shown, *_ = answer_messages(answer(fake_engine, f"{TRACKED}\n1. [paste-4] Customers follow parcels by drone.", strict=False).to_json())
    assert ('\n1. <span class="sentence-unsupported" title="unsupported: no story it cites says '
            'follow, parcels, drone">⚠ [paste-4] Customers follow parcels by drone.</span>') in shown["content"]


def test_the_evidence_panel_shows_a_misquote_beside_the_library_text(fake_engine):
    _, evidence, *_ = answer_messages(answer(fake_engine, PARCEL_ANSWER).to_json())
    paste9 = evidence["content"].split("\n")[0]
    assert (
        "<br>Misquoted [paste-9]: the answer says “As a customer, I want to follow where my parcel is.”; "
        "the story says “As a warehouse clerk, I want to print packing slips for each order, "
        "so that parcels hold the right books.”"
    ) in paste9


def test_the_chat_shows_model_text_in_a_marked_sentence_as_text(fake_engine):
    shown, *_ = answer_messages(answer(fake_engine, '[paste-9] <img src=x onerror="alert(1)"> follows parcels.', strict=False).to_json())
    assert "<img" not in shown["content"] and "&lt;img src=x" in shown["content"]
    assert shown["content"].count("<span") == 1 and 'title="unsupported' in shown["content"]


def test_the_chat_warns_of_an_answer_with_no_supported_sentence_and_shows_the_missing_line(fake_engine):
    messages = answer_messages(answer(fake_engine, "[paste-3] Users pay with PayPal.", "Can users pay with PayPal?").to_json())
    assert messages[0]["content"].endswith('\n\nNo story mentions "PayPal"; closest: [paste-3] (credit card)')
    assert 'class="sentence-' in messages[0]["content"]
    [warning] = [m for m in messages if m.get("metadata", {}).get("title") == "⚠ Unsupported answer"]
    assert warning["content"] == f"This answer {NOTHING_SUPPORTED}. Check it against the stories."


def test_the_chat_shows_a_withheld_answer_with_the_reason(fake_engine):
    messages = answer_messages(answer(fake_engine, "Users pay with PayPal.", "Can users pay with PayPal?").to_json())
    assert messages[0]["content"].startswith(REFUSAL)
    titles = [m.get("metadata", {}).get("title", "") for m in messages]
    assert f"⚠ Model's raw answer (withheld: it {UNCITED})" in titles


def test_a_refusal_with_close_stories_lists_them_as_possibly_relevant(fake_engine, capsys):
    gated = Pipeline(fake_engine).answer("Can shoppers keep a list of books to purchase at a later time?", STORIES)
    assert gated.gated and gated.closest
    [panel] = [m for m in answer_messages(gated.to_json()) if m.get("metadata", {}).get("title") == "Possibly relevant:"]
    assert f"**[{gated.closest[0].id}]**" in panel["content"] and "No story matches" not in str(answer_messages(gated.to_json()))
    print_answer(gated, as_json=False)
    assert f"Possibly relevant:\n  [{gated.closest[0].id}]" in capsys.readouterr().out


def test_the_cli_prints_the_doubt_the_flagged_sentences_the_misquote_and_the_cut_answer(fake_engine, capsys):
    print_answer(answer(fake_engine, PARCEL_ANSWER), as_json=False)
    out = capsys.readouterr().out
    assert "  ⚠ unsupported: no story it cites says " in out and f"; it misquotes [paste-9]: {INVENTED}" in out
    assert "  ⚠ [paste-9] " in out and "  ✓ [paste-10] " in out
    assert "      Misquoted [paste-9]: the answer says “As a customer, I want to follow where my parcel is.”" in out
    print_answer(answer(fake_engine, INVENTED), as_json=False)
    assert f"This answer {NOTHING_SUPPORTED}. Check it against the stories." in capsys.readouterr().out
    print_answer(answer(fake_engine, "You can follow it."), as_json=False)
    assert f"Withheld: the model's answer {UNCITED}.\n{REFUSAL}" in capsys.readouterr().out
    print_answer(answer(fake_engine, f"{TRACKED} {TRACKED}\n\nThe answer is:"), as_json=False)
    assert f"[shown without its repeated sentences and empty openers]\n{TRACKED}\n" in capsys.readouterr().out


@pytest.mark.parametrize("reply", [PARCEL_ANSWER, INVENTED])
def test_the_markdown_transcript_says_what_the_chat_says(fake_engine, reply):
    a = answer(fake_engine, reply)
    text = to_markdown(Conversation().add(answered(PARCEL, a)).turns, "bookshop")
    assert "- ⚠ [paste-9] As a warehouse clerk" in text and "  - Misquoted [paste-9]: the answer says" in text
    if a.doubt:
        assert f"This answer {NOTHING_SUPPORTED}. Check it against the stories." in text
    else:
        assert "- ✓ [paste-10] " in text and "guess a password. (paste:10)\n" in text and "books. (paste:9)\n" in text
        assert f"- ⚠ unsupported: no story it cites says customer, follow; it misquotes [paste-9]: {INVENTED}" in text


def test_an_answer_whose_supported_sentence_is_a_claim_of_absence_checked_against_every_story_has_no_doubt(fake_engine):
    """The claim backs no citation's ✓ (its story does not say it), yet it is a supported sentence: no warning."""
    a = answer(fake_engine, "[paste-3] No, no story says that customers pay with PayPal.", "Can customers pay with PayPal?")
    [sentence] = a.support.sentences
    assert sentence.verdict == SUPPORTED and sentence.judgement.note == "checked: no story mentions customers pay with PayPal"
    assert not a.citations[0].verified and a.doubt == ""
    assert "This answer" not in " ".join(m["content"] for m in answer_messages(a.to_json()))
