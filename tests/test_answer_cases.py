"""The five cases of issue 16, asked of the bundled model through the pipeline.

Four are on 13 pasted bookshop stories (tests/data/bookshop.txt), one on the
g04 recycling backlog. The check itself is tested in test_support.py, what the
user sees of it on a FakeEngine in test_answer_support.py.
"""

import re
from pathlib import Path

import pytest

from storychat.chats.conversation import Conversation, answered
from storychat.answer.support import PARAPHRASED, SUPPORTED, UNSUPPORTED
from storychat.stories.formats import read_file, read_text
from storychat.ui.render import answer_messages, escape
from tests.helpers import assert_contract, run

pytestmark = pytest.mark.model

BOOKSHOP = read_text((Path(__file__).parent / "data" / "bookshop.txt").read_text(encoding="utf-8")).stories
WISHLIST = "paste-5"  # "As a customer, I want to save books to a wishlist, so that I can buy them later."


def test_an_invented_sentence_under_a_real_id_is_marked_unsupported_and_gets_no_check_mark(pipeline):
    """The parcel question: the model writes, under a real id, a sentence that story does not hold.
    With meaning the gate refuses it (no story is close to "parcel"); ungated, the check must still flag it."""
    _, answer = run(pipeline.with_options(min_match=0.0), "How can I follow my parcel?", BOOKSHOP)
    by_id = {s.id: s for s in BOOKSHOP}
    invented = [s for s in answer.support.sentences if s.verdict == UNSUPPORTED and s.cites]
    assert invented, answer.raw
    supported_ids = {i for s in answer.support.sentences if s.verdict == SUPPORTED for i in s.judgement.backed_by}
    citations = {c.id: c for c in answer.citations}
    messages = answer_messages(answer.to_json())
    for sentence in invented:
        claim = re.sub(r"\[[^\]]*\]", "", sentence.text).strip()
        for story_id in sentence.cites:
            assert claim not in by_id[story_id].text  # it really is not the story's text
            if story_id not in supported_ids:
                assert citations[story_id].valid and not citations[story_id].verified
                assert f"- ⚠ **[{story_id}]**" in messages[1]["content"] and f"✓ **[{story_id}]**" not in messages[1]["content"]
        if not answer.withheld:
            assert '<span class="sentence-unsupported"' in messages[0]["content"]
    assert_contract(answer.to_json(), BOOKSHOP)


def test_a_misquoted_story_is_shown_beside_the_library_text(pipeline, dalpiaz):
    """The recycling-centre question: the model quotes g04-recycling-2 with words the story does not have."""
    stories = read_file(dalpiaz / "g04-recycling.txt").stories
    _, answer = run(pipeline, "How can I find recycling centers near me?", stories)
    misquotes = [s.judgement.misquote for s in answer.support.sentences if s.judgement.misquote]
    assert misquotes, answer.raw
    library = {s.id: s.text for s in stories}
    for misquote in misquotes:
        assert misquote.library == library[misquote.id] and misquote.claimed != misquote.library
    evidence = answer_messages(answer.to_json())[1]["content"]
    assert "Misquoted [" in evidence and "the story says “" in evidence
    assert_contract(answer.to_json(), stories)


def test_a_question_word_no_story_mentions_gets_a_line_naming_the_closest_story(pipeline):
    """The PayPal question, on a backlog with a credit-card story: refused by the gate or not, it gets the line;
    the model's answer (asked with the gate off) is checked like any other."""
    _, gated = run(pipeline, "Can users pay with PayPal?", BOOKSHOP)
    assert gated.missing.line() == 'No story mentions "PayPal"; closest: [paste-3] (credit card)'
    _, answer = run(pipeline.with_options(min_match=0.0), "Can users pay with PayPal?", BOOKSHOP)
    line = 'No story mentions "PayPal"; closest: [paste-3] (credit card)'
    assert answer.missing.line() == line
    assert answer.to_json()["missing"] == {"words": ["PayPal"], "closest": "paste-3", "line": line}
    assert answer_messages(answer.to_json())[0]["content"].endswith(f"\n\n{line}")
    # Whatever the model claims about PayPal, no story backs it: it is never shown as supported.
    about_paypal = [s for s in answer.support.sentences if "paypal" in s.text.lower() and not s.cut]
    assert all(s.verdict != SUPPORTED for s in about_paypal)
    assert_contract(answer.to_json(), BOOKSHOP)


def test_the_wishlist_paraphrase_is_answered_from_the_wishlist_story_or_lists_it_as_possibly_relevant(pipeline):
    _, answer = run(pipeline, "Can shoppers keep a list of books to purchase at a later time?", BOOKSHOP)
    if answer.gated:
        assert answer.closest[0].id == WISHLIST
    else:
        assert WISHLIST in [c.id for c in answer.evidence] + [s.id for s in answer.closest]


def test_a_follow_up_is_answered_from_the_story_the_previous_answer_cited(pipeline):
    question = "Can customers save books to a wishlist?"
    _, first = run(pipeline, question, BOOKSHOP)
    assert [c.id for c in first.evidence] == [WISHLIST]
    history = Conversation().add(answered(question, first)).history
    _, follow_up = run(pipeline, "Which role asked for that, and what is the benefit?", BOOKSHOP, history)
    assert not follow_up.gated and follow_up.raw.startswith(f"[{WISHLIST}]")
    assert WISHLIST in [c.id for c in follow_up.evidence]


# Issue 22: meaning beside words, on the 30-story HR leave export.

LEAVE = read_file(Path(__file__).parent / "data" / "leave.csv").stories
SALARIES = "Can managers see their employees' salaries?"


def test_a_question_no_story_answers_whose_words_partly_match_gets_no_bare_check_mark(pipeline):
    """Managers approve leave and see a team calendar; no story is about salaries."""
    _, answer = run(pipeline, SALARIES, LEAVE)
    assert answer.refused or answer.no_story_says, answer.raw
    # With the gate off the model must answer, and the answer then says that no story addresses the question.
    _, ungated = run(pipeline.with_options(min_match=0.0), SALARIES, LEAVE)
    assert not ungated.refused and ungated.evidence, ungated.raw
    line = ungated.no_story_says.line()
    assert line.startswith("No story says whether managers can see their employees' salaries; closest: [HR-")
    assert answer_messages(ungated.to_json())[0]["content"].endswith("\n\n" + escape(ungated.gap_line))
    assert ungated.to_json()["no_story_says"]["line"] == line and ungated.closest  # and what might answer it is listed
    assert_contract(ungated.to_json(), LEAVE)


def test_a_paraphrase_is_answered_from_the_story_it_means(pipeline):
    """"hand over approvals while away": the delegate story says it in other words and is ranked first."""
    _, answer = run(pipeline, "Can a manager hand over approvals while away?", LEAVE)
    assert not answer.gated and answer.raw.startswith("[HR-107]"), answer.raw
    assert answer.missing is None  # "hand" is not reported missing: the question is close to HR-107
    assert_contract(answer.to_json(), LEAVE)


def test_a_question_a_story_carries_restated_with_yes_is_supported_in_other_words(pipeline):
    """The bookshop's wishlist story, asked about in the question's own words."""
    question = "Can customers save books to read later?"
    _, answer = run(pipeline, question, BOOKSHOP)
    assert not answer.refused and answer.no_story_says is None, answer.raw
    verdicts = {s.verdict for s in answer.support.claims}
    assert verdicts & {SUPPORTED, PARAPHRASED} and answer.evidence[0].id == WISHLIST, answer.raw
    assert_contract(answer.to_json(), BOOKSHOP)
