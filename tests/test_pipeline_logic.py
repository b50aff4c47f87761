"""The pipeline's own logic on a FakeEngine: search, context, gate, checks and conversation, in milliseconds.

What the model does with a prompt, and what the engine and its KV cache do,
is proved on the real model: test_pipeline.py, test_engine.py, test_kv_snapshots.py.
"""

import pytest

from storychat.answer import retrieval
from storychat.answer.context import QuestionError, fill_order
from storychat.answer.answer import Done, Token, final
from storychat.answer.history import ALL, NOTHING, ON_FOLLOW_UP
from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.answer.profiles import OPEN, TINY
from storychat.chats.conversation import Conversation, answered
from storychat.answer.prompt import REFUSAL, render_story
from storychat.llm.engine import MESSAGE_OVERHEAD
from storychat.stories import Story
from storychat.stories.formats import read_file

STORIES = [
    Story("US-1", "As a moderator, I want to start a game, so that we can estimate.", "poker.txt", 1),
    Story("US-2", "As an estimator, I want to see the item, so that I can vote.", "poker.txt", 2),
    Story("US-3", "As a moderator, I want to export a transcript as CSV, so that I can process estimates.", "poker.txt", 3),
    Story("N-1", "Sprint 4 starts on Monday", "poker.txt", 4, kind="note"),
]
# Enough stories that they do not fit a 1,024-token context: retrieval must choose.
BIG = STORIES + [
    Story(f"F-{n}", f"As a clerk, I want form {n} filed in drawer {n}, so that audit {n} passes.", "office.txt", n)
    for n in range(1, 80)
]
QUESTION = "Can the moderator export a transcript?"
CITED = "[US-3] The moderator exports a transcript."


def pipeline(engine, reply: str = CITED, n_ctx: int = 4096, **options) -> Pipeline:
    engine.reply, engine.n_ctx = reply, n_ctx
    return Pipeline(engine, options=AnswerOptions(**{"max_tokens": 64, **options}))


def test_answer_runs_the_event_stream_to_its_done(fake_engine):
    p = pipeline(fake_engine)
    events = list(p.ask(QUESTION, STORIES))
    assert isinstance(events[-1], Done) and final(events) == events[-1].answer
    answer = p.answer(QUESTION, STORIES)
    assert answer.raw == "".join(e.text for e in events if isinstance(e, Token)) == CITED
    assert [c.id for c in answer.evidence] == ["US-3"] and not answer.refused


def test_the_usage_that_ends_the_stream_becomes_the_timings(fake_engine):
    p = pipeline(fake_engine)
    answer = p.answer(QUESTION, STORIES)
    sent = fake_engine.calls[-1]
    assert answer.timings.completion_tokens == fake_engine.count(CITED)
    assert answer.timings.prompt_tokens == sum(fake_engine.count(m.content) + MESSAGE_OVERHEAD for m in sent)
    assert answer.timings.prefix_source == "prompt"


def test_one_search_per_question_also_when_retrieval_picks_the_stories(fake_engine, monkeypatch):
    builds = []
    index = retrieval.StoryIndex
    monkeypatch.setattr(retrieval, "StoryIndex", lambda stories, *args: builds.append(len(stories)) or index(stories, *args))
    p = pipeline(fake_engine, n_ctx=1024)
    first = p.answer(QUESTION, BIG)
    second = p.answer("What does the estimator see?", BIG)
    assert first.context.mode == second.context.mode == "retrieval"
    # One index of the stories (the note left out), searched once a question and kept for the next.
    assert builds == [len(BIG) - 1]


def test_retrieval_fills_the_room_for_stories_with_the_best_hits_and_says_so(fake_engine):
    p = pipeline(fake_engine, n_ctx=1024)
    context = p.prepare(QUESTION, BIG).context
    cov = context.coverage
    assert cov.mode == "retrieval" and 0 < cov.stories_in_context < cov.stories_total == len(BIG) - 1
    assert p.fit(context.stories).tokens <= p.fit([]).budget
    assert cov.tokens_in_context <= cov.n_ctx - 64
    assert context.hits[0].story.id == "US-3" and {h.story.id for h in context.hits} <= {s.id for s in context.stories}


