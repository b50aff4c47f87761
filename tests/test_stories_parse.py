"""Connextra parsing: role, goal and benefit of user stories as people write them."""

from __future__ import annotations

import json
import re

import pytest

from storychat.stories.parse import Parts, parse_parts

MIN_ROLE_ACCURACY = 0.95


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "As a moderator, I want to create a new game, so that I can start inviting estimators.",
            Parts("moderator", "create a new game", "I can start inviting estimators"),
        ),
        ("As an admin, I want to see all users.", Parts("admin", "see all users", "")),
        ("As the owner, I want a report so that I see sales", Parts("owner", "a report", "I see sales")),
        (
            "In order to save time, as a moderator, I want to copy a game",
            Parts("moderator", "copy a game", "save time"),
        ),
        ("As a Developer , I want to build it , so that it ships", Parts("Developer", "build it", "it ships")),
        ("As an admin I want users listed", Parts("admin", "users listed", "")),
        ("As a user, I'd like to export CSV", Parts("user", "export CSV", "")),
        ("As a user, I\u2019d like to export CSV", Parts("user", "export CSV", "")),
        ("As a user, I would like a dark theme", Parts("user", "a dark theme", "")),
        ("As a user, I need a button.", Parts("user", "a button", "")),
        ("As a user, I can reset my password", Parts("user", "reset my password", "")),
        ("As a user, I'm able to report a bug", Parts("user", "report a bug", "")),
        ("As a user, I want to share, so I can show friends", Parts("user", "share", "I can show friends")),
        ("As a tester, I want logs in order to debug", Parts("tester", "logs", "debug")),
        ("as a UI designer, i want  to   test", Parts("UI designer", "test", "")),
        ("As a team, we want a board", Parts("team", "a board", "")),
        ("As a researcher, would like an API, so that I can script", Parts("researcher", "an API", "I can script")),
    ],
)
def test_connextra_variants_give_role_goal_and_benefit(text, expected):
    assert parse_parts(text) == expected


def test_a_negated_want_stays_in_the_goal():
    assert parse_parts("As a user, I don't want to see ads.").goal == "don't want to see ads"


@pytest.mark.parametrize(
    "text, role",
    [
        ("As a Researcher, working with data, I want X", "Researcher"),
        ("As a site member who has read a teaser, I want X", "site member"),
        ("As an NSF person interested in interviews, I want X", "NSF person"),
        ("As a Data Publishing User, I want X", "Data Publishing User"),
    ],
)
def test_qualifiers_after_the_role_noun_are_not_part_of_the_role(text, role):
    assert parse_parts(text).role == role


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Auditing & Reporting.",
        "bidirectionally with the repository.",
        "to support data migration integrity testing.",
        "As a user, I want",
        "We want a faster build",
    ],
)
def test_text_that_is_not_a_user_story_gives_none(text):
    assert parse_parts(text) is None


def _normal_role(role: str) -> str:
    return " ".join(word for word in role.lower().split() if word not in ("a", "an", "the"))


def test_parsed_role_matches_the_first_gold_persona_for_at_least_95_percent(roles_gold, capsys):
    """Gold rule: the parsed role must equal the *first* Persona entry, ignoring
    case, articles and whitespace."""
    total = matched = 0
    for gold_file in sorted(roles_gold.glob("g*.json")):
        for entry in json.loads(gold_file.read_text(encoding="utf-8")):
            text = re.sub(r"^#G\d+#\s*", "", entry["Text"])
            parts = parse_parts(text)
            total += 1
            matched += parts is not None and _normal_role(parts.role) == _normal_role(entry["Persona"][0])
    accuracy = matched / total
    figure = f"role accuracy vs gold first persona: {matched}/{total} = {accuracy:.2%}"
    with capsys.disabled():
        print(f"\n{figure}")
    assert total == 1670
    assert accuracy >= MIN_ROLE_ACCURACY, figure
