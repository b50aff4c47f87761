"""Duplicate and near-duplicate stories on the Dalpiaz backlogs and the hand labels."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from storychat.evals import gpt2sp_titles
from storychat.analysis.cosine import candidate_pairs
from storychat.analysis.duplicates import (
    DEFAULT_THRESHOLD, ROUNDING, duplicates_of, find_duplicates, same_text_groups, word_vectors,
)
from storychat.stories.formats import read_file, read_text

GOLD = Path(__file__).parent / "data" / "duplicates-gold.json"
GPT2SP_TOP20 = Path(__file__).parent / "data" / "duplicates-gpt2sp-top20.json"


def _backlog(dalpiaz: Path, name: str):
    return read_file(dalpiaz / name).stories


def _ids(pairs) -> set[frozenset[str]]:
    return {frozenset((p.a.id, p.b.id)) for p in pairs}


def test_the_flexible_pick_up_time_stories_of_g04_are_a_near_duplicate_pair(dalpiaz):
    pairs = find_duplicates(_backlog(dalpiaz, "g04-recycling.txt"))
    pick_up = [p for p in pairs if {p.a.id, p.b.id} == {"g04-recycling-5", "g04-recycling-12"}]
    assert len(pick_up) == 1
    assert not pick_up[0].exact
    assert DEFAULT_THRESHOLD <= pick_up[0].similarity < 1


def test_stories_from_one_template_with_another_target_are_not_duplicates(dalpiaz):
    """g08: "get a Data Package into R / Excel / SPSS ... in seconds" differ in
    the one word that matters; the same sentence for two roles is a duplicate."""
    found = _ids(find_duplicates(_backlog(dalpiaz, "g08-frictionless.txt")))
    assert frozenset(("g08-frictionless-8", "g08-frictionless-9")) not in found
    assert frozenset(("g08-frictionless-2", "g08-frictionless-19")) in found


def test_copies_of_a_story_are_exact_pairs_whatever_the_threshold(dalpiaz):
    stories = _backlog(dalpiaz, "g02-federalspending.txt")
    pairs = find_duplicates(stories, threshold=1.0)
    assert _ids(pairs) == {
        frozenset(("g02-federalspending-5", "g02-federalspending-11")),
        frozenset(("g02-federalspending-19", "g02-federalspending-62")),
        frozenset(("g02-federalspending-20", "g02-federalspending-30")),
    }
    assert all(p.exact and p.similarity == 1.0 for p in pairs)


def test_case_spacing_and_punctuation_do_not_make_a_copy_different(dalpiaz):
    story = _backlog(dalpiaz, "g04-recycling.txt")[0]
    shouted = replace(story, id="copy", text="AS A USER  I want to click on the address; so that it takes me to a new tab with Google Maps")
    [pair] = find_duplicates([story, shouted])
    assert pair.exact and pair.similarity == 1.0


def test_a_pasted_story_is_checked_against_the_collection(dalpiaz):
    existing = _backlog(dalpiaz, "g04-recycling.txt")
    pasted = read_text("As a user, I want to choose a flexible pick up time, so that I can more conveniently use the website.")
    pairs = duplicates_of(pasted.stories, existing)
    assert [(p.a.id, p.b.id, p.exact) for p in pairs] == [
        ("paste-1", "g04-recycling-12", True),
        ("paste-1", "g04-recycling-5", False),
    ]
    assert pairs[1].similarity >= DEFAULT_THRESHOLD


def test_a_story_already_in_the_collection_is_not_its_own_duplicate_and_a_new_pair_is_one_pair(dalpiaz):
    existing = _backlog(dalpiaz, "g04-recycling.txt")
    pairs = duplicates_of(existing, existing)
    assert [(p.a.id, p.b.id) for p in pairs] == [("g04-recycling-5", "g04-recycling-12")]


def test_notes_are_never_duplicates():
    batch = read_text("## Export\nAs a user, I want to export CSV\n\n## Export\nAs an admin, I want to delete users")
    assert [s.kind for s in batch.stories] == ["note", "story", "note", "story"]
    assert find_duplicates(batch.stories, threshold=0.01) == []
    assert same_text_groups(batch.stories) == []


@pytest.mark.parametrize("threshold", [0, -0.5, 1.5])
def test_a_threshold_outside_zero_to_one_is_refused(threshold):
    with pytest.raises(ValueError, match="threshold"):
        find_duplicates([], threshold)


def test_the_default_threshold_raises_no_false_warning_on_the_tuning_backlogs(dalpiaz):
    gold = json.loads(GOLD.read_text(encoding="utf-8"))["backlogs"]
    found = labelled = 0
    for name, labels in gold.items():
        if labels["use"] != "tuning":
            continue
        true_pairs = {frozenset((p["a"], p["b"])) for p in labels["duplicates"]}
        reported = _ids(find_duplicates(_backlog(dalpiaz, name)))
        assert reported <= true_pairs, f"{name}: false duplicates {reported - true_pairs}"
        found += len(reported)
        labelled += len(true_pairs)
    assert (found, labelled) == (3, 8)


def test_two_thousand_stories_are_compared_without_scoring_every_pair(dalpiaz):
    """All 1,677 Dalpiaz stories plus 323 that recombine their roles and goals: under a tenth of the
    1,999,000 pairs share a term that lets them reach the threshold, and only those are scored."""
    stories = [s for path in sorted(dalpiaz.glob("*.txt")) for s in read_file(path).stories if not s.is_note]
    rng = random.Random(7)
    stories += [
        replace(rng.choice(stories), id=f"mix-{n}", goal=rng.choice(stories).goal)
        for n in range(2000 - len(stories))
    ]
    scored = candidate_pairs(word_vectors(stories), DEFAULT_THRESHOLD - ROUNDING)
    assert len(stories) == 2000
    assert find_duplicates(stories) and len(scored) < 2000 * 1999 / 2 / 10


def test_the_first_twenty_pairs_of_five_thousand_jira_titles_are_those_judged_by_hand_fifteen_of_them_duplicates():
    judged = json.loads(GPT2SP_TOP20.read_text(encoding="utf-8"))["now"]
    stories = gpt2sp_titles("titanium.csv", "appceleratorstudio.csv")[:5000]
    assert [(p.a.id, p.b.id) for p in find_duplicates(stories)[:20]] == [(j["a"], j["b"]) for j in judged]
    assert sum(j["duplicate"] for j in judged) == 15


def _beside_g04(dalpiaz: Path, *texts: str):
    """The pasted ``texts`` (paste-1, paste-2, ...) among the 51 stories of g04, so that their words get real IDFs."""
    return _backlog(dalpiaz, "g04-recycling.txt") + read_text("\n".join(texts)).stories


@pytest.mark.parametrize("first, second", [
    ("As an analyst, I want to copy files from local to HDFS", "As an analyst, I want to copy files from HDFS to local"),
    ("As an operator, I want to send Framework->Executor messages", "As an operator, I want to send Executor->Framework messages"),
    ("As a developer, I want a Python client for the REST API", "As a developer, I want a Java client for the REST API"),
])
def test_the_same_words_in_another_direction_or_with_another_name_are_not_a_duplicate(dalpiaz, first, second):
    stories = _beside_g04(dalpiaz, first, second)
    [pair] = [p for p in find_duplicates(stories, threshold=0.01) if {p.a.id, p.b.id} == {"paste-1", "paste-2"}]
    assert pair.similarity < DEFAULT_THRESHOLD
    assert frozenset(("paste-1", "paste-2")) not in _ids(find_duplicates(stories))


def test_a_reworded_request_in_the_same_direction_is_still_a_duplicate(dalpiaz):
    stories = _beside_g04(
        dalpiaz, "As an analyst, I want to copy files from local to HDFS", "As a data engineer, I want to copy my files from local into HDFS"
    )
    assert frozenset(("paste-1", "paste-2")) in _ids(find_duplicates(stories))


def test_pairs_come_best_first_exact_copies_then_by_similarity(dalpiaz):
    pairs = find_duplicates(_backlog(dalpiaz, "g02-federalspending.txt"))
    ranks = [(-p.similarity, not p.exact) for p in pairs]
    assert {p.exact for p in pairs} == {True, False} and len({p.similarity for p in pairs}) > 2
    assert ranks == sorted(ranks)


def test_with_meaning_a_pair_whose_goals_mean_the_same_is_found_below_the_word_threshold(dalpiaz, embedder):
    """g04-16 "add or remove recycling facilities' information" and g04-40 "add recycling center information":
    labelled duplicates, 0.40 alike by words, 0.75 by meaning."""
    stories = _backlog(dalpiaz, "g04-recycling.txt")
    pair = frozenset(("g04-recycling-16", "g04-recycling-40"))
    assert pair not in _ids(find_duplicates(stories))
    [found] = [p for p in find_duplicates(stories, embedder=embedder) if frozenset((p.a.id, p.b.id)) == pair]
    assert found.similarity < DEFAULT_THRESHOLD and found.meaning >= 0.7
    assert found.describe() == f"similarity {found.similarity:.2f}, alike in meaning {found.meaning:.2f}"
    new = [s for s in stories if s.id == "g04-recycling-40"]  # pasted again into a collection of the other 50
    rest = [s for s in stories if s.id != "g04-recycling-40"]
    assert pair in _ids(duplicates_of(new, rest, embedder=embedder)) and pair not in _ids(duplicates_of(new, rest))


def test_a_raised_threshold_raises_the_bar_for_meaning_too(dalpiaz, embedder):
    """g17-24 and g17-34 ("upgrade a dataset instance to a new(er) version of its code") are 0.55 alike by words,
    0.755 in meaning: a pair at the default threshold, none at 0.75, where their words are still within the margin
    but their goals must mean the same by 0.80."""
    stories = _backlog(dalpiaz, "g17-cask.txt")
    pair = frozenset(("g17-cask-24", "g17-cask-34"))
    assert pair in _ids(find_duplicates(stories, embedder=embedder))
    assert pair not in _ids(find_duplicates(stories, threshold=0.75, embedder=embedder))
