"""The cases of issue 16, asked of the bundled model through the pipeline, on 13 pasted bookshop stories."""

from pathlib import Path

import pytest

from storychat.answer.conversation import Conversation
from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.stories.formats import read_text

pytestmark = pytest.mark.model

BOOKSHOP = read_text((Path(__file__).parent / "data" / "bookshop.txt").read_text(encoding="utf-8")).stories
WISHLIST = "paste-5"  # "As a customer, I want to save books to a wishlist, so that I can buy them later."


@pytest.fixture(scope="module")
def bookshop(engine):
    return Pipeline(engine, options=AnswerOptions(max_tokens=48))


def test_the_wishlist_paraphrase_is_answered_from_the_wishlist_story_or_lists_it_as_possibly_relevant(bookshop):
    answer = bookshop.answer("Can shoppers keep a list of books to purchase at a later time?", BOOKSHOP)
    if answer.gated:
        assert answer.closest[0].id == WISHLIST
    else:
        assert WISHLIST in [c.id for c in answer.evidence]


def test_a_follow_up_is_answered_from_the_story_the_previous_answer_cited(bookshop):
    first = bookshop.answer("Can customers save books to a wishlist?", BOOKSHOP)
    assert [c.id for c in first.evidence] == [WISHLIST]
    history = Conversation().add("Can customers save books to a wishlist?", first).history
    follow_up = bookshop.answer("Which role asked for that, and what is the benefit?", BOOKSHOP, history)
    assert not follow_up.gated and not follow_up.refused
    assert follow_up.raw.startswith(f"[{WISHLIST}]") and WISHLIST in [c.id for c in follow_up.evidence]
