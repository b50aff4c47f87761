"""The sentence-by-sentence support check: pure logic on the real g04 backlog and invented bookshop stories."""

from __future__ import annotations

import pytest

from storychat.answer.pipeline import GATE
from storychat.answer.prompt import REFUSAL
from storychat.answer.quantities import unmatched
from storychat.answer.retrieval import StoryIndex
from storychat.answer.support import (
    ECHOED_QUESTION,
    EMPTY_OPENER,
    NO_CLAIM,
    PARAPHRASED,
    PARTLY,
    REPEAT,
    SUPPORTED,
    UNSUPPORTED,
    check_support,
    checked_summary,
    judge,
    missing_terms,
    same_stem,
    split_sentences,
)
from storychat.stories import Story
from storychat.stories.formats import read_file, read_text
from tests.helpers import BOOKSHOP, DATA

LEAVE = DATA / "leave.csv"  # 30 invented HR stories, a Jira export


@pytest.fixture(scope="module")
def bookshop():
    return {s.id: s for s in read_text(BOOKSHOP).stories}


@pytest.fixture(scope="module")
def g04(dalpiaz):
    return {s.id: s for s in read_file(dalpiaz / "g04-recycling.txt").stories}


def sentences(answer, stories):
    return [(s.text, s.verdict) for s in check_support(answer, stories).sentences]


# The five cases of issue 16, as the bundled model wrote them.


def test_an_invented_sentence_under_a_real_id_is_unsupported(bookshop):
    """"How can I follow my parcel?": paste-9 is about packing slips, paste-10 about locking accounts."""
    answer = (
        "[paste-9] As a customer, I want to follow where my parcel is. "
        "The answer is: [paste-10] As an administrator, I want to lock an account after five failed logins."
    )
    invented, quoted = check_support(answer, bookshop).sentences
    assert invented.against == ("paste-9",)
    assert invented.verdict == UNSUPPORTED
    assert set(invented.judgement.unsupported) == {"customer", "follow"}
    assert invented.judgement.misquote.library == bookshop["paste-9"].text
    # The second sentence quotes paste-10 faithfully: supported (it answers another question, but says nothing false).
    assert quoted.verdict == SUPPORTED
    assert check_support(answer, bookshop).supported_ids() == ["paste-10"]


def test_a_misquoted_story_is_flagged_with_the_library_text(g04):
    answer = "[g04-recycling-2] As a customer, I want to ... before creating an account."
    (sentence,) = check_support(answer, g04).sentences
    assert sentence.verdict != SUPPORTED
    assert sentence.judgement.unsupported == ("customer",)
    misquote = sentence.judgement.misquote
    assert misquote.id == "g04-recycling-2"
    assert misquote.claimed == "As a customer, I want to ... before creating an account."
    assert misquote.library == (
        "As a user, I want to be able to anonymously view public information, "
        "so that I know about recycling centers near me before creating an account."
    )


def test_repeated_frame_sentences_are_cut_from_the_display_and_kept_in_the_raw_text(g04):
    answer = " ".join(
        f"The story that most related to the question is: [g04-recycling-{n}]." for n in range(1, 12)
    )
    support = check_support(answer, g04)
    assert [s.cut for s in support.sentences] == [""] + [REPEAT] * 10
    assert support.shown == "The story that most related to the question is: [g04-recycling-1]."
    assert support.raw == answer
    assert {s.verdict for s in support.sentences} == {NO_CLAIM}


def test_a_bare_answer_opener_at_the_end_is_cut(g04):
    answer = (
        "[g04-recycling-3] As a user, I want to be able to enter my zip code and get a list of nearby "
        "recycling facilities, so that I can determine which ones I should consider.\n\nThe answer is:"
    )
    support = check_support(answer, g04)
    assert [s.cut for s in support.sentences] == ["", EMPTY_OPENER]
    assert support.shown == answer[: answer.index("\n")]
    assert support.any_supported


def test_a_question_word_no_story_mentions_gets_a_missing_term_line(bookshop):
    missing = missing_terms("Can users pay with PayPal?", StoryIndex(list(bookshop.values())))
    assert missing.words == ("PayPal",)
    assert missing.closest.id == "paste-3"
    assert missing.line() == 'No story mentions "PayPal"; closest: [paste-3] (credit card)'


