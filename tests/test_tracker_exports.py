"""Tracker exports read whole (issue 31): Jira CSV and REST, Azure DevOps, GitHub issues and GPT2SP, in their real shapes."""

from __future__ import annotations

import json

import pytest

from storychat.answer.lines import lines
from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.stories.embedder import load_embedder
from storychat.stories.changes import plan_import
from storychat.stories.formats import read_file, read_text
from storychat.stories.library import Library
from storychat.stories.model import Comment
from tests.helpers import DATA

# (fixture, an item, a piece of its description, its first comment, its labels)
KEPT = [
    ("jira-all-fields.csv", "BILL-42", "```\n3 x 0.333 = 0.999\n```",
     Comment("Reproduced with the March data.", "akhan", "2024-03-19T08:30"), ("invoicing",)),
    ("jira-all-fields.csv", "BILL-41", "",
     Comment("Legal wants the VAT number on every page.", "mreyes", "2024-03-14T10:02"), ("invoicing", "export", "customer-facing")),
    ("jira-search.json", "SHIP-8", "Addresses over 4 lines are cut off on the label.",
     Comment("Fixed by wrapping the last line.", "Ana Silva", "2024-03-07T08:12:00.000+0100"), ("labels", "printing")),
    ("jira-search.json", "SHIP-7", "",
     Comment("DHL and UPS first, the others later.", "Tom Berg", "2024-03-05T09:00:00.000+0100"), ("tracking", "customer-facing", "tracking-v2")),
    ("azure-devops.csv", "2103", "Rooms 5.01 to 5.12 never appear in the list.",
     Comment("Fixed by re-syncing the room list."), ("rooms", "bug")),
    ("github-issues.json", "#15", "Steps: create an empty `config.toml`, start the app.",
     Comment("Fixed in #16.", "hubot", "2024-05-06T08:30:00Z"), ("bug", "ui")),
    ("gpt2sp-usergrid.csv", "USERGRID-497", "ApplicationResourceIT is reporting failures.", None, ()),
]


@pytest.mark.parametrize("fixture, item, description, comment, labels", KEPT, ids=[f"{k[0]}:{k[1]}" for k in KEPT])
def test_a_trackers_description_comment_and_labels_reach_the_library_and_the_record(tmp_path, fixture, item, description, comment, labels):
    library = Library(tmp_path)
    library.add("c", read_file(DATA / fixture))
    story = next(s for s in library.stories("c") if s.id == item)
    assert description in story.description and story.kind == "story"
    assert story.comments[:1] == ((comment,) if comment else ())
    assert story.fields.labels == labels
    record = json.loads(json.dumps(story.to_record()))
    assert (description in record["description"], record["fields"]["labels"], record["comments"][:1]) == (
        True, list(labels), [vars(comment)] if comment else []
    )


@pytest.mark.parametrize("fixture", sorted({k[0] for k in KEPT}))
def test_every_item_of_an_export_is_stored_as_read(tmp_path, fixture):
    batch = read_file(DATA / fixture)
    library = Library(tmp_path)
    report = library.add("c", batch)
    assert (report.duplicates, report.notes, batch.warnings) == ([], [], [])
    assert library.stories("c") == batch.stories


def test_a_jira_csv_keeps_every_field_and_times_in_iso_8601():
    story = next(s for s in read_file(DATA / "jira-all-fields.csv").stories if s.id == "BILL-41")
    assert story.title == "Export invoices as PDF" and story.text.startswith("As an accountant, I want to export")
    fields = story.fields
    assert (fields.type, fields.status, fields.priority, fields.points, fields.parent) == ("Story", "In Progress", "High", 5.0, "BILL-12")
    assert (fields.sprints, fields.components, fields.fix_versions) == (("BILL Sprint 7", "BILL Sprint 8"), ("Billing",), ("2.4",))
    assert (fields.created, fields.updated, fields.resolved) == ("2024-03-12T15:41", "2024-04-02T09:05", "")
    assert fields.other == (("Issue id", "10441"), ("Custom field (Team)", "Ledger"))
    assert story.comments[1] == Comment("Logo size agreed with design.", "jsmith", "2024-03-20T16:15")


def test_the_import_report_names_what_each_column_became():
    line = plan_import("c", read_file(DATA / "jira-all-fields.csv"), []).columns_line()
    assert line.startswith("Columns: Summary → title, Issue key → id, Issue Type → type,")
    assert "Labels ×3 → labels, Sprint ×2 → sprints" in line and "Comment ×2 → comments" in line
    assert line.endswith("; kept as fields: Issue id, Custom field (Team)")


def test_a_jira_rest_search_reads_adf_descriptions_custom_fields_and_parents():
    story = read_file(DATA / "jira-search.json").stories[0]
    assert (story.id, story.title) == ("SHIP-7", "Track a parcel from the order page")
    assert story.text.startswith("As a customer, I want to track my parcel") and story.role == "customer"
    assert (story.fields.points, story.fields.sprints, story.fields.parent, story.fields.other) == (
        5.0, ("SHIP Sprint 3",), "SHIP-1", (("assignee", "Priya Nair"),)
    )


