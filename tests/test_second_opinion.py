"""The model's second opinion (issue 33, point 5): on the fake engine, what is put to the model, when, how many,
and that it stops and stays beside the code's marks; on the bundled model, that it is wired and honest."""

import argparse

import pytest

from storychat.answer import opinion
from storychat.answer.answer import Done, Progress, Reviewed, Token, final
from storychat.answer.lines import lines
from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.answer.support import PARTLY
from storychat.chats.conversation import Conversation
from storychat.chats.store import Chats
from storychat.config import Settings, add_options
from storychat.cost import Costs
from storychat.stories.formats import Limits, read_file
from storychat.stories.library import Library
from storychat.ui.chat import ChatPanel
from storychat.ui.library import LibraryPanel
from storychat.ui.render import answer_messages, sentence_markdown
from tests.fakes import FakeEngine
from tests.helpers import DATA

LEAVE = read_file(DATA / "leave.csv").stories
QUESTION = "How do employees request leave and managers approve it?"
# Six sentences the code marks partly supported (each adds a word its story lacks), then one it supports.
PARTLY_SUPPORTED = [
    "[HR-101] Employees request annual leave by email.",
    "[HR-102] Employees see their remaining days in a mobile app.",
    "[HR-104] Managers approve requests by phone.",
    "[HR-106] Managers see a team calendar on the wall.",
    "[HR-103] Employees cancel a request by fax.",
    "[HR-101] Employees request annual leave for a range of dates on paper.",
]
QUOTE = "[HR-101] As an employee, I want to request annual leave for a range of dates, so that I can plan my holidays."


def judged(messages) -> bool:
    return messages[-1].content.endswith(opinion.QUESTION)


def engine(answer: str, verdict: str = "yes") -> FakeEngine:
    """The answer to the question, and ``verdict`` to every yes/no question of the second opinion."""
    return FakeEngine(lambda messages: verdict if judged(messages) else answer)


def test_the_open_profile_puts_a_partly_supported_sentence_to_the_model_after_the_answer_with_its_story():
    fake = engine(f"{PARTLY_SUPPORTED[0]} {QUOTE}")
    events = list(Pipeline(fake, options=AnswerOptions(profile="open")).ask(QUESTION, LEAVE))
    kinds = [type(e) for e in events]
    done = kinds.index(Done)
    assert Token in kinds[:done] and Token not in kinds[done:]  # every token of the answer came first
    assert kinds[done + 1:] == [Progress, Reviewed]
    assert events[done + 1].message == "Second opinion: the model judges 1 sentence the code marked ≈ or partly supported"
    answer, system = events[-1].answer, fake.calls[0][0]
    assert len(fake.calls) == 2 and fake.grammars[1] == opinion.GRAMMAR
    # The answer's own system message opens the question, so the engine still holds its story prefix.
    assert fake.calls[1][0] == system and fake.labels[1] == fake.labels[0]
    asked = fake.calls[1][-1].content
    assert asked.startswith("Story:\n[HR-101] As an employee, I want to request annual leave") and "Acceptance criteria:" in asked
    assert f"Sentence: {PARTLY_SUPPORTED[0]}" in asked
    [given] = answer.opinions
    assert (given.sentence, given.verdict, given.judged_by) == (0, "yes", "model")
    assert given.prompt_tokens == given.prompt_evaluated > 0  # the fake engine keeps no prefix


def test_the_models_agreement_is_shown_beside_the_codes_mark_and_earns_no_check_mark():
    fake = engine(PARTLY_SUPPORTED[0])
    record = final(Pipeline(fake, options=AnswerOptions(profile="open")).ask(QUESTION, LEAVE)).to_json()
    sentence = record["sentences"][0]
    assert sentence["verdict"] == PARTLY
    assert {k: sentence["second_opinion"][k] for k in ("judged_by", "verdict")} == {"judged_by": "model", "verdict": "yes"}
    assert not record["citations"][0]["verified"] and record["doubt"]  # still no sentence the code supports
    shown = lines(record)
    assert shown.marked == (f"⚠ {sentence['why']} (the model agrees): {PARTLY_SUPPORTED[0]}",)
    assert "✓" not in "".join(shown.marked) and "✓" not in sentence_markdown(sentence)
    assert "⚠ [HR-101] Employees request annual leave by email. <span class=\"said\">(the model agrees)</span>" in sentence_markdown(sentence)
    assert "(the model agrees)" in answer_messages(record)[0]["content"]


def test_a_disagreement_is_said_as_such():
    record = final(Pipeline(engine(PARTLY_SUPPORTED[2], "no"), options=AnswerOptions(profile="open")).ask(QUESTION, LEAVE)).to_json()
    assert record["sentences"][0]["second_opinion"]["verdict"] == "no"
    assert lines(record).marked[0].startswith("⚠ partly supported: no story it cites says phone (the model disagrees): ")