def test_a_story_repeated_under_other_ids_is_cut_and_the_copies_are_misquotes(bookshop):
    """"Can users pay with PayPal?": the credit-card story, written under three ids."""
    quote = "As a customer, I want to pay by credit card, so that I can complete my order online."
    answer = f"[paste-3] {quote} [paste-2] {quote} [paste-13] {quote}"
    first, second, third = check_support(answer, bookshop).sentences
    assert (first.verdict, first.cut, first.judgement.misquote) == (SUPPORTED, "", None)
    assert second.cut == third.cut == REPEAT
    assert second.judgement.misquote.library == bookshop["paste-2"].text
    assert third.judgement.misquote.library == bookshop["paste-13"].text
    assert check_support(answer, bookshop).supported_ids() == ["paste-3"]


# Splitting


def test_sentences_end_at_stops_and_line_breaks_but_not_after_abbreviations_ellipses_or_list_numbers():
    text = "[a1] Users pay, e.g. by card... or cash. Done!\n1. First item\nWhy? Because."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "[a1] Users pay, e.g. by card... or cash.",
        "Done!",
        "1. First item",
        "Why?",
        "Because.",
    ]


def test_sentence_offsets_point_into_the_raw_answer(g04):
    answer = "  [g04-recycling-4] As a user, I want to be able to get the hours of each recycling facility.  \n\n  Yes.  "
    for s in check_support(answer, g04).sentences:
        assert answer[s.start:s.end] == s.text


# Attribution


def test_a_sentence_without_a_citation_is_judged_against_the_stories_cited_just_before_it(g04):
    answer = (
        "[g04-recycling-4] As a user, I want to be able to get the hours of each recycling facility. "
        "The answer is: the hours of each facility. [g04-recycling-1] Users can click on the address. "
        "It takes users to Google Maps in a new tab."
    )
    against = [s.against for s in check_support(answer, g04).sentences]
    assert against == [("g04-recycling-4",), ("g04-recycling-4",), ("g04-recycling-1",), ("g04-recycling-1",)]
    assert [v for _, v in sentences(answer, g04)] == [SUPPORTED] * 4


def test_a_bare_citation_line_lends_its_story_to_the_next_sentence(g04):
    answer = "[g04-recycling-3]\nUsers enter their zip code to get a list of nearby recycling facilities."
    citation, claim = check_support(answer, g04).sentences
    assert citation.verdict == NO_CLAIM
    assert claim.against == ("g04-recycling-3",) and claim.verdict == SUPPORTED


def test_a_claim_before_any_citation_has_no_story_to_back_it(g04):
    (sentence,) = check_support("Users can recycle batteries at every center.", g04).sentences
    assert sentence.against == () and sentence.verdict == UNSUPPORTED


def test_a_sentence_citing_an_id_that_is_not_a_story_is_unsupported(g04):
    (sentence,) = check_support("[g04-recycling-999] Users can enter their zip code.", g04).sentences
    assert sentence.cites == ("g04-recycling-999",) and sentence.verdict == UNSUPPORTED


def test_a_sentence_citing_two_stories_is_judged_against_both_and_credits_the_ones_that_back_it(g04):
    answer = "[g04-recycling-3, g04-recycling-1] Users enter their zip code and click on the address."
    (sentence,) = check_support(answer, g04).sentences
    assert sentence.verdict == SUPPORTED
    assert sentence.judgement.backed_by == ("g04-recycling-3", "g04-recycling-1")
    lone = "[g04-recycling-3, g04-recycling-1] Users enter their zip code."
    assert check_support(lone, g04).sentences[0].judgement.backed_by == ("g04-recycling-3",)


# Judging one sentence


def test_a_faithful_quote_and_a_quote_cut_off_by_the_token_limit_are_supported(g04):
    story = g04["g04-recycling-4"]
    assert judge(f"[{story.id}] {story.text}", [story]).verdict == SUPPORTED
    assert judge(f"[{story.id}] As a user, I want to be able to get the hours of each", [story]).verdict == SUPPORTED


