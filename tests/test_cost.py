"""Cost of sending the whole backlog to cloud models: arithmetic, price tables, the command."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storychat.answer.prompt import Template
from storychat.evals import DALPIAZ_ENV
from storychat.cost import (
    DEFAULT_PRICES,
    LocalRun,
    Price,
    PricesError,
    cloud_cost,
    corpus_tokens,
    estimate,
    load_prices,
    time_answer,
)
from storychat.stories import Story
from storychat.stories.formats import read_file
from storychat.cost import count_tokens

ROOT = Path(__file__).resolve().parent.parent

STORIES = [
    Story("US-1", "As a moderator, I want to start a game, so that we can estimate.", "p.txt", 1),
    Story("US-2", "As an estimator, I want to see the item, so that I can vote.", "p.txt", 2),
]
TABLE = {
    "as_of": "2025-06",
    "models": [
        {"model": "big", "provider": "Cloud", "input_per_mtok": 2.0, "output_per_mtok": 8.0, "context_window": 100_000},
        {"model": "tiny", "input_per_mtok": 0.5, "output_per_mtok": 1, "context_window": 10_000},
    ],
}


def write(tmp_path, data, name="prices.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_a_question_costs_the_corpus_and_question_at_the_input_price_and_the_answer_at_the_output_price():
    big = cloud_cost(Price("big", "Cloud", 2.0, 8.0, 100_000), corpus=10_000, question_tokens=50, answer_tokens=300)
    # (10,050 x $2 + 300 x $8) / 1M
    assert big.input_tokens == 10_050 and big.output_tokens == 300
    assert big.per_question == pytest.approx(0.0225, abs=1e-12)
    assert big.per_100 == pytest.approx(2.25, abs=1e-10)
    assert big.fits and big.note == ""


def test_a_corpus_larger_than_the_context_window_is_flagged():
    tiny = cloud_cost(Price("tiny", "", 0.5, 1.0, 10_000), corpus=10_000, question_tokens=50, answer_tokens=300)
    assert not tiny.fits
    assert tiny.note == "does not fit: needs 10,350 of 10,000 cl100k tokens"
    assert tiny.per_question == pytest.approx((10_050 * 0.5 + 300 * 1.0) / 1e6, abs=1e-12)


def test_the_corpus_is_the_whole_system_prompt_counted_with_tiktoken_and_notes_are_left_out():
    note = Story("n-1", "Sprint 4 starts Monday", "p.txt", 3, kind="note")
    tokens = corpus_tokens([*STORIES, note])
    assert tokens == count_tokens([Template().render_system(STORIES)])
    assert tokens > count_tokens(s.text for s in STORIES) + 50  # the rules go with every question


def test_the_estimate_prices_every_model_of_the_table(tmp_path):
    report = estimate(STORIES, load_prices(write(tmp_path, TABLE)), question_tokens=40, answer_tokens=200)
    corpus = corpus_tokens(STORIES)
    assert [c.model for c in report.cloud] == ["big", "tiny"]
    assert report.stories == 2 and report.corpus_tokens == corpus
    assert report.cloud[0].per_question == pytest.approx(((corpus + 40) * 2.0 + 200 * 8.0) / 1e6, abs=1e-12)
    assert report.cloud[1].per_100 == pytest.approx(100 * ((corpus + 40) * 0.5 + 200 * 1.0) / 1e6, abs=1e-10)


def test_the_markdown_shows_each_model_the_local_run_and_where_the_prices_come_from(tmp_path):
    local = LocalRun("small.gguf", 8192, 12.34, 7000, 120, 40, 200, "retrieval")
    text = estimate(STORIES, load_prices(write(tmp_path, TABLE)), local).markdown()
    assert "| Cloud big | 100,000 |" in text
    assert "| Local small.gguf | 8,192 | free | free | stays on this machine; 12.3 s for one answer" in text
    assert "7,000 prompt and 120 answer model tokens" in text
    assert "read 40 of 200 stories (retrieval)" in text
    assert f"list prices as of 2025-06, from {tmp_path / 'prices.json'}" in text


def test_the_built_in_table_is_dated_and_names_a_source_for_every_price():
    table = load_prices()
    assert table.as_of and table.written and "--prices FILE" in table.basis
    assert len(table.models) >= 6 and {p.provider for p in table.models} >= {"OpenAI", "Anthropic", "Google"}
    assert all(p.source.startswith("https://") for p in table.models)
    assert "built-in" in table.dated() and DEFAULT_PRICES.is_file()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"models": [', "is not valid JSON"),
        ({"prices": []}, 'expected an object with a non-empty "models" list'),
        ({"models": [{"model": "x", "input_per_mtok": -1, "output_per_mtok": 1, "context_window": 9}]},
         r"models\[0\] \(x\): input_per_mtok must be US dollars per million tokens"),
        ({"models": [{"model": "x", "input_per_mtok": 1, "output_per_mtok": 1, "context_window": "128k"}]},
         "context_window must be a whole number of tokens > 0, got '128k'"),
        ({"models": [{"model": "x", "input_price": 1, "input_per_mtok": 1, "output_per_mtok": 1, "context_window": 9}]},
         "unknown field.s. input_price"),
        ({"models": [{"input_per_mtok": 1}]}, r'models\[0\] needs a "model" name'),
    ],
)
def test_a_malformed_prices_file_says_what_to_fix(tmp_path, content, message):
    with pytest.raises(PricesError, match=message):
        load_prices(write(tmp_path, content))


def test_a_missing_prices_file_is_a_prices_error(tmp_path):
    with pytest.raises(PricesError, match="cannot read prices file"):
        load_prices(tmp_path / "absent.json")


@pytest.mark.model
def test_the_local_answer_is_timed_through_the_real_pipeline(pipeline, dalpiaz):
    stories = read_file(dalpiaz / "g13-planningpoker.txt").stories[:15]
    run = time_answer(pipeline, stories, "Which stories mention moderators?")
    assert run.seconds > 0 and run.mode == "full" and run.stories_in_context == run.stories_total == 15
    assert run.prompt_tokens > 300 and 0 < run.answer_tokens <= pipeline.options.max_tokens
    assert run.model.endswith(".gguf") and run.n_ctx == pipeline.engine.context_length


def cost_command(dalpiaz, *flags):
    env = {**os.environ, DALPIAZ_ENV: str(dalpiaz)}
    command = [sys.executable, "-m", "storychat", "cost", "--no-measure", *flags]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)


def test_cost_command_prices_the_dalpiaz_backlogs_from_a_prices_file(tmp_path, dalpiaz):
    run = cost_command(dalpiaz, "--prices", str(write(tmp_path, TABLE)), "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["stories"] > 1600 and report["corpus_tokens"] > 50_000
    assert [c["model"] for c in report["cloud"]] == ["big", "tiny"]
    big, tiny = report["cloud"]
    assert big["per_question"] == pytest.approx(((report["corpus_tokens"] + 50) * 2.0 + 300 * 8.0) / 1e6)
    assert big["fits"] and not tiny["fits"] and report["local"] is None


def test_cost_command_prints_markdown_with_the_built_in_prices(dalpiaz):
    run = cost_command(dalpiaz)
    assert run.returncode == 0, run.stderr
    assert "| OpenAI gpt-4o |" in run.stdout and "stays on this machine" in run.stdout


def test_cost_command_rejects_a_malformed_prices_file_in_one_line(tmp_path, dalpiaz):
    run = cost_command(dalpiaz, "--prices", str(write(tmp_path, "not json")))
    assert run.returncode == 2
    assert run.stderr.startswith("error: prices file ") and "is not valid JSON" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
