"""Quality lint (QUS rules) on the Dalpiaz backlogs and on pasted and CSV input."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from storychat.analysis.lint import Finding, LintSummary, by_story, highlight_markdown, lint, summarise
from storychat.stories.formats import read_bytes, read_file, read_text


@pytest.fixture(scope="module")
def backlogs(dalpiaz: Path):
    return {path.stem[:3]: read_file(path).stories for path in sorted(dalpiaz.glob("*.txt"))}


def _findings(stories, story_id: str, rule: str) -> list[tuple[str, str]]:
    """(severity, offending words) of one story's findings under one rule."""
    text = next(s.text for s in stories if s.id == story_id)
    return [
        (f.severity, text[f.span[0]:f.span[1]] if f.span else "")
        for f in lint(stories)
        if f.story_id == story_id and f.rule == rule
    ]


def test_a_conjunction_before_a_second_action_is_an_atomic_finding_on_that_word(backlogs):
    # "... enter my zip code and get a list of nearby recycling facilities"
    assert _findings(backlogs["g04"], "g04-recycling-3", "atomic") == [("medium", "and")]


def test_a_conjunction_between_two_objects_is_not_atomic(backlogs):
    # "... read users' feedback and complaints"
    assert _findings(backlogs["g04"], "g04-recycling-17", "atomic") == []


def test_conjunctions_in_the_benefit_are_not_atomic(backlogs):
    # "... so that I can receive any posted bond and/or obtain occupancy."
    assert _findings(backlogs["g03"], "g03-loudoun-45", "atomic") == []


def test_a_bracketed_aside_is_a_minimal_finding(backlogs):
    assert _findings(backlogs["g18"], "g18-neurohub-80", "minimal") == [("low", "(and video)")]


@pytest.mark.parametrize("story_id", ["g25-duraspace-16", "g22-rdadmp-67"])
def test_brackets_inside_a_word_are_not_minimal_findings(backlogs, story_id):
    # "collection(s)", "(re-)use"
    assert _findings(backlogs[story_id[:3]], story_id, "minimal") == []


def test_an_extra_sentence_is_a_minimal_finding(backlogs):
    # "... with a Final Action status. So that I can finish it."
    assert _findings(backlogs["g03"], "g03-loudoun-20", "minimal") == [("low", "So that I can finish it.")]


def test_an_abbreviation_does_not_start_a_new_sentence(backlogs):
    # "... (i.e. desires ability to link to content)": the aside only
    assert _findings(backlogs["g27"], "g27-culrepo-2", "minimal") == [
        ("low", "(i.e. desires ability to link to content)")
    ]


def test_a_means_indicator_most_stories_do_not_use_is_a_uniform_finding(backlogs):
    # 60 of 66 g08 stories say "I want"; six say "I would like".
    findings = [f for f in lint(backlogs["g08"]) if f.rule == "uniform"]
    assert len(findings) == 6
    assert findings[0].story_id == "g08-frictionless-21"
    assert findings[0].message == "the means indicator 'I would like' where 60 of 66 stories use 'I want'"
    assert _findings(backlogs["g12"], "g12-camperplus-51", "uniform") == [("low", "I'm able")]


def test_an_ends_indicator_most_stories_do_not_use_is_a_uniform_finding(backlogs):
    assert _findings(backlogs["g04"], "g04-recycling-6", "uniform") == [("low", "so")]


def test_a_negated_want_follows_the_want_template(backlogs):
    # "As a user, I don't want to see NASA grants displayed as contracts."
    assert _findings(backlogs["g02"], "g02-federalspending-52", "uniform") == []


def test_without_a_template_most_stories_follow_nothing_is_non_uniform(backlogs):
    stories = backlogs["g04"][:10]
    half_can = [
        story if n % 2 else replace(story, text=story.text.replace("I want to", "I can"))
        for n, story in enumerate(stories)
    ]
    assert sum(story.text.startswith("As a user, I can ") for story in half_can) == 5
    assert [f for f in lint(half_can) if f.rule == "uniform" and "means" in f.message] == []