def test_inflections_and_a_restated_goal_are_supported(g04):
    story = g04["g04-recycling-3"]
    assert judge("Yes: users can enter a zip code and get lists of the nearby recycling facility.", [story]).verdict == SUPPORTED


def test_a_sentence_with_some_words_of_the_story_is_partly_supported_with_the_others_named(g04):
    judgement = judge("Users can enter their zip code to book a pick up truck.", [g04["g04-recycling-3"]])
    assert judgement.verdict == PARTLY
    assert judgement.unsupported == ("book", "pick", "truck")


def test_a_sentence_with_no_word_of_the_story_is_unsupported(g04):
    judgement = judge("Yes, the archive checks submitted papers for plagiarism.", [g04["g04-recycling-3"]])
    assert judgement.verdict == UNSUPPORTED
    assert judgement.unsupported == ("archive", "checks", "submitted", "papers", "plagiarism")


def test_a_negation_the_story_does_not_make_is_not_supported(g04):
    judgement = judge("Users cannot get the hours of each recycling facility.", [g04["g04-recycling-4"]])
    assert judgement.verdict in (PARTLY, UNSUPPORTED) and judgement.unsupported[0] == "cannot"
    assert judge("Users don't get the hours.", [g04["g04-recycling-4"]]).unsupported == ("not",)


def test_a_number_the_story_does_not_hold_is_unsupported(bookshop):
    judgement = judge("An account is locked after 3 failed logins.", [bookshop["paste-10"]])
    assert judgement.verdict == PARTLY and judgement.unsupported == ("3",)


def test_a_quoted_span_must_be_in_the_story(g04):
    story = g04["g04-recycling-1"]
    assert judge('The story asks to "click on the address" to open Google Maps.', [story]).misquote is None
    misquote = judge('The story asks to "click on the map pin" for directions.', [story]).misquote
    assert misquote.claimed == "click on the map pin" and misquote.library == story.text


def test_a_quote_with_the_wrong_role_is_a_misquote_even_when_every_word_is_in_the_story(bookshop):
    """paste-7's text holds "customers", but its role is store manager."""
    judgement = judge("As a customer, I want to add new books to the catalogue.", [bookshop["paste-7"]])
    assert judgement.misquote.library == bookshop["paste-7"].text
    assert judgement.verdict != SUPPORTED


def test_openers_frame_sentences_bare_citations_and_the_refusal_make_no_claim(g04):
    stories = [g04["g04-recycling-1"]]
    for text in ("The answer is:", "[g04-recycling-1]", "The story most related to the question is:", REFUSAL, "Yes."):
        assert judge(text, stories).verdict == NO_CLAIM, text


def test_the_refusal_is_never_cut(g04):
    support = check_support(REFUSAL, g04)
    assert support.shown == REFUSAL and support.sentences[0].cut == ""


def test_an_opener_with_its_answer_on_the_next_line_is_kept(g04):
    answer = "[g04-recycling-4] As a user, I want to be able to get the hours of each recycling facility.\n\nThe answer is:\nThe hours of each facility."
    support = check_support(answer, g04)
    assert [s.cut for s in support.sentences] == ["", "", ""]
    assert support.shown == answer


def test_an_answer_cut_off_after_an_opener_word_loses_the_fragment(g04):
    answer = "[g04-recycling-4] As a user, I want to be able to get the hours of each recycling facility.\n\nThe answer"
    support = check_support(answer, g04)
    assert [s.cut for s in support.sentences] == ["", EMPTY_OPENER]
    assert support.shown == answer[: answer.index("\n")]


def test_the_displayed_answer_keeps_the_line_breaks_between_kept_sentences(g04):
    answer = "[g04-recycling-1] Users click on the address.\nUsers click on the address.\n\nIt takes me to Google Maps."
    assert check_support(answer, g04).shown == "[g04-recycling-1] Users click on the address.\n\nIt takes me to Google Maps."


# Missing terms


def test_every_question_word_in_some_story_gives_no_missing_term_line(bookshop):
    assert missing_terms("Can customers pay by credit card?", StoryIndex(list(bookshop.values()))) is None


