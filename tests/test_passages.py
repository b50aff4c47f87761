"""Issue 31, point 3: the evidence names the passage of an item that supports a sentence, and a long item enters
the context as its text and title plus its passages most relevant to the question, counted in the coverage line."""

from __future__ import annotations

from dataclasses import replace

import pytest

from storychat.answer.lines import lines
from storychat.answer.passages import EXCERPT, ITEM_CHARS, Passage, cut, excerpt, is_long, supporting
from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.answer.retrieval import StoryIndex
from storychat.chats.conversation import answered
from storychat.chats.transcript import to_markdown
from storychat.stories.formats import read_file
from storychat.stories.model import Comment
from storychat.text import stem
from tests.helpers import DATA, ROOT

USERGRID = read_file(DATA / "gpt2sp-usergrid.csv").stories  # five items of the shipped project, as written
REFRESH = "refresh tokens were in the core but were removed some time ago"
WHOLE_USERGRID = read_file(ROOT / "storychat" / "evals" / "data" / "gpt2sp" / "usergrid.csv").stories
# USERGRID-406: three sentences of cause and remedy, then a 1,400-character Java stack trace.
REMEDY = "we should pass the Entity that we created down into the add-to-collection and validate methods"
TRACE_TAIL = "ServiceResource.executePost"  # a frame that shares no word with the questions asked of it
USERGRID_INDEX = StoryIndex(WHOLE_USERGRID)


def by_words(question: str):
    """A long item's pieces scored against ``question`` as the search over the whole project scores stories, by words."""
    return lambda texts: USERGRID_INDEX.passage_scores(question, texts)


def words_of(sentence: str):
    wanted = {stem(w.lower()) for w in sentence.split()}
    return lambda word: stem(word.lower()) in wanted


def item(**parts):
    return replace(USERGRID[0], **parts)


def test_a_description_excerpt_is_about_200_characters_around_the_words_of_the_sentence():
    description = USERGRID[0].description
    shown = excerpt(description, words_of("Refresh tokens were in the core but were removed some time ago"))
    assert len(description) > EXCERPT
    assert REFRESH in shown and shown.startswith("… ") and len(shown) <= EXCERPT + 4
    assert not shown.startswith("… Need to add")  # the tightest run of the words, not their first one


def test_the_passage_that_backs_a_sentence_is_labelled_by_what_it_is():
    story = item(
        acceptance=("Given a client with a refresh token, when it asks for access, then it gets a new access token.",),
        comments=(Comment("The OAuth spec allows rotating them on each use.", "snoopdave", "2014-05-02"),),
    )
    assert supporting(story, words_of("The REST tier should expose the refresh token")) == Passage("title", story.text)
    assert supporting(story, words_of("Refresh tokens were removed from the core some time ago")).kind == "description"
    assert supporting(story, words_of("A client asking for access gets a new access token")).kind == "criterion"
    by = supporting(story, words_of("The spec allows rotating them on each use"))
    assert (by.label, by.line()) == ("comment by snoopdave", "comment by snoopdave: The OAuth spec allows rotating them on each use.")
    assert supporting(story, words_of("Salaries are paid monthly")) is None


def test_a_long_item_keeps_the_pieces_that_answer_the_question_in_reading_order_and_says_where_it_left_out():
    [story] = [s for s in WHOLE_USERGRID if s.id == "USERGRID-406"]
    assert is_long(story)
    brief = cut(story, by_words("What should we pass down into the add-to-collection and validate methods?"))
    assert REMEDY in brief.story.description and TRACE_TAIL not in brief.story.description
    assert " … " in brief.story.description  # where the trace was left out
    assert (brief.story.id, brief.story.text) == (story.id, story.text)
    assert brief.whole == len(story.description) and 0 < brief.kept <= ITEM_CHARS and brief.left_out == brief.whole - brief.kept


def test_a_long_item_that_nothing_in_the_question_bears_on_keeps_its_opening():
    [story] = [s for s in WHOLE_USERGRID if s.id == "USERGRID-406"]
    brief = cut(story, by_words("Which colour is the logo?"))
    assert brief.story.description.startswith(story.description[:80]) and brief.story.description.endswith(" …")
    assert TRACE_TAIL not in brief.story.description


