"""Role and epic indexes, and exact lists and counts, on the Dalpiaz backlogs and the roles gold."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from storychat.analysis.roles import (
    epic_index,
    normalise_role,
    role_index,
    stories_for_role,
    stories_in_epic,
    stories_mentioning,
)
from storychat.stories.formats import read_file, read_text
from storychat.stories.parse import parse_parts


@pytest.fixture(scope="module")
def all_stories(dalpiaz: Path):
    return [s for path in sorted(dalpiaz.glob("*.txt")) for s in read_file(path).stories]


@pytest.mark.parametrize(
    "role, normal",
    [
        ("The Admins", "administrator"),
        ("an Administrator", "administrator"),
        ("Site admin", "site administrator"),
        ("Developers", "developer"),
        ("dev", "developer"),
        ("Libraries", "library"),
        ("coaches", "coach"),
        ("data analysis", "data analysis"),
        ("bus", "bus"),
        ("end user", "end user"),
        ("  Repository   Manager. ", "repository manager"),
    ],
)
def test_roles_normalise_case_articles_plurals_and_short_forms(role, normal):
    assert normalise_role(role) == normal


def test_admin_and_administrator_are_one_role_in_the_index(all_stories):
    [administrators] = [g for g in role_index(all_stories) if g.name == "administrator"]
    assert administrators.count == 46
    assert set(administrators.spellings) == {"admin", "Admin", "administrator", "Administrator"}


def test_the_role_index_holds_every_story_once_most_stories_first(all_stories):
    index = role_index(all_stories)
    assert sum(g.count for g in index) == sum(not s.is_note for s in all_stories) == 1677
    assert [g.count for g in index] == sorted((g.count for g in index), reverse=True)
    assert (index[0].name, index[0].count) == ("user", 154)


def test_stories_for_a_role_are_all_stories_whose_role_normalises_the_same(dalpiaz):
    stories = read_file(dalpiaz / "g04-recycling.txt").stories
    admins = stories_for_role(stories, "Admins")
    assert len(admins) == 11
    assert {s.role for s in admins} == {"admin"}
    assert stories_for_role(stories, "nobody") == []


def test_normalised_roles_match_the_gold_personas(roles_gold, capsys):
    """The parsed role against the first gold persona, both normalised."""
    total = matched = 0
    for gold_file in sorted(roles_gold.glob("g*.json")):
        for entry in json.loads(gold_file.read_text(encoding="utf-8")):
            parts = parse_parts(re.sub(r"^#G\d+#\s*", "", entry["Text"]))
            total += 1
            matched += parts is not None and normalise_role(parts.role) == normalise_role(entry["Persona"][0])
    assert total == 1670
    with capsys.disabled():
        print(f"\nnormalised role = normalised gold persona: {matched}/{total} = {matched / total:.2%}")
    assert matched / total >= 0.99


def _epics_backlog(dalpiaz: Path):
    lines = (dalpiaz / "g04-recycling.txt").read_text(encoding="utf-8").splitlines()
    return read_text("\n".join(["## Recycling centres", *lines[:3], "", "## Administration", *lines[15:17],
                                "", "## recycling  Centres", lines[35]])).stories


def test_stories_in_an_epic_ignore_case_and_spacing_of_its_name(dalpiaz):
    stories = _epics_backlog(dalpiaz)
    assert [s.line for s in stories_in_epic(stories, "RECYCLING CENTRES")] == [2, 3, 4, 11]
    assert stories_in_epic(stories, "Billing") == []


def test_the_epic_index_groups_stories_under_their_headings(dalpiaz):
    index = epic_index(_epics_backlog(dalpiaz))
    assert [(g.name, g.count, g.spellings) for g in index] == [
        ("recycling centres", 4, ("Recycling centres", "recycling  Centres")),
        ("administration", 2, ("Administration",)),
    ]


def test_how_many_stories_mention_a_word_counts_its_forms_as_whole_words(all_stories):
    mentions = stories_mentioning(all_stories, "Export")
    assert len(mentions) == 11
    assert "g23-archivesspace-4" in {s.id for s in mentions}  # "... files that were exported by Archon"
    assert "g08-frictionless-39" in {s.id for s in mentions}  # "import/export"


def test_a_longer_word_with_the_term_inside_is_not_a_mention():
    stories = read_text("As a user, I want exporting to be quick\nAs an admin, I want the exporter configured").stories
    assert [s.line for s in stories_mentioning(stories, "exports")] == [1]


def test_a_phrase_is_found_as_consecutive_words(all_stories):
    assert [s.id for s in stories_mentioning(all_stories, "agent records")] == ["g23-archivesspace-19", "g23-archivesspace-51"]


def test_acceptance_criteria_count_as_part_of_the_story():
    [story] = read_text("As a user, I want a report\n- Given a report, when I export it, then I get CSV").stories
    assert stories_mentioning([story], "export") == [story]


def test_a_term_without_letters_or_digits_is_refused():
    with pytest.raises(ValueError, match="word"):
        stories_mentioning([], " ?! ")