def test_with_meaning_a_question_close_to_a_story_misses_none_of_its_common_words(bookshop, embedder):
    """"shoppers" and "purchase": no story has them, but the gift-card story is close to the question in meaning."""
    index = StoryIndex(list(bookshop.values()), embedder)
    assert missing_terms("Can shoppers purchase gift cards?", index, GATE["meaning"]) is None
    assert missing_terms("Can users purchase gift cards?", index, GATE["meaning"]) is None


def test_by_words_alone_every_word_no_story_holds_is_missing_but_users_are_the_stories_roles(bookshop):
    index = StoryIndex(list(bookshop.values()))
    assert missing_terms("Can buyers purchase gift cards?", index).words == ("buyers", "purchase")
    assert missing_terms("Can users buy gift cards?", index) is None


def test_hand_over_is_carried_by_meaning_and_paypal_whatsapp_kubernetes_are_missing(bookshop, embedder):
    leave = StoryIndex([s for s in read_file(LEAVE).stories], embedder)
    shop = StoryIndex(list(bookshop.values()), embedder)
    assert missing_terms("Can a manager hand over approvals while away?", leave, GATE["meaning"]) is None
    assert missing_terms("Can users pay with PayPal?", shop, GATE["meaning"]).words == ("PayPal",)
    assert "WhatsApp" in missing_terms("Can customers chat with support on WhatsApp?", shop, GATE["meaning"]).words
    assert "Kubernetes" in missing_terms("Does the shop run on Kubernetes?", shop, GATE["meaning"]).words


def test_a_follow_up_about_the_parts_of_a_story_names_no_missing_word(bookshop):
    index = StoryIndex(list(bookshop.values()))
    assert missing_terms("Which role asked for that, and what is the benefit?", index) is None


def test_words_written_apart_in_a_story_cover_the_joined_word(g04):
    """g04-recycling-5: "a flexible pick up time"."""
    missing = missing_terms("Can I choose a pickup time?", StoryIndex(list(g04.values())))
    assert missing is None


def test_a_question_no_story_shares_a_word_with_names_no_closest_story(bookshop):
    missing = missing_terms("Is there a dark theme?", StoryIndex(list(bookshop.values())))
    assert missing.words == ("dark", "theme") and missing.closest is None
    assert missing.line() == 'No story mentions "dark" or "theme"'


def test_stems_the_light_stemmer_leaves_apart_are_matched_and_short_or_different_words_are_not():
    assert same_stem("recycl", "recycle") and same_stem("deliveri", "delivery") and same_stem("creat", "creation")
    assert not same_stem("sign", "signal") and not same_stem("card", "cart") and not same_stem("organiz", "organization")


def test_an_echoed_question_makes_no_claim(g04):
    stories = [g04["g04-recycling-3"]]
    assert judge("Question: Can I get a list of recycling facilities by zip code?", stories).verdict == NO_CLAIM
    assert judge("Question: Can external developers use our data in their", stories).verdict == NO_CLAIM


def test_a_bare_yes_claims_what_the_question_asks(g04):
    stories = [g04["g04-recycling-4"]]
    judgement = judge("The answer is: Yes.", stories, "Can users bookmark the drop-off places they like?")
    assert judgement.verdict != SUPPORTED and judgement.unsupported == ("bookmark", "places")
    assert judge("Yes, we can.", stories, "Can we get the hours of each recycling facility?").verdict == SUPPORTED


def test_a_yes_cut_off_by_the_token_limit_still_claims_what_the_question_asks(g04):
    judgement = judge("[g04-recycling-4] Yes, users can", [g04["g04-recycling-4"]], "Can users bookmark the drop-off places they like?")
    assert judgement.verdict != SUPPORTED and "bookmark" in judgement.unsupported


def test_a_single_capital_letter_is_a_word_of_the_claim(g04):
    judgement = judge("Yes, you can.", [g04["g04-recycling-4"]], "Can I get the hours of each recycling facility in R?")
    assert judgement.verdict != SUPPORTED and judgement.unsupported == ("R",)


