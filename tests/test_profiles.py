"""Answer profiles: the tiny model's grammar opens with the best match; capable models may choose any story or refuse."""

import re

import llama_cpp
import pytest

from storychat import cli
from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.answer.profiles import OPEN, TINY, choose
from storychat.answer.prompt import REFUSAL, citation_grammar
from storychat.stories import Story

STORIES = [
    Story("US-1", "As a moderator, I want to start a game, so that we can estimate.", "poker.txt", 1),
    Story("US-2", "As an estimator, I want to see the item, so that I can vote.", "poker.txt", 2),
    Story("US-3", "As a moderator, I want to export a transcript as CSV, so that I can process estimates.", "poker.txt", 3),
    Story("US-4", "As a player, I want to choose a card deck, so that estimates use our scale.", "poker.txt", 4),
]
QUESTION = "Can the moderator export a transcript?"


def test_auto_picks_the_tiny_profile_under_1b_parameters_and_the_open_one_from_1b():
    assert choose("auto", 134_515_008).name == TINY
    assert choose("auto", 8_030_261_248).name == OPEN
    assert "8.0B parameters" in choose("auto", 8_030_261_248).sentence()


def test_auto_keeps_the_tiny_profile_when_the_size_is_unknown_and_says_how_to_override():
    profile = choose("auto", None)
    assert profile.name == TINY and "--answer-profile open" in profile.reason


def test_the_flag_overrides_the_size_and_a_wrong_value_says_what_to_give():
    assert choose("open", 134_515_008).name == OPEN and choose("tiny", 8_030_261_248).name == TINY
    with pytest.raises(ValueError, match="auto, tiny, open"):
        choose("large", None)


def test_both_grammars_parse_in_llama_cpp():
    for grammar in (citation_grammar(["US-3"]), citation_grammar(["US-1", 'odd "id"'], refusal=REFUSAL)):
        assert llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)


def test_the_open_grammar_offers_every_story_in_the_context_and_the_refusal(fake_engine):
    request = Pipeline(fake_engine, options=AnswerOptions(profile="open")).prepare(QUESTION, STORIES)
    assert all(f'"{s.id}"' in request.grammar for s in STORIES)
    assert request.grammar.startswith(f'root ::= "{REFUSAL}" | "[" id "]" rest')


def test_the_tiny_grammar_offers_only_the_best_match(fake_engine):
    request = Pipeline(fake_engine, options=AnswerOptions(profile="tiny")).prepare(QUESTION, STORIES)
    assert '"US-3"' in request.grammar and '"US-1"' not in request.grammar and REFUSAL not in request.grammar


@pytest.mark.model
def test_the_bundled_model_reads_as_tiny_and_the_report_says_so(engine):
    assert 100e6 < engine.info().parameters < 200e6
    pipeline = Pipeline(engine, options=AnswerOptions(max_tokens=24))
    assert pipeline.profile.name == TINY and not pipeline.second_opinion
    assert pipeline.report()[-3].startswith("Answer profile: tiny (auto: 135M parameters")
    assert pipeline.report()[-2] == "Second opinion: off (the tiny profile's model is too small to judge)"


@pytest.mark.model
def test_each_profile_holds_the_bundled_models_answer_to_its_grammar(engine):
    tiny = Pipeline(engine, options=AnswerOptions(max_tokens=24, profile="tiny"))
    opened = tiny.with_options(profile="open", min_match=0.0)
    assert tiny.answer(QUESTION, STORIES).raw.startswith("[US-3]")
    for question in (QUESTION, "Which card decks can players pick?", "Is there a story about paying invoices?"):
        raw = opened.answer(question, STORIES).raw
        assert raw == REFUSAL or re.match(r"\[(US-[1-4])\]", raw), raw


@pytest.mark.model
def test_info_prints_the_answer_profile_in_force(capsys):
    assert cli.main(["info", "-c", "1024", "--answer-profile", "open"]) == 0
    assert "Answer profile: open (--answer-profile)" in capsys.readouterr().out


@pytest.mark.model
def test_info_names_the_reader_of_meaning_or_says_it_is_off(capsys):
    assert cli.main(["info", "-c", "1024"]) == 0
    assert "meaning: wordllama l2_supercat 256, beside words" in capsys.readouterr().out
    assert cli.main(["info", "-c", "1024", "--meaning", "off"]) == 0
    assert "meaning: off; relevance is judged by words only" in capsys.readouterr().out


def test_a_meaning_mode_other_than_on_or_off_is_an_error_that_names_both(capsys):
    assert cli.main(["import", "x.txt", "--collection", "c", "--meaning", "maybe"]) == 2
    assert "--meaning maybe: choose on or off" in capsys.readouterr().err