def test_a_copy_of_an_earlier_story_is_a_unique_finding(backlogs):
    findings = [f for f in lint(backlogs["g02"]) if f.rule == "unique"]
    assert [(f.story_id, f.severity, f.message, f.span) for f in findings] == [
        ("g02-federalspending-11", "high", "the same text as g02-federalspending-5", None),
        ("g02-federalspending-30", "high", "the same text as g02-federalspending-20", None),
        ("g02-federalspending-62", "high", "the same text as g02-federalspending-19", None),
    ]


def test_a_pasted_story_without_a_role_is_not_well_formed():
    stories = read_text("I want to export my backlog as CSV, so that I can open it in Excel").stories
    assert [(f.rule, f.severity, f.message, f.span) for f in lint(stories)] == [
        ("well_formed", "high", "no role: start with 'As a <role>,'", (0, 6)),
    ]


def test_a_csv_story_row_that_is_not_in_the_connextra_form_is_not_well_formed():
    stories = read_bytes(b"Summary,Issue Type\nExport the report to CSV,Story\n", "jira.csv").stories
    [finding] = lint(stories)
    assert (finding.rule, finding.severity, finding.span) == ("well_formed", "high", None)


def test_a_role_from_its_own_column_counts_as_the_role():
    stories = read_bytes(b"Summary,Role\nI want to export the report,analyst\n", "jira.csv").stories
    assert lint(stories) == []


def test_headings_and_continuation_lines_are_not_linted(backlogs):
    notes = {s.id for s in backlogs["g16"] if s.is_note}
    assert notes == {"g16-mis-35", "g16-mis-48"}
    assert not notes & {f.story_id for f in lint(backlogs["g16"])}


def test_the_summary_counts_findings_per_rule_and_severity_and_the_clean_share(backlogs):
    stories = backlogs["g04"]
    summary = summarise(stories, lint(stories))
    assert summary == LintSummary(
        stories=51, clean=44, by_rule={"atomic": 6, "uniform": 1}, by_severity={"medium": 6, "low": 1}
    )
    assert summary.clean_share == pytest.approx(44 / 51)


def test_findings_are_grouped_by_story_in_the_order_of_the_stories(backlogs):
    grouped = by_story(lint(backlogs["g10"]))
    assert list(grouped)[:2] == ["g10-scrumalliance-7", "g10-scrumalliance-13"]
    assert [f.message.split("'")[1] for f in grouped["g10-scrumalliance-13"]] == ["and approve", "or reject"]


def test_every_span_is_words_inside_its_story(backlogs):
    for stories in backlogs.values():
        texts = {s.id: s.text for s in stories}
        for finding in lint(stories):
            if finding.span:
                start, end = finding.span
                words = texts[finding.story_id][start:end]
                assert 0 <= start < end <= len(texts[finding.story_id])
                assert words == words.strip(), finding


def test_highlighting_bolds_the_offending_words_and_escapes_html_and_markdown():
    [story] = read_text("As a <b>user</b>, I want to add or remove *items* (for now)").stories
    assert highlight_markdown(story.text, lint([story])) == (
        "As a &lt;b&gt;user&lt;/b&gt;, I want to add **or** remove \\*items\\* **(for now)**"
    )


def test_overlapping_spans_are_bolded_once():
    findings = [Finding("s", "minimal", "low", "", (5, 12)), Finding("s", "atomic", "medium", "", (9, 17))]
    assert highlight_markdown("As a user, I want it", findings) == "As a **user, I want** it"


def test_an_apostrophe_is_shown_as_itself_not_as_an_escaped_entity():
    story = read_text("As a manager, I want to see the facilities' rota (for all sites), so that I can plan.").stories[0]
    shown = highlight_markdown(story.text, lint([story]))
    assert "facilities' rota **(for all sites)**" in shown and "&" not in shown
