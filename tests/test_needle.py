"""Needle in a haystack: placement by model tokens, scoring, verdict, outputs, and real cells."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.image import imread

from storychat.answer.citations import Citation
from storychat.answer.context import Coverage
from storychat.answer.answer import Answer, Timings
from storychat.answer.prompt import REFUSAL, render_story
from storychat.evals import DALPIAZ_ENV, dalpiaz_stories
from storychat.evals.needle import (
    DEFAULT,
    DEPTHS,
    LONG_CONTEXT,
    NEEDLES,
    Cell,
    NeedleError,
    heatmap,
    lengths_up_to,
    longest,
    mode_pipeline,
    needle_for,
    parse_numbers,
    plant,
    run_grid,
    score,
    states,
    verdict,
    write_csv,
)
from storychat.stories import Story

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def haystack(dalpiaz):
    return dalpiaz_stories(dalpiaz)


@pytest.fixture(scope="module")
def needle_pipeline(pipeline):
    return mode_pipeline(pipeline, LONG_CONTEXT)


def tokens(engine, lines):
    return engine.count("".join(line + "\n" for line in lines))


# --- placement ------------------------------------------------------------------


@pytest.mark.model
@pytest.mark.parametrize("depth", [0, 25, 50, 75, 100])
def test_the_needle_sits_at_the_asked_depth_of_the_haystack_in_model_tokens(engine, needle_pipeline, haystack, depth):
    planted = plant(needle_pipeline, haystack, 1500, depth)
    lines = [render_story(s) for s in planted.stories]
    at = planted.stories.index(planted.story)
    before = tokens(engine, lines[:at])
    others = tokens(engine, lines[:at] + lines[at + 1 :])
    one_story = max(engine.count(line + "\n") for line in lines)
    assert abs(before - depth / 100 * others) <= one_story
    assert abs(planted.actual_depth - depth) <= 100 * one_story / others


@pytest.mark.model
def test_the_cut_haystack_fills_the_context_length_and_every_story_goes_in(engine, needle_pipeline, haystack):
    planted = plant(needle_pipeline, haystack, 1500, 50)
    coverage = needle_pipeline.prepare(planted.needle.question, planted.stories).context.coverage
    one_story = max(engine.count(render_story(s) + "\n") for s in planted.stories)
    assert coverage.mode == "full"
    assert abs(coverage.tokens_in_context - 1500) <= one_story
    assert [s for s in planted.stories if s is not planted.story] == haystack[: len(planted.stories) - 1]


@pytest.mark.model
def test_a_length_beyond_what_the_model_holds_in_full_mode_is_refused(engine, needle_pipeline, haystack):
    turn_reserve = max(256, engine.context_length // 8)  # the question and recent turns
    limit = engine.context_length - needle_pipeline.options.max_tokens - turn_reserve
    assert longest(needle_pipeline, haystack) == limit
    plant(needle_pipeline, haystack, limit, 50)
    with pytest.raises(NeedleError, match=f"the longest is {limit:,} tokens"):
        plant(needle_pipeline, haystack, limit + 1, 50)


@pytest.mark.model
def test_a_haystack_too_small_for_the_length_is_refused_and_longest_says_what_fits(needle_pipeline, haystack):
    small = haystack[:5]
    with pytest.raises(NeedleError, match="too few"):
        plant(needle_pipeline, small, 1500, 50)
    fits = longest(needle_pipeline, small)
    planted = plant(needle_pipeline, small, fits, 50)
    assert len(planted.stories) >= len(small)  # at most one story makes room for a longer needle
    with pytest.raises(NeedleError, match="too few"):
        plant(needle_pipeline, small, int(fits * 1.2), 50)


@pytest.mark.model
def test_the_needle_id_never_takes_the_id_of_a_story(needle_pipeline, haystack):
    needle = needle_for(1000, 0)
    clash = Story(f"needle-{NEEDLES.index(needle) + 1}", "As a user, I want a clash.", "x.txt", 1)
    planted = plant(needle_pipeline, [clash, *haystack], 1000, 0)
    assert planted.story.id != clash.id
    assert len({s.id for s in planted.stories}) == len(planted.stories)


def test_each_cell_has_a_fixed_needle_and_the_grid_varies_the_wording():
    assert len(NEEDLES) >= 5 and len({n.fact for n in NEEDLES}) == len(NEEDLES)
    for n in NEEDLES:
        assert states(n.text, n.fact) and not states(n.question, n.fact)
    cells = [(length, depth) for length in lengths_up_to(7120) for depth in DEPTHS]
    assert len({needle_for(*cell) for cell in cells}) >= 4
    assert needle_for(2000, 50) is needle_for(2000, 50)


def test_the_default_lengths_double_up_to_the_limit():
    assert lengths_up_to(7120) == (1000, 2000, 4000, 7120)
    assert lengths_up_to(800) == (800,)


def test_grid_lists_must_be_comma_separated_whole_numbers():
    assert parse_numbers("1000, 2000,", "--lengths") == (1000, 2000)
    with pytest.raises(NeedleError, match="--depths 50%"):
        parse_numbers("50%", "--depths")


# --- scoring --------------------------------------------------------------------


def answer(text, cited=(), refused=False):
    citations = [Citation(i, "s.txt", 1, "", valid) for i, valid in cited]
    return Answer(text, refused, citations, Coverage(1, 1, 100, 4096, "full"), Timings(0, 0, 0, 0, 0), raw=text)


def test_long_context_hit_when_the_fact_comes_with_a_valid_citation():
    assert score(answer("Tune it to c sharp [US-3].", [("US-3", True)]), "needle-1", "C-sharp", LONG_CONTEXT)


def test_long_context_hit_when_the_needle_itself_is_cited():
    assert score(answer("See [needle-1].", [("needle-1", True)]), "needle-1", "C-sharp", LONG_CONTEXT)


def test_a_fact_without_a_valid_citation_is_a_miss():
    assert not score(answer("C-sharp"), "needle-1", "C-sharp", LONG_CONTEXT)
    assert not score(answer("C-sharp [US-99]", [("US-99", False)]), "needle-1", "C-sharp", LONG_CONTEXT)


def test_an_invalid_citation_of_the_needle_is_a_miss_in_both_modes():
    wrong = answer("[needle-1] C-sharp", [("needle-1", False)])
    assert not score(wrong, "needle-1", "C-sharp", LONG_CONTEXT)
    assert not score(wrong, "needle-1", "C-sharp", DEFAULT)


def test_a_refusal_is_a_miss_even_when_it_cites_the_needle():
    refusal = answer(f"[needle-1] {REFUSAL}", [("needle-1", True)], refused=True)
    assert not score(refusal, "needle-1", "C-sharp", LONG_CONTEXT)
    assert not score(refusal, "needle-1", "C-sharp", DEFAULT)


def test_default_mode_needs_the_needle_among_the_valid_citations():
    assert not score(answer("[US-3] C-sharp", [("US-3", True)]), "needle-1", "C-sharp", DEFAULT)
    assert score(answer("[needle-1] the fog horn", [("needle-1", True)]), "needle-1", "C-sharp", DEFAULT)


def test_the_fact_matches_whole_words_ignoring_case_and_punctuation():
    assert states("Tuned to c sharp.", "C-sharp")
    assert states("The code is 7316!", "7316") and not states("code 17316", "7316")
    assert states("at 4.15 pm", "4:15") and not states("C", "C-sharp")


# --- verdict and outputs -------------------------------------------------------------


def cell(length, depth, hit, mode="long-context", fact_stated=False):
    return Cell(length, depth, mode, hit, "", "", 1.0, "needle-1", fact_stated, not hit, length, float(depth))


def test_verdict_names_the_longest_reliable_length_and_the_depths_missed_beyond_it():
    cells = [cell(n, d, not (n > 2000 and d in (50, 75))) for n in (1000, 2000, 4000) for d in (0, 25, 50, 75, 100)]
    assert verdict(cells) == "long-context: reliable up to 2k tokens; misses at 50-75% depth beyond that (13 of 15 found)"


def test_verdict_covers_each_mode_and_says_when_misses_stated_the_fact():
    cells = [cell(n, d, False, fact_stated=d == 0) for n in (1000, 2000) for d in (0, 50, 100)]
    cells += [cell(n, d, True, mode="default") for n in (1000, 2000) for d in (0, 50, 100)]
    assert verdict(cells) == (
        "long-context: misses from 1k tokens on, at every depth (0 of 6 found; 2 of the misses stated the fact "
        "but failed the citation check); default: found the needle in every cell up to 2k tokens (6 of 6 found)"
    )


def test_verdict_keeps_separate_runs_of_missed_depths_apart():
    cells = [cell(1000, d, d not in (0, 100)) for d in (0, 25, 50, 75, 100)]
    assert verdict(cells) == "long-context: misses from 1k tokens on, at 0%, 100% depth (3 of 5 found)"


def test_heatmap_shows_found_cells_green_and_missed_cells_red_in_one_panel_per_mode(tmp_path):
    cells = [cell(n, d, d == 0, mode=m) for m in ("long-context", "default") for n in (1000, 2000) for d in (0, 100)]
    two = imread(heatmap(cells, tmp_path / "two.png", "title"))
    one = imread(heatmap(cells[:4], tmp_path / "one.png"))
    assert two.shape[1] > 1.5 * one.shape[1]
    rgb = (two[..., :3] * 255).round()
    green = ((abs(rgb - [0x1A, 0x98, 0x50]) < 3).all(axis=-1)).sum()
    red = ((abs(rgb - [0xD7, 0x30, 0x27]) < 3).all(axis=-1)).sum()
    assert green > 1000 and red > 1000


def test_the_csv_holds_one_row_per_cell_in_the_documented_columns(tmp_path):
    cells = [cell(1000, 0, True), cell(1000, 50, False, mode="default")]
    with write_csv(cells, tmp_path / "n.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:7] == ["length", "depth", "mode", "hit", "answer", "cited", "seconds"]
    assert [(r["depth"], r["mode"], r["hit"]) for r in rows] == [("0", "long-context", "True"), ("50", "default", "False")]


# --- the real model -----------------------------------------------------------------


@pytest.mark.model
def test_one_real_cell_goes_through_the_pipeline_in_both_modes(pipeline, haystack):
    steps = []
    cells = run_grid(pipeline, haystack, [600], [50], lambda done, step: steps.append(done))
    assert [c.mode for c in cells] == ["long-context", "default"] and steps == [0.0, 0.5, 1.0]
    for c in cells:
        assert c.length == 600 and abs(c.context_tokens - 600) <= 60 and c.needle.startswith("needle-")
    # The needle is the best match, and the grammar makes the answer open with its id.
    default = cells[1]
    assert default.hit and default.cited.split()[0] == default.needle


def needle_command(tmp_path, dalpiaz, *flags):
    env = {**os.environ, DALPIAZ_ENV: str(dalpiaz)}
    command = [sys.executable, "-m", "storychat", "needle", "--out", str(tmp_path), "--name", "t", "-c", "2048", *flags]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


@pytest.mark.model
def test_needle_command_writes_the_csv_and_heatmap_and_prints_the_verdict(tmp_path, dalpiaz):
    run = needle_command(tmp_path, dalpiaz, "--lengths", "600", "--depths", "50")
    assert run.returncode == 0, run.stderr
    with (tmp_path / "needle-t.csv").open(newline="") as handle:
        assert [r["mode"] for r in csv.DictReader(handle)] == ["long-context", "default"]
    assert (tmp_path / "needle-t.png").read_bytes().startswith(b"\x89PNG")
    assert run.stdout.startswith("long-context: ") and "; default: " in run.stdout


@pytest.mark.model
def test_needle_command_refuses_a_length_the_model_cannot_hold(tmp_path, dalpiaz):
    run = needle_command(tmp_path, dalpiaz, "--lengths", "9000", "--depths", "50")
    assert run.returncode == 2
    assert "the longest is 1,744 tokens" in run.stderr and not list(tmp_path.iterdir())