def test_a_bare_no_claims_the_question_negated_which_the_story_does_not_make(g04):
    judgement = judge("The answer is no.", [g04["g04-recycling-8"]], "Will users be told about upcoming events?")
    assert judgement.verdict == UNSUPPORTED and judgement.unsupported == ("told", "upcoming", "no")


def test_a_storys_negation_of_something_else_does_not_back_a_bare_no():
    """HR-107 says "requests are not stuck"; that does not say no manager can hand over approvals."""
    hr107 = [s for s in read_file(LEAVE).stories if s.id == "HR-107"]
    question = "Can a manager hand over approvals while away?"
    for claim in ("The answer is no.", "The story is not related to the question."):
        assert judge(claim, hr107, question).verdict in (PARTLY, UNSUPPORTED)


def test_an_opener_ending_in_a_colon_makes_no_claim_and_introduces_the_next_sentence(g04):
    answer = "[g04-recycling-4] The process is as follows:\n1. Users get the hours of each recycling facility."
    opener, step = check_support(answer, g04).sentences
    assert opener.verdict == NO_CLAIM and opener.cut == ""
    assert step.verdict == SUPPORTED


def test_a_citation_cut_off_by_the_token_limit_makes_no_claim(g04):
    support = check_support("[g04-recycling-4] Users get the hours of each facility. [g04-rec", g04)
    assert [s.verdict for s in support.sentences] == [SUPPORTED, NO_CLAIM]


def test_a_word_the_story_writes_inside_a_compound_is_found(g04):
    """g04-recycling-49's role is "recyclingfacility representative"."""
    judgement = judge("A recycling facility can update the type of material it accepts.", [g04["g04-recycling-49"]])
    assert judgement.verdict == SUPPORTED


def test_a_quote_that_swaps_goal_and_benefit_is_a_misquote_though_every_word_is_the_storys(g04):
    story = g04["g04-recycling-2"]
    swapped = "[g04-recycling-2] As a user, I want to know about recycling centers near me, so that I can anonymously view public information."
    judgement = judge(swapped, [story])
    assert judgement.unsupported == ()
    assert judgement.misquote.library == story.text and judgement.verdict == PARTLY


def test_a_summary_keeps_its_supported_sentences_and_drops_those_that_echo_the_instruction(bookshop):
    instruction = "These are all the stories of the role 'store manager'. Summarise what this role wants, citing the ids."
    summary = (
        "Question: These are all the stories of the role store manager. "
        "[paste-8] The store manager wants to see which books sell best each month. "
        "[paste-7] The manager also wants a dashboard of warehouse robots."
    )
    kept = "[paste-8] The store manager wants to see which books sell best each month."
    assert checked_summary(check_support(summary, bookshop, instruction), instruction) == kept
    echo = "Question: Summarise what this role wants, citing the ids."
    assert checked_summary(check_support(echo, bookshop, instruction), instruction) == ""


# Meaning: supported in other words, and what the tiny model leaves behind


def test_a_yes_that_restates_a_question_its_story_carries_is_supported_in_other_words(bookshop):
    wishlist = bookshop["paste-5"]
    question = "Can shoppers keep a list of books to purchase at a later time?"
    claim = "[paste-5] Yes, shoppers can keep a list of books to purchase at a later time."
    assert judge(claim, [wishlist], question).verdict in (PARTLY, UNSUPPORTED)  # by words: "shoppers", "keep"...
    judged = judge(claim, [wishlist], question, addressed={"paste-5"})
    assert judged.verdict == PARAPHRASED and judged.backed_by == ("paste-5",)


def test_an_invented_name_a_number_or_a_negation_is_never_supported_in_other_words(bookshop, g04):
    card = [bookshop["paste-3"]]
    assert judge("Yes, you can pay with PayPal.", card, "Can I pay with PayPal?", {"paste-3"}).verdict == PARTLY
    assert judge("Yes, you can pay in 3 instalments.", card, "Can I pay in 3 instalments?", {"paste-3"}).verdict != PARAPHRASED
    assert judge("No, customers cannot pay online.", card, "Can customers pay online?", {"paste-3"}).verdict != PARAPHRASED