def test_at_most_four_sentences_are_judged_per_answer_the_first_ones_shown():
    fake = engine(" ".join([*PARTLY_SUPPORTED, QUOTE]))
    answer = final(Pipeline(fake, options=AnswerOptions(profile="open")).ask(QUESTION, LEAVE))
    assert len(fake.calls) == 1 + opinion.PER_ANSWER == 5
    assert [o.sentence for o in answer.opinions] == [0, 1, 2, 3]
    assert [s.verdict for s in answer.support.sentences[:6]] == [PARTLY] * 6


def test_a_supported_or_unsupported_sentence_is_not_judged():
    fake = engine(f"{QUOTE} [HR-105] Managers hand approvals to a deputy by letter.")
    answer = final(Pipeline(fake, options=AnswerOptions(profile="open")).ask(QUESTION, LEAVE))
    assert len(fake.calls) == 1 and answer.opinions == ()


def test_stopping_after_the_first_opinion_asks_the_model_nothing_more():
    fake = engine(" ".join(PARTLY_SUPPORTED))
    events = Pipeline(fake, options=AnswerOptions(profile="open")).ask(QUESTION, LEAVE)
    first = next(e for e in events if isinstance(e, Reviewed))
    events.close()  # Stop: the page cancels the generator
    assert len(fake.calls) == 2 and len(first.answer.opinions) == 1


@pytest.mark.parametrize("profile, mode, calls", [("tiny", "auto", 1), ("open", "off", 1), ("tiny", "on", 2), ("open", "auto", 2)])
def test_it_is_off_for_the_tiny_profile_unless_asked_for_and_can_be_turned_off(profile, mode, calls):
    fake = engine(PARTLY_SUPPORTED[0])
    pipeline = Pipeline(fake, options=AnswerOptions(profile=profile, second_opinion=mode))
    pipeline.answer(QUESTION, LEAVE)
    assert len(fake.calls) == calls
    assert any(line.startswith(f"Second opinion: {'on' if calls == 2 else 'off'}") for line in pipeline.report())


def test_a_mode_that_is_not_auto_on_or_off_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="--second-opinion must be one of auto, on, off, not 'maybe'"):
        Pipeline(FakeEngine(), options=AnswerOptions(second_opinion="maybe"))


def test_the_flag_and_its_environment_variable_set_it(monkeypatch):
    def parsed(*argv):
        parser = argparse.ArgumentParser()
        add_options(parser, "answer")
        return Settings.from_namespace(parser.parse_args(list(argv))).second_opinion

    assert parsed() == "auto"
    monkeypatch.setenv("STORYCHAT_SECOND_OPINION", "off")
    assert parsed() == "off" and parsed("--second-opinion", "on") == "on"


def test_the_chat_keeps_one_turn_and_updates_its_marks_when_the_opinion_arrives(tmp_path):
    library = Library(tmp_path / "data")
    library.add("leave", read_file(DATA / "leave.csv"))
    fake = engine(PARTLY_SUPPORTED[0])
    pipeline = Pipeline(fake, options=AnswerOptions(profile="open"))
    chats = Chats(library)
    chat = ChatPanel(pipeline, LibraryPanel(library, pipeline, Limits(), Costs("fake.gguf")), Costs("fake.gguf"), chats)
    shown = [(messages, conversation) for messages, conversation, *_ in chat.respond(QUESTION, [], Conversation(), "leave")]
    answers = [messages[1]["content"] for messages, _ in shown if messages[1]["content"].startswith("⚠") or "span" in messages[1]["content"]]
    assert "(the model agrees)" not in answers[0] and "(the model agrees)" in answers[-1]  # marked first, then updated
    messages, conversation = shown[-1]
    assert len(conversation.turns) == 1
    kept = chats.open("local", conversation.id)[1].turns
    assert len(kept) == 1 and kept[0].record["sentences"][0]["second_opinion"]["verdict"] == "yes"


@pytest.mark.model
def test_forced_on_the_bundled_model_judges_a_partly_supported_sentence_and_gives_no_check_mark(engine, embedder):
    """Wired and honest, not good: the 135M model's yes or no is not measured (docs/evaluation.md)."""
    pipeline = Pipeline(engine, options=AnswerOptions(max_tokens=40, second_opinion="on"), embedder=embedder)
    assert pipeline.profile.name == "tiny"
    # "[HR-128] As an employee, I want to see all my past leave requests ... The answer is no.": the last is partly supported.
    record = pipeline.answer("Can I get a Slack notification when my leave request is approved?", LEAVE).to_json()
    judged = [s for s in record["sentences"] if s["second_opinion"]]
    assert judged and all(s["verdict"] in opinion.JUDGED for s in judged)
    for s in judged:
        assert s["second_opinion"]["judged_by"] == "model" and s["second_opinion"]["verdict"] in ("yes", "no")
        # Only the question was evaluated: the answer's story prefix was still in the engine's KV cache.
        assert 0 < s["second_opinion"]["prompt_evaluated"] < s["second_opinion"]["prompt_tokens"] / 2
    # Every ✓ is the code's: a citation is verified only by a sentence the code supports.
    supported = {i for s in record["sentences"] if s["verdict"] == "supported" for i in s["backed_by"]}
    assert {c["id"] for c in record["citations"] if c["verified"]} <= supported
    assert "✓" not in "".join(m for m in lines(record).marked if "(the model" in m)