def test_a_log_without_sentence_ends_is_cut_at_spaces_and_a_long_comment_like_a_description():
    log = " ".join(f"at org.apache.usergrid.Frame{i}.call(Frame{i}.java:{i})" for i in range(400))
    story = item(description=log, comments=(Comment("Fixed by retrying the read with quorum consistency. " * 40, "tnine"),))
    brief = cut(story, by_words("How was the read fixed?"))
    assert "Frame0.call" in brief.story.description or not brief.story.description  # its opening, if any room is left
    [comment] = brief.story.comments
    assert comment.author == "tnine" and "retrying the read with quorum" in comment.text
    assert brief.kept <= ITEM_CHARS < brief.whole


def test_the_answer_record_and_the_evidence_show_the_description_passage_that_supports_the_sentence(fake_engine):
    fake_engine.reply = "[USERGRID-17] Refresh tokens were in the core but were removed some time ago."
    record = Pipeline(fake_engine, options=AnswerOptions(max_tokens=60)).answer("What happened to refresh tokens in the core?", USERGRID).to_json()
    [sentence] = record["sentences"]
    [evidence] = sentence["evidence"]
    assert (sentence["verdict"], evidence["id"], evidence["kind"]) == ("supported", "USERGRID-17", "description")
    assert REFRESH in evidence["text"] and evidence["line"] == f"description: {evidence['text']}"
    [cite] = lines(record).citations
    assert cite.mark == "✓" and cite.details == (evidence["line"],)


def test_a_passage_is_shown_only_for_a_sentence_it_supports_and_never_the_text_the_citation_shows(fake_engine):
    fake_engine.reply = "[USERGRID-17] Refresh tokens were removed because they leaked passwords."
    record = Pipeline(fake_engine, options=AnswerOptions(max_tokens=60)).answer("What happened to refresh tokens in the core?", USERGRID).to_json()
    assert record["sentences"][0]["verdict"] != "supported" and record["sentences"][0]["evidence"]
    assert not [d for d in lines(record).citations[0].details if d.startswith("description:")]
    fake_engine.reply = "[USERGRID-17] The REST tier should expose the refresh token."
    record = Pipeline(fake_engine, options=AnswerOptions(max_tokens=60)).answer("What should the REST tier expose?", USERGRID).to_json()
    assert record["sentences"][0]["evidence"][0]["kind"] == "title" and lines(record).citations[0].details == ()


def test_a_jira_description_is_shown_as_evidence_in_readable_text(fake_engine):
    stories = read_file(DATA / "jira-all-fields.csv").stories
    fake_engine.reply = "[BILL-42] Totals of invoices with three lines are off by one cent: 3 x 0.333 = 0.999."
    record = Pipeline(fake_engine, options=AnswerOptions(max_tokens=60)).answer("Which invoices are off by one cent?", stories).to_json()
    shown = [d for c in lines(record).citations for d in c.details if d.startswith("description:")]
    assert shown == ["description: Totals of invoices with three or more lines are off by one cent. ``` 3 x 0.333 = 0.999 ```"]


def test_a_long_item_in_the_context_is_its_relevant_passages_and_the_coverage_line_counts_what_was_left_out(fake_engine):
    fake_engine.reply = f"[USERGRID-406] {REMEDY[0].upper()}{REMEDY[1:]}."
    answer = Pipeline(fake_engine, options=AnswerOptions(max_tokens=60)).answer(
        "What should we pass down into the add-to-collection and validate methods?", WHOLE_USERGRID
    )
    prompt = fake_engine.calls[-1][0].content
    assert REMEDY in prompt and TRACE_TAIL not in prompt
    coverage = answer.context
    assert coverage.cut_stories >= 1 and 0 < coverage.left_out_chars < coverage.cut_chars
    shown = lines(answer.to_json())
    assert (
        f"long stor{'y' if coverage.cut_stories == 1 else 'ies'} cut to {'its' if coverage.cut_stories == 1 else 'their'} most relevant passages, "
        f"{coverage.left_out_chars:,} of {coverage.cut_chars:,} characters left out"
    ) in shown.context
    [cite] = shown.citations
    assert cite.mark == "✓" and cite.details[0].startswith("description: ") and "add-to-collection" in cite.details[0]