def test_words_the_question_does_not_use_are_not_supported_in_other_words(bookshop):
    judged = judge("Yes, customers pay by card and get free gifts.", [bookshop["paste-3"]], "Can customers pay by card?", {"paste-3"})
    assert judged.verdict != PARAPHRASED and "gifts" in judged.unsupported


def test_an_echoed_question_line_is_cut_and_kept_in_the_raw_text(bookshop):
    answer = "[paste-4] As a customer, I want to track the delivery status of my order.\nQuestion: Can I track my order?"
    support = check_support(answer, bookshop)
    assert [s.cut for s in support.sentences] == ["", ECHOED_QUESTION]
    assert support.shown == answer.split("\n")[0] and support.raw == answer


def test_another_storys_text_under_the_wrong_id_says_whose_words_they_are(bookshop):
    quote = "As a customer, I want to pay by credit card, so that I can complete my order online."
    wrong = check_support(f"[paste-2] {quote}", bookshop).sentences[0].judgement
    assert wrong.misquote.id == "paste-2" and wrong.misquote.owner == "paste-3"
    assert check_support(f"[paste-2] {quote}", bookshop).sentences[0].why().endswith("; these are [paste-3]'s words")


def test_an_uncited_no_after_a_citation_is_judged_against_that_story_and_flagged(bookshop):
    answer = "[paste-5] As a customer, I want to save books to a wishlist, so that I can buy them later. The answer is no."
    quoted, no = check_support(answer, bookshop, "Can customers keep a list of books?").sentences
    assert quoted.verdict == SUPPORTED and no.against == ("paste-5",) and no.flagged


HR = {
    "HR-103": "As an employee, I want to cancel a leave request that has not started yet, so that I can change my plans.",
    "HR-106": "As a manager, I want to see a team calendar of who is on leave, so that enough people are at work.",
    "HR-110": "As an HR advisor, I want unused leave days to carry over to the next year up to a limit, so that people do "
              "not lose their holidays. Acceptance criteria: Given an employee has 7 unused days, when the year ends, "
              "then at most 5 are carried over.",
    "HR-118": "As an employee, I want to request parental leave of several months.",
    "HR-125": "As an IT administrator, I want to deactivate the accounts of people who leave the company.",
    "HR-126": "As an HR advisor, I want leave to be kept for six years.",
}
LEAVE_STORIES = {i: Story(i, text, "leave.csv", n) for n, (i, text) in enumerate(HR.items(), 1)}


def _leave(*ids):
    return [LEAVE_STORIES[i] for i in ids]


def test_a_sentence_before_its_paragraphs_only_citation_is_judged_against_it():
    support = check_support("Managers can see a team calendar of who is on leave. It shows who is at work [HR-106].", LEAVE_STORIES)
    assert support.sentences[0].against == ("HR-106",) and support.sentences[0].verdict == SUPPORTED


def test_a_late_citation_does_not_reach_into_the_next_paragraph():
    support = check_support("Managers can see a team calendar.\n\nIt shows who is at work [HR-106].", LEAVE_STORIES)
    assert support.sentences[0].against == ()


def test_a_yes_opener_is_judged_with_its_restatement_when_the_story_addresses_the_question():
    said = "Yes, managers can see a team calendar of who is on leave."
    question = "Do bosses get a holiday planner?"
    assert judge(said, _leave("HR-106"), question, addressed={"HR-106"}).verdict == SUPPORTED
    assert judge(said, _leave("HR-106"), question).verdict in (PARTLY, UNSUPPORTED)


def test_a_list_is_judged_clause_by_clause_against_the_story_each_clause_cites():
    said = "Employees can request parental leave of several months [HR-118] and managers see a team calendar [HR-106]."
    assert judge(said, _leave("HR-118", "HR-106")).verdict == SUPPORTED
    swapped = "Employees can request parental leave of several months [HR-106] and managers see a team calendar [HR-118]."
    assert judge(swapped, _leave("HR-118", "HR-106")).verdict == UNSUPPORTED


def test_a_negation_flip_in_the_storys_own_words_is_flagged():
    judgement = judge("An employee can cancel a leave request after it has started.", _leave("HR-103"))
    assert judgement.verdict in (PARTLY, UNSUPPORTED) and "start" in judgement.unsupported