def test_retrieval_fills_at_least_90_percent_of_the_story_budget_on_the_22_backlogs(fake_engine, dalpiaz):
    corpus = [s for path in sorted(dalpiaz.glob("g*.txt")) for s in read_file(path).stories]
    p = pipeline(fake_engine, n_ctx=8192)
    for question in ("Which stories are about FABS submissions?", "What does the UI designer want?"):
        context = p.prepare(question, corpus).context
        assert context.coverage.mode == "retrieval"
        assert p.fit(context.stories).tokens >= 0.9 * p.fit([]).budget
        assert all(h.story in context.stories for h in p.search(question, corpus)[:20])


def test_after_the_hits_retrieval_takes_their_backlogs_kin_then_their_backlog_then_the_rest():
    hit = Story("A-1", "As a moderator, I want to export a transcript.", "a.txt", 1, role="moderator", epic="Export")
    same_epic = Story("A-2", "As a clerk, I want a report.", "a.txt", 2, role="clerk", epic="Export")
    same_role = Story("A-3", "As a Moderator, I want to start a game.", "a.txt", 3, role="Moderator")
    same_backlog = Story("A-4", "As a clerk, I want a form.", "a.txt", 4, role="clerk")
    elsewhere = Story("B-1", "As a moderator, I want coffee.", "b.txt", 1, role="moderator", epic="Export")
    library = [elsewhere, same_backlog, same_role, same_epic, hit]
    hits = [retrieval.Hit(hit, 1.0, 1.0)]
    assert [s.id for s in fill_order(library, hits)] == ["A-1", "A-3", "A-2", "A-4", "B-1"]


def test_every_story_goes_in_when_they_fit_and_the_fit_says_how_much_room_is_left(fake_engine):
    p = pipeline(fake_engine)
    fit = p.fit(STORIES)
    assert fit.tokens == sum(fake_engine.count(render_story(s) + "\n") for s in STORIES if not s.is_note)
    assert fit.fits and fit.budget == 4096 - 64 - 512 - fit.rules  # 512: the turn reserve, an eighth of the context
    assert p.prepare(QUESTION, STORIES).context.coverage.mode == "full"


def test_the_focus_story_and_the_opening_id_are_the_best_hit_of_that_one_search(fake_engine):
    request = pipeline(fake_engine).prepare(QUESTION, STORIES)
    assert request.context.hits[0].story.id == "US-3"
    assert render_story(STORIES[2]) in request.messages[-1].content
    assert '"US-3"' in request.grammar and '"US-1"' not in request.grammar


def test_an_off_topic_question_is_refused_without_calling_the_engine(fake_engine):
    answer = pipeline(fake_engine).answer("What is the capital of France?", STORIES)
    assert answer.gated and answer.refused and answer.answer == REFUSAL
    assert fake_engine.calls == []


def test_an_answer_citing_no_story_it_was_shown_is_withheld_unless_strict_is_off(fake_engine):
    reply = "The moderator can export a transcript."
    withheld = pipeline(fake_engine, reply, constrained=False).answer(QUESTION, STORIES)
    assert withheld.unsupported and withheld.refused and withheld.answer == REFUSAL and withheld.raw == reply
    assert withheld.closest[0].id == "US-3"
    shown = pipeline(fake_engine, reply, constrained=False, strict=False).answer(QUESTION, STORIES)
    assert shown.unsupported and not shown.refused and shown.answer == reply


def test_with_options_keeps_the_engine_and_template_and_changes_only_the_options(fake_engine):
    p = pipeline(fake_engine)
    other = p.with_options(min_match=0.0, focus=0)
    assert other.engine is p.engine and other.template is p.template
    assert (other.options.min_match, other.options.focus, other.options.max_tokens) == (0.0, 0, 64)
    assert p.options.min_match == AnswerOptions().min_match


