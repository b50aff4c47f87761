"""Filters scope a question or a list by the tracker's fields, written the same way in every face."""

from __future__ import annotations

import pytest

from storychat.analysis.filters import Filter, Scope, field_values, parse_filter, parse_scope
from storychat.stories import Story
from storychat.stories.model import Fields


def item(id: str, role: str = "", epic: str = "", **fields) -> Story:
    return Story(id, f"Item {id}", "jira.csv", 1, role=role, epic=epic, fields=Fields(**fields))


ITEMS = [
    item("P-1", role="Line Manager", epic="Checkout", status="Open", labels=("payments", "ui"), points=8.0, created="2024-03-02T10:00"),
    item("P-2", role="line managers", status="Closed", labels=("payments",), points=3.0, created="2024-02-27T09:00"),
    item("P-3", epic="checkout", status="open", sprints=("Sprint 4", "Sprint 5"), points=13.0),
    Story("note-1", "A loose line", "paste", 4, kind="note"),
]


def ids(stories) -> list[str]:
    return [s.id for s in stories]


def test_a_filter_is_written_field_equals_value_as_users_and_jira_spell_the_field():
    assert parse_filter("status=Open") == Filter("status", "=", "Open")
    assert parse_filter("Labels = payments") == Filter("label", "=", "payments")
    assert parse_filter("Story Points>=8") == Filter("points", ">=", "8")
    assert parse_filter("Fix Version=2.1") == Filter("fix_version", "=", "2.1")
    assert str(parse_filter("tags=ui")) == "label=ui"


@pytest.mark.parametrize("spelling, says", [
    ("status", "field=value"),
    ("colour=red", "Unknown filter field"),
    ("status>=Open", "compared by name"),
    ("points=many", "number or a range"),
    ("created>=March", "2024-03-01"),
])
def test_a_filter_that_cannot_be_read_says_how_to_write_it(spelling, says):
    with pytest.raises(ValueError, match=says):
        parse_filter(spelling)


def test_text_fields_match_whole_values_ignoring_case_and_repeated_columns_count():
    assert ids(parse_scope(["status=OPEN"]).apply(ITEMS)) == ["P-1", "P-3"]
    assert ids(parse_scope(["label=payments"]).apply(ITEMS)) == ["P-1", "P-2"]
    assert ids(parse_scope(["sprint=sprint 5"]).apply(ITEMS)) == ["P-3"]
    assert ids(parse_scope(["label=pay"]).apply(ITEMS)) == []


def test_role_and_epic_match_the_way_the_role_and_epic_lists_group_them():
    assert ids(parse_scope(["role=line manager"]).apply(ITEMS)) == ["P-1", "P-2"]
    assert ids(parse_scope(["epic=CHECKOUT"]).apply(ITEMS)) == ["P-1", "P-3"]


def test_points_take_bounds_and_ranges_and_an_item_without_points_never_passes():
    assert ids(parse_scope(["points>=8"]).apply(ITEMS)) == ["P-1", "P-3"]
    assert ids(parse_scope(["points=3..8"]).apply(ITEMS)) == ["P-1", "P-2"]
    assert ids(parse_scope(["points<8"]).apply(ITEMS)) == ["P-2"]


def test_dates_compare_by_day():
    assert ids(parse_scope(["created>=2024-03-01"]).apply(ITEMS)) == ["P-1"]
    assert ids(parse_scope(["created=2024-02-27"]).apply(ITEMS)) == ["P-2"]


def test_every_filter_must_pass_and_an_empty_scope_keeps_everything_notes_included():
    scope = parse_scope(["status=Open", "label=payments", ""])
    assert ids(scope.apply(ITEMS)) == ["P-1"]
    assert scope.describe() == "status Open, label payments"
    assert scope.to_record() == ["status=Open", "label=payments"]
    assert not Scope() and ids(Scope().apply(ITEMS)) == ids(ITEMS)


def test_field_values_offer_only_the_fields_a_collection_has_most_used_first():
    values = field_values(ITEMS)
    assert set(values) == {"status", "label", "sprint", "epic", "role"}
    assert values["status"] == [("Open", 2), ("Closed", 1)]
    assert values["label"] == [("payments", 2), ("ui", 1)]
    assert values["role"] == [("Line Manager", 2)]