def test_without_where_the_story_says_with_is_flagged():
    judgement = judge("Unused leave days carry over to the next year without any limit.", _leave("HR-110"))
    assert judgement.verdict in (PARTLY, UNSUPPORTED) and "not limit" in judgement.unsupported


def test_a_number_the_story_holds_for_another_thing_is_a_mismatch():
    assert "7" in judge("At most 7 unused days are carried over.", _leave("HR-110")).unsupported
    assert judge("An employee with 7 unused days keeps at most 5 of them.", _leave("HR-110")).unsupported == ("keeps",)


def test_a_number_in_words_or_digits_is_the_same_number():
    assert judge("Leave is kept for 6 years.", _leave("HR-126")).verdict == SUPPORTED


def test_a_true_claim_of_absence_is_supported_and_says_it_was_checked():
    judgement = judge("No story mentions Slack.", _leave("HR-106"), library=LEAVE_STORIES.values())
    assert judgement.verdict == SUPPORTED and judgement.note == "checked: no story mentions Slack"


def test_a_claim_of_absence_after_no_is_checked_as_one():
    """The bundled model answers "Does any story say ...?" with "[HR-104] No, no story says that ..."."""
    judgement = judge("[HR-106] No, no story says that managers see the calendar in Slack.", _leave("HR-106"), library=LEAVE_STORIES.values())
    assert judgement.verdict == SUPPORTED and judgement.note == "checked: no story mentions managers see the calendar in Slack"
    false = judge("No, the stories do not say who can see a team calendar.", _leave("HR-106"), library=LEAVE_STORIES.values())
    assert false.verdict == UNSUPPORTED and false.note == "[HR-106] mentions who can see a team calendar"


def test_a_false_claim_of_absence_is_unsupported_and_names_the_story():
    judgement = judge("There is no story about deactivating accounts.", _leave("HR-106"), library=LEAVE_STORIES.values())
    assert judgement.verdict == UNSUPPORTED and judgement.note == "[HR-125] mentions deactivating accounts"


def test_a_hedge_is_judged_as_what_it_hedges():
    assert judge("It seems that managers can see a team calendar of who is on leave.", _leave("HR-106")).verdict == SUPPORTED


def test_a_paraphrase_with_an_irregular_form_of_the_storys_word_is_supported():
    assert judge("People who leave the company have their accounts deactivated.", _leave("HR-125")).verdict == SUPPORTED


# Issue 33, point 2: words a story says in other words.

HR_102 = Story("HR-102", "As an employee, I want to see how many days of leave I have left this year, so that I know what I can still book.",
               "leave.csv", 2)


def test_a_synonym_of_the_storys_word_is_supported_in_other_words():
    said = "You can see how many leave days are remaining this year."
    judgement = judge(said, [HR_102], "How many days off do I have?")
    assert judgement.verdict == PARAPHRASED and judgement.reworded == (("remaining", "left"),)
    assert check_support(f"[HR-102] {said}", {"HR-102": HR_102}, "How many days off do I have?").sentences[0].why() == (
        'supported in other words: [HR-102] says "left" for "remaining"'
    )


def test_another_form_of_the_storys_word_that_the_stemmer_misses_is_not_taken_for_a_synonym():
    story = Story("D-61", "As a researcher, I want to load data using Data Package tooling.", "g08", 61)
    judgement = judge("You can use Data Package tooling to load data.", [story])
    assert judgement.verdict == PARTLY and judgement.unsupported == ("use",)


def test_a_synonym_does_not_cover_another_new_word_of_the_sentence():
    judgement = judge("You can see how many leave days are remaining this year on your phone.", [HR_102])
    assert judgement.verdict == PARTLY and "phone" in judgement.unsupported


def test_a_word_opposite_to_the_storys_is_a_flip_and_never_supported_in_other_words():
    story = Story("S-1", "As an administrator, I want to unlock an account, so that its owner can log in again.", "t", 1)
    judgement = judge("An administrator can lock an account.", [story], "Can admins lock accounts?", addressed={"S-1"})
    assert judgement.verdict in (PARTLY, UNSUPPORTED) and "lock" in judgement.unsupported and not judgement.reworded