def test_the_conversation_sends_back_what_the_model_wrote_and_the_gates_refusal(fake_engine):
    p = pipeline(fake_engine, "The moderator exports it.", constrained=False, history=ALL)
    conversation = Conversation()
    withheld = p.answer(QUESTION, STORIES, conversation.history)
    conversation = conversation.add(answered(QUESTION, withheld))
    off_topic = "What is the capital of France?"
    conversation = conversation.add(answered(off_topic, p.answer(off_topic, STORIES, conversation.history)))
    assert [(m.role, m.content) for m in conversation.history] == [
        ("user", QUESTION), ("assistant", "The moderator exports it."), ("user", off_topic), ("assistant", REFUSAL),
    ]
    p.answer("And the estimator?", STORIES, conversation.history)
    sent = fake_engine.calls[-1]
    assert [(m.role, m.content) for m in sent[1:-1]] == [(m.role, m.content) for m in conversation.history]


def test_a_follow_up_without_content_words_is_judged_by_the_question_before_it(fake_engine):
    p = pipeline(fake_engine)
    history = Conversation().add(answered(QUESTION, p.answer(QUESTION, STORIES))).history
    assert not p.answer("And why?", STORIES, history).gated
    assert p.answer("And why?", STORIES).gated


def test_a_follow_up_about_the_cited_stories_passes_the_gate_and_opens_with_the_story_cited_before(fake_engine):
    p = pipeline(fake_engine)
    history = Conversation().add(answered(QUESTION, p.answer(QUESTION, STORIES))).history
    follow_up = "Which role asked for that, and what is the benefit?"
    assert p.answer(follow_up, STORIES).gated
    request = p.prepare(follow_up, STORIES, history)
    assert request.follows_cited and request.context.hits[0].story.id == "US-3" and '"US-3"' in request.grammar
    assert not p.answer(follow_up, STORIES, history).gated


@pytest.mark.parametrize("profile", [TINY, OPEN])
def test_no_earlier_turn_is_sent_and_a_follow_up_still_leads_with_the_story_cited_before(fake_engine, profile):
    p = pipeline(fake_engine, profile=profile)
    assert p.history == NOTHING
    history = Conversation().add(answered(QUESTION, p.answer(QUESTION, STORIES))).history
    request = p.prepare("Which role asked for that, and what is the benefit?", STORIES, history)
    assert [m.role for m in request.messages] == ["system", "user"]
    assert request.follows_cited and "[US-3]" in request.messages[-1].content and '"US-3"' in request.grammar


def test_an_answer_option_chooses_another_history_policy(fake_engine):
    p = pipeline(fake_engine, history=ON_FOLLOW_UP)
    history = Conversation().add(answered(QUESTION, p.answer(QUESTION, STORIES))).history
    request = p.prepare("Which role asked for that, and what is the benefit?", STORIES, history)
    assert [(m.role, m.content) for m in request.messages[1:-1]] == [("user", QUESTION), ("assistant", CITED)]


def test_a_question_with_words_of_its_own_is_judged_alone_also_in_a_conversation(fake_engine):
    p = pipeline(fake_engine)
    history = Conversation().add(answered(QUESTION, p.answer(QUESTION, STORIES))).history
    request = p.prepare("Can the moderator pay with PayPal?", STORIES, history)
    assert not request.follows_cited
    assert p.answer("Can the moderator pay with PayPal?", STORIES, history).gated


def test_an_empty_or_overlong_question_is_refused_with_the_reason(fake_engine):
    with pytest.raises(QuestionError, match="Type a question"):
        pipeline(fake_engine).answer("   ", STORIES)
    with pytest.raises(QuestionError, match="the limit is 10[.] Shorten it"):
        pipeline(fake_engine, max_question_chars=10).answer(QUESTION, STORIES)
