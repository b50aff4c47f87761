from storychat.answer.citations import check_citations, extract_ids, is_refusal
from storychat.answer.prompt import REFUSAL
from storychat.stories import Story


def story(story_id: str) -> Story:
    return Story(id=story_id, text=f"As a user, I want {story_id}.", source="x.txt", line=1)


def test_ids_are_read_from_square_brackets_in_order_without_repeats():
    text = "See [g13-planningpoker-19] and [US-12, US-3]; also [US-12] again and [a1][b2]."
    assert extract_ids(text) == ["g13-planningpoker-19", "US-12", "US-3", "a1", "b2"]


def test_bracketed_prose_is_not_a_citation_but_a_known_word_id_is():
    assert extract_ids("an [optional description] of it") == []
    assert extract_ids("see [LOGIN]", known={"LOGIN"}) == ["LOGIN"]


def test_text_without_square_brackets_cites_nothing():
    assert extract_ids("As a moderator (US-1), I want a game.") == []


def test_a_made_up_id_is_flagged_invalid():
    known = {"US-1": story("US-1")}
    cites = check_citations("Per [US-1] and [US-999].", known, known)
    assert [(c.id, c.valid) for c in cites] == [("US-1", True), ("US-999", False)]
    assert cites[1].text == "" and cites[1].source == ""


def test_a_real_story_the_model_was_not_shown_is_invalid_but_identified():
    known = {"US-1": story("US-1"), "US-2": story("US-2")}
    cites = check_citations("[US-2]", {"US-1": known["US-1"]}, known)
    assert cites[0].valid is False and cites[0].text == known["US-2"].text


def test_the_refusal_sentence_is_recognised_with_any_punctuation_or_case():
    assert is_refusal(REFUSAL)
    assert is_refusal(REFUSAL.upper().rstrip("."))
    assert is_refusal("  " + REFUSAL + " Sorry.")


def test_an_answer_that_merely_mentions_not_finding_something_is_not_a_refusal():
    long_answer = "[US-1] says the moderator can invite estimators. " * 3 + REFUSAL
    assert not is_refusal(long_answer)
    assert not is_refusal("[US-1] The moderator creates a game.")
