"""Quick actions: code computes the exact set; the model only summarises it, citing ids from it."""

import json
import subprocess
import sys

import pytest

from storychat.analysis.actions import epic_action, find_duplicates_action, quality_action, quick_action, role_action
from storychat.answer.answer import final
from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.stories.formats import read_file, read_text
from tests.helpers import ROOT


@pytest.fixture(scope="module")
def recycling(dalpiaz):
    return [s for s in read_file(dalpiaz / "g04-recycling.txt").stories if not s.is_note]


def test_find_duplicates_lists_the_known_near_duplicate_pair(recycling):
    action = find_duplicates_action(recycling)
    assert {s.id for s in action.stories} == {"g04-recycling-5", "g04-recycling-12"}
    assert action.evidence == ["[g04-recycling-5] ~ [g04-recycling-12] similarity 0.83"]


def test_stories_by_role_is_the_exact_list_with_synonyms_folded(recycling):
    action = role_action(recycling, "administrator")
    expected = [s.id for s in recycling if s.role.lower() in {"admin", "administrator"}]
    assert [s.id for s in action.stories] == expected and len(expected) == 11
    assert "11 stories for 'administrator'" in action.title


def test_quality_report_lists_every_finding_and_its_stories(recycling):
    action = quality_action(recycling)
    assert len(action.evidence) >= len(action.stories) > 0
    assert all(line.startswith("[g04-recycling-") for line in action.evidence)


def test_the_ui_and_the_cli_run_a_quick_action_by_name_and_it_asks_for_a_missing_argument(recycling):
    assert quick_action("role", recycling, " admin ").stories == role_action(recycling, "admin").stories
    assert quick_action("duplicates", recycling, "").evidence == find_duplicates_action(recycling).evidence
    assert quick_action("quality", recycling).evidence == quality_action(recycling).evidence
    with pytest.raises(ValueError, match="Pick a role first"):
        quick_action("role", recycling, " ")
    with pytest.raises(ValueError, match="Type a word first"):
        quick_action("mention", recycling, None)


def test_an_epic_summary_covers_exactly_the_stories_under_its_heading():
    batch = read_text("# Billing\nAs a clerk, I want to send invoices, so that we get paid.\n"
                      "As a clerk, I want reminders, so that late payers pay.\n\n# Search\nAs a user, I want search.")
    action = epic_action(batch.stories, "billing")
    assert [s.text.split(",")[1].strip() for s in action.stories] == ["I want to send invoices", "I want reminders"]


@pytest.mark.model
def test_the_model_summary_cites_only_stories_of_the_set(engine, recycling):
    action = role_action(recycling, "admin")
    pipeline = Pipeline(engine, options=AnswerOptions(max_tokens=32))
    answer = final(pipeline.summarise(action.instruction, action.stories))
    in_set = {s.id for s in action.stories}
    assert answer.evidence and {c.id for c in answer.evidence} <= in_set
    assert not [c for c in answer.citations if c.valid and c.id not in in_set]


def test_cli_analyze_lists_a_role_exactly(dalpiaz):
    result = subprocess.run(
        [sys.executable, "-m", "storychat", "analyze", "--stories", str(dalpiaz / "g04-recycling.txt"),
         "--roles", "--role", "admin", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    sets = json.loads(result.stdout)["sets"]
    assert len(sets) == 1 and len(sets[0]["ids"]) == 11 and "g04-recycling-16" in sets[0]["ids"]


def test_how_many_stories_mention_a_word_is_counted_exactly(dalpiaz):
    from storychat.analysis.actions import mention_action

    poker = read_file(dalpiaz / "g13-planningpoker.txt").stories
    action = mention_action(poker, "export")
    assert [s.id for s in action.stories] == ["g13-planningpoker-18", "g13-planningpoker-19"]
    assert action.title == "Stories mentioning 'export': 2"


def test_the_quality_report_groups_findings_by_rule_and_highlights_the_offending_words(recycling):
    action = quality_action(recycling)
    atomic = action.evidence_markdown.split("**atomic** (medium, 6):\n")[1].split("\n**")[0]
    line = next(m for m in atomic.splitlines() if "g04-recycling-3" in m)
    assert "**and**" in line and "adds a second action" in line