def test_the_markdown_export_shows_the_passage_under_its_citation_and_the_cut_in_its_coverage_line(fake_engine):
    question = "What should we pass down into the add-to-collection and validate methods?"
    fake_engine.reply = f"[USERGRID-406] {REMEDY[0].upper()}{REMEDY[1:]}."
    answer = Pipeline(fake_engine, options=AnswerOptions(max_tokens=60)).answer(question, WHOLE_USERGRID)
    text = to_markdown([answered(question, answer)], "usergrid")
    assert "- ✓ [USERGRID-406] HTTP POST of Entity fails under heavy load (usergrid.csv:89)\n  - description: … " in text
    assert "cut to" in text and "most relevant passages" in text and "characters left out" in text


@pytest.mark.parametrize("n_ctx", [1024, 4096])
def test_one_huge_item_never_fails_an_answer_and_is_read_cut(fake_engine, n_ctx):
    trace = "java.lang.NullPointerException at org.apache.usergrid.Frame.call(Frame.java:856) " * 3000
    huge = item(description=f"The token endpoint fails when the refresh token is empty. {trace}")
    fake_engine.n_ctx = n_ctx
    fake_engine.reply = "[USERGRID-17] The token endpoint fails when the refresh token is empty."
    answer = Pipeline(fake_engine, options=AnswerOptions(max_tokens=60)).answer("When does the token endpoint fail?", [huge, *USERGRID[1:]])
    assert not answer.refused and answer.citations[0].valid and answer.context.cut_stories == 1
    assert "The token endpoint fails when the refresh token is empty." in fake_engine.calls[-1][0].content
    assert answer.context.left_out_chars > len(trace) - ITEM_CHARS


def test_a_record_kept_before_passages_and_cuts_renders_as_it_did(fake_engine):
    fake_engine.reply = "[USERGRID-17] Refresh tokens were in the core but were removed some time ago."
    record = Pipeline(fake_engine, options=AnswerOptions(max_tokens=60)).answer("What happened to refresh tokens in the core?", USERGRID).to_json()
    for sentence in record["sentences"]:
        del sentence["evidence"]
    for key in ("cut_stories", "cut_chars", "left_out_chars"):
        del record["context"][key]
    shown = lines(record)
    assert shown.citations[0].details == () and shown.context.startswith("Context: 5 of 5 stories")


@pytest.mark.model
def test_the_bundled_model_answers_from_a_description_and_the_evidence_is_that_passage(pipeline):
    """The bundled model, asked what only USERGRID-17's description says, answers "[USERGRID-17] No, refresh
    tokens were removed from the core.": supported by the description, which the evidence shows."""
    answer = pipeline.answer("Were refresh tokens ever in the core?", USERGRID)
    [cite] = lines(answer.to_json()).citations
    assert cite.id == "USERGRID-17" and cite.mark == "✓", answer.raw
    assert [d for d in cite.details if d.startswith("description: ") and REFRESH in d], (answer.raw, cite.details)


def test_with_meaning_on_the_pieces_closest_in_meaning_to_the_question_are_kept_where_words_tie(embedder):
    """Every frame of USERGRID-406's trace holds "java" and none holds "exception" or "thrown": by words they
    tie and the first ones are kept; by meaning the last frame is the closest to the question, and is kept."""
    [story] = [s for s in WHOLE_USERGRID if s.id == "USERGRID-406"]
    question = "Which Java exception is thrown and where?"
    by_meaning = StoryIndex(WHOLE_USERGRID, embedder)
    last_frame = "JavaMethodInvokerFactory"
    assert last_frame not in cut(story, by_words(question)).story.description
    assert last_frame in cut(story, lambda texts: by_meaning.passage_scores(question, texts)).story.description