def test_github_issues_are_numbered_as_github_refers_to_them():
    stories = read_file(DATA / "github-issues.json").stories
    assert [(s.id, s.fields.status, s.fields.sprints) for s in stories] == [
        ("#12", "OPEN", ("v1.4",)), ("#15", "CLOSED", ()), ("#18", "OPEN", ("v1.4",))
    ]
    assert stories[0].title == "Dark mode for the settings page" and stories[0].role == "user"


def test_azure_devops_tags_are_split_and_paths_kept():
    story = read_file(DATA / "azure-devops.csv").stories[0]
    assert (story.id, story.text, story.fields.type) == ("2101", "Book a meeting room from the calendar", "User Story")
    assert (story.fields.labels, story.fields.sprints, story.fields.components) == (
        ("rooms", "calendar"), ("Facilities\\Sprint 14",), ("Facilities\\Rooms",)
    )
    assert story.acceptance == ("Only free rooms are offered", "The booking shows in Outlook")


def test_gpt2sp_items_keep_their_keys_and_points_and_are_items_not_notes():
    stories = read_file(DATA / "gpt2sp-usergrid.csv").stories
    assert [(s.id, s.kind, s.fields.points) for s in stories] == [
        ("USERGRID-17", "story", 3.0), ("USERGRID-332", "story", 3.0), ("USERGRID-333", "story", 3.0),
        ("USERGRID-343", "story", 3.0), ("USERGRID-497", "story", 5.0),
    ]
    assert stories[0].description.startswith("Need to add refresh token capability to the rest tier.")
    assert stories[0].fields.other == (("split_mark", "train"),)


def test_items_with_the_same_summary_and_different_keys_are_both_kept(tmp_path):
    library = Library(tmp_path)
    report = library.add("usergrid", read_file(DATA / "gpt2sp-usergrid.csv"))
    assert report.duplicates == [] and {"USERGRID-332", "USERGRID-343"} <= {s.id for s in report.added}
    again = library.add("jira", read_file(DATA / "jira-all-fields.csv"))
    assert [s.title or s.text for s in again.added if s.id in ("BILL-43", "BILL-44")] == ["Remind customers of overdue invoices"] * 2


def test_equal_content_is_a_duplicate_only_under_the_same_key_or_none(tmp_path):
    library = Library(tmp_path)
    report = library.add("c", read_text("US-1: As a u, I want A\nUS-1: As a u, I want A\nUS-2: As a u, I want A\nAs a u, I want A"))
    assert [s.id for s in report.added] == ["US-1", "US-2"]
    assert [s.id for s in report.duplicates] == ["US-1", "paste-4"]


def test_passages_give_the_whole_item_in_reading_order():
    story = next(s for s in read_file(DATA / "jira-all-fields.csv").stories if s.id == "BILL-42")
    assert story.passages() == [
        "Invoice totals round wrong",
        story.description,
        "akhan, 2024-03-19T08:30: Reproduced with the March data.",
    ]


def test_search_finds_an_item_by_its_description_and_by_its_comment(fake_engine):
    stories = read_file(DATA / "jira-all-fields.csv").stories
    pipeline = Pipeline(fake_engine, embedder=load_embedder())
    assert pipeline.search("Which invoices are off by one cent?", stories)[0].story.id == "BILL-42"  # its description
    assert pipeline.search("Who wants the VAT number on every page?", stories)[0].story.id == "BILL-41"  # a comment


def test_an_answer_stated_by_a_description_is_verified_and_its_evidence_is_the_item(fake_engine):
    stories = read_file(DATA / "jira-all-fields.csv").stories
    fake_engine.reply = "[BILL-44] A second reminder is sent when an invoice is 30 days overdue."
    answer = Pipeline(fake_engine, options=AnswerOptions(max_tokens=60)).answer("When is the second reminder sent?", stories)
    [cite] = answer.evidence
    assert (cite.id, cite.verified, cite.text) == ("BILL-44", True, "Remind customers of overdue invoices")
    assert "Send a second reminder when an invoice is 30 days overdue." in fake_engine.calls[-1][0].content  # the prompt


def test_an_answer_stated_by_a_comment_shows_that_comment_as_its_evidence(fake_engine):
    stories = read_file(DATA / "jira-all-fields.csv").stories
    comment = next(c for c in next(s for s in stories if s.id == "BILL-41").comments if "VAT number" in c.text)
    fake_engine.reply = f"[BILL-41] {comment.text}"
    record = Pipeline(fake_engine, options=AnswerOptions(max_tokens=60)).answer("Who wants the VAT number on every page?", stories).to_json()
    [sentence] = record["sentences"]
    assert [(e["id"], e["kind"], e["author"], e["text"]) for e in sentence["evidence"]] == [("BILL-41", "comment", comment.author, comment.text)]
    assert f"comment by {comment.author}: " in "\n".join(detail for cite in lines(record).citations for detail in cite.details)