def test_an_acronym_of_the_storys_words_is_said_in_other_words():
    story = Story("HR-116", "As an IT administrator, I want employees to log in with the company's single sign-on.", "leave.csv", 16)
    judgement = judge("Employees log in with the company's SSO.", [story], "Is there SSO?", addressed={"HR-116"})
    assert judgement.verdict == PARAPHRASED and judgement.reworded == (("SSO", "single sign on"),)


def test_a_storys_abbreviation_that_is_no_word_says_the_full_word():
    story = Story("U-19", "Bad geo query: this is missing the 'location' param of the query statement.", "usergrid", 19)
    judgement = judge("The query is missing the location parameter.", [story], "What is a bad geo query?", addressed={"U-19"})
    assert judgement.verdict == PARAPHRASED and judgement.reworded == (("parameter", "param"),)


def test_without_negates_its_object_only():
    story = Story("HR-130", "As an HR advisor, I want to enter leave requests that arrive by fax, so that staff without a computer can "
                  "ask for leave.", "leave.csv", 30)
    assert judge("Staff without a computer can still ask for leave.", [story]).verdict == SUPPORTED


def test_a_failure_says_what_the_storys_cannot_says():
    story = Story("U-35", "Cannot delete an entity that has a connection to it.", "usergrid", 35)
    assert judge("Deleting an entity that has a connection to it fails.", [story]).verdict == SUPPORTED
    assert judge("An entity that has a connection to it can be deleted.", [story]).verdict in (PARTLY, UNSUPPORTED)


def test_a_plural_in_es_meets_its_singular():
    story = Story("A-102", "As an OlderPerson, I want to have a game that includes my favourite sports.", "alfred", 102)
    assert judge("Older people want games that include their favourite sports.", [story]).verdict == SUPPORTED


def test_current_for_this_and_a_vague_quantity_claim_nothing_of_their_own():
    assert judge("You can see how many days of leave you have left for the current year.", [HR_102]).verdict == SUPPORTED
    assert judge("Several employees want to see how many days of leave they have left.", [HR_102]).verdict == SUPPORTED


def test_how_often_is_a_quantity():
    story = Story("A-111", "As an OlderPerson, I want help during the week with exercises that change daily.", "alfred", 111)
    assert judge("The exercises change every week.", [story]).unsupported == ("every",)
    assert unmatched("The exercises change every day.", story.text) == []


def test_a_phrasal_verb_split_by_its_object_is_said_by_the_storys_phrasal_verb():
    story = Story("A-44", "As an OlderPerson, I want to use ALFRED to turn on/off the lights.", "alfred", 44)
    judgement = judge("An older person can use ALFRED to switch the lights on.", [story])
    assert judgement.verdict == PARAPHRASED and judgement.reworded == (("switch", "turn on"),)


@pytest.mark.parametrize("claim", [
    "None of the stories mention Slack.", "The stories don't mention Slack.", "Slack is not mentioned in any story.",
    "There is no mention of Slack in the stories.", "No story in the backlog mentions Slack.", "I could not find any story about Slack.",
    "Neither story mentions Slack.", "The backlog has no story about Slack.", "The stories say nothing about Slack.",
])
def test_a_claim_of_absence_in_other_words_is_checked_against_every_story(claim):
    judgement = judge(claim, _leave("HR-106"), library=LEAVE_STORIES.values())
    assert judgement.verdict == SUPPORTED and judgement.note == "checked: no story mentions Slack"


def test_a_claim_that_it_is_not_stated_who_is_checked_against_every_story():
    judgement = judge("It is not stated in the stories who can view the audit trail.", _leave("HR-106"), library=LEAVE_STORIES.values())
    assert judgement.verdict == SUPPORTED and judgement.note == "checked: no story mentions who can view the audit trail"


def test_a_statement_that_the_stories_mention_something_is_no_claim_of_absence():
    assert judge("The stories mention a team calendar.", _leave("HR-106"), library=LEAVE_STORIES.values()).note == ""
