"""Reading stories from files, uploads and pasted text."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from storychat.stories.formats import (
    Limits,
    StoryImportError,
    decode_bytes,
    read_bytes,
    read_file,
    read_text,
)


def _texts(batch):
    return [story.text for story in batch.stories]


# --- the Dalpiaz backlogs -------------------------------------------------------


def test_all_22_dalpiaz_backlogs_import_to_the_reference_texts_and_lines(dalpiaz):
    reference = [
        json.loads(line)
        for line in (dalpiaz / "all_stories.normalized.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    files = sorted(dalpiaz.glob("*.txt"))
    imported = [
        {"dataset": path.stem, "line": story.line, "text": story.text}
        for path in files
        for story in read_file(path).stories
    ]
    assert len(files) == 22
    assert len(reference) == 1680
    assert imported == reference


def test_dalpiaz_non_story_lines_are_kept_as_notes(dalpiaz):
    notes = [
        (story.source, story.line)
        for path in sorted(dalpiaz.glob("*.txt"))
        for story in read_file(path).stories
        if story.is_note
    ]
    assert notes == [("g16-mis.txt", 35), ("g16-mis.txt", 48), ("g23-archivesspace.txt", 8)]


def test_a_story_without_its_own_id_gets_file_stem_and_line(dalpiaz):
    stories = read_file(dalpiaz / "g13-planningpoker.txt").stories
    story = next(story for story in stories if story.line == 19)
    assert story.id == "g13-planningpoker-19"
    assert story.role == "moderator"


def test_the_same_file_always_gives_the_same_ids(dalpiaz):
    path = dalpiaz / "g24-unibath.txt"
    assert [s.id for s in read_file(path).stories] == [s.id for s in read_file(path).stories]


# --- ids ---------------------------------------------------------------------------


def test_a_story_keeps_its_own_id_prefix():
    batch = read_text("US-12: As a user, I want A\nUS-13 As a user, I want B\nAS-1 As a user, I want C")
    assert [(s.id, s.text) for s in batch.stories] == [
        ("US-12", "As a user, I want A"),
        ("US-13", "As a user, I want B"),
        ("AS-1", "As a user, I want C"),
    ]


def test_an_issue_key_before_a_non_story_is_left_in_the_text():
    story = read_text("COVID-19 dashboard").stories[0]
    assert (story.id, story.text, story.kind) == ("paste-1", "COVID-19 dashboard", "note")


def test_duplicate_ids_with_different_texts_are_made_unique_with_a_warning():
    batch = read_text("US-1: As a user, I want A\nUS-1: As a user, I want B")
    assert [s.id for s in batch.stories] == ["US-1", "US-1-2"]
    assert "US-1" in batch.warnings[0] and "line 2" in batch.warnings[0]


def test_repeated_id_with_the_same_text_is_left_for_the_library_to_report():
    batch = read_text("US-1: As a user, I want A\nUS-1: As a user, I want A")
    assert [s.id for s in batch.stories] == ["US-1", "US-1"]
    assert batch.warnings == []


# --- decoding --------------------------------------------------------------------

STORY = "As a user, I want caf\u00e9 \u201cquotes\u201d, so that it\u2019s nice"


@pytest.mark.parametrize(
    "data",
    [
        STORY.encode("utf-8"),
        b"\xef\xbb\xbf" + STORY.encode("utf-8"),
        STORY.encode("utf-16"),  # with the platform's byte-order mark
        b"\xff\xfe" + STORY.encode("utf-16-le"),
        b"\xfe\xff" + STORY.encode("utf-16-be"),
        STORY.encode("cp1252"),
    ],
    ids=["utf8", "utf8-bom", "utf16", "utf16-le-bom", "utf16-be-bom", "cp1252"],
)
def test_every_supported_encoding_decodes_to_the_same_text(data):
    assert decode_bytes(data, "x.txt") == STORY


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings_and_a_missing_final_newline_keep_line_numbers(newline):
    data = newline.join(["As a a, I want b", "", "As a c, I want d"]).encode()
    batch = read_bytes(data, "s.txt")
    assert [(s.line, s.text) for s in batch.stories] == [(1, "As a a, I want b"), (3, "As a c, I want d")]


@pytest.mark.parametrize(
    "data",
    [
        b"As a user\x00, I want",
        b"\x89PNG\r\n\x1a\n" + b"IHDR" * 10,
        bytes(range(1, 9)) * 20 + b"As a user, I want things",
    ],
    ids=["nul-bytes", "png", "control-characters"],
)
def test_binary_data_is_refused(data):
    with pytest.raises(StoryImportError, match="looks like a binary file"):
        read_bytes(data, "stories.txt")


@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n"])
def test_an_empty_file_is_refused(data):
    with pytest.raises(StoryImportError, match="is empty"):
        read_bytes(data, "stories.txt")


def test_pasting_only_whitespace_is_refused():
    with pytest.raises(StoryImportError, match="is empty"):
        read_text("  \n ")


# --- limits ----------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_with_how_to_raise_it(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"As a user, I want x\n" * 100)
    with pytest.raises(StoryImportError) as error:
        read_file(path, Limits(max_bytes=1000))
    assert "--max-upload-mb" in str(error.value)
    assert "STORYCHAT_MAX_UPLOAD_MB" in str(error.value)


def test_an_upload_over_the_size_limit_is_refused():
    with pytest.raises(StoryImportError, match="upload limit"):
        read_bytes(b"x" * 2000, "big.txt", Limits(max_bytes=1000))


def test_more_stories_than_the_limit_are_refused():
    with pytest.raises(StoryImportError, match="more than 3 stories"):
        read_text("As a a, I want b\n" * 4, limits=Limits(max_stories=3))


def test_an_overlong_story_is_refused_naming_its_line():
    text = "As a a, I want b\nAs a user, I want " + "x" * 100
    with pytest.raises(StoryImportError, match="Line 2 of paste"):
        read_text(text, limits=Limits(max_story_chars=50))


# --- pasted text and Markdown ------------------------------------------------------


def test_pasted_text_gives_one_story_per_line_with_paste_ids():
    batch = read_text("As a a, I want b\n\nAs a c, I want d\n")
    assert [(s.id, s.text) for s in batch.stories] == [
        ("paste-1", "As a a, I want b"),
        ("paste-3", "As a c, I want d"),
    ]
    assert batch.source == "paste"


def test_acceptance_criteria_belong_to_the_story_above_them():
    text = (
        "As a user, I want to log in\n"
        "Given I am on the login page\n"
        "When I enter my password\n"
        "Then I see my dashboard\n"
        "\n"
        "As an admin, I want to lock accounts\n"
        "Acceptance criteria:\n"
        "- a locked user cannot log in\n"
        "* the user gets an email\n"
    )
    stories = read_text(text).stories
    assert [(s.text, s.acceptance) for s in stories] == [
        (
            "As a user, I want to log in",
            ("Given I am on the login page", "When I enter my password", "Then I see my dashboard"),
        ),
        ("As an admin, I want to lock accounts", ("a locked user cannot log in", "the user gets an email")),
    ]


def test_criteria_after_a_blank_line_are_notes_not_acceptance():
    stories = read_text("As a user, I want A\n\nThen something happens").stories
    assert [(s.kind, s.acceptance) for s in stories] == [("story", ()), ("note", ())]


def test_markdown_headings_become_epics_and_are_kept_as_notes(tmp_path):
    path = tmp_path / "backlog.md"
    path.write_text(
        "# Checkout\n"
        "- As a buyer, I want to pay by card\n"
        "* As a buyer, I want a receipt\n"
        "## Admin ##\n"
        "1. As an admin, I want refunds\n"
        "+ As an admin, I want reports\n",
        encoding="utf-8",
    )
    stories = read_file(path).stories
    assert [(s.kind, s.text, s.epic) for s in stories] == [
        ("note", "Checkout", "Checkout"),
        ("story", "As a buyer, I want to pay by card", "Checkout"),
        ("story", "As a buyer, I want a receipt", "Checkout"),
        ("note", "Admin", "Admin"),
        ("story", "As an admin, I want refunds", "Admin"),
        ("story", "As an admin, I want reports", "Admin"),
    ]
    assert stories[1].id == "backlog-2"


def test_a_stray_sentence_is_kept_as_a_note():
    stories = read_text("As a user, I want A\nThis line explains nothing.").stories
    assert stories[1].kind == "note" and stories[1].text == "This line explains nothing."


# --- uploads ----------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["../../etc/stories.txt", "..\\..\\stories.txt", "/tmp/x/stories.txt"])
def test_an_upload_uses_only_the_base_name_of_a_hostile_filename(filename):
    batch = read_bytes(b"As a user, I want A", filename)
    assert batch.source == "stories.txt"
    assert batch.stories[0].id == "stories-1"


def test_an_unsupported_file_type_is_refused_with_the_supported_ones():
    with pytest.raises(StoryImportError, match=r"unsupported file type \(\.exe\).*\.csv"):
        read_bytes(b"As a user, I want A", "stories.exe")


# --- CSV ----------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiters_are_detected(delimiter):
    rows = [["id", "story", "epic"], ["S1", "As a user, I want A, B and C", "Core"], ["S2", "As a user, I want D", "Core"]]
    data = "\n".join(delimiter.join(_quoted(cell, delimiter) for cell in row) for row in rows)
    stories = read_bytes(data.encode(), "s.csv").stories
    assert [(s.id, s.text, s.epic) for s in stories] == [
        ("S1", "As a user, I want A, B and C", "Core"),
        ("S2", "As a user, I want D", "Core"),
    ]


def _quoted(cell: str, delimiter: str) -> str:
    return f'"{cell}"' if delimiter in cell else cell


def test_a_jira_export_is_read_by_its_column_names_and_every_issue_is_an_item():
    data = (
        'Summary,Issue key,Issue id,Issue Type,Description,Custom field (Epic Link),'
        'Custom field (Acceptance Criteria),Sprint,Sprint\n'
        '"As a buyer, I want to pay",SHOP-1,10001,Story,,SHOP-0,"- card works\n- receipt sent",S1,S2\n'
        'Checkout page,SHOP-2,10002,Story,"As a buyer, I want a checkout page",SHOP-0,,S1,\n'
        'Login flaky,SHOP-3,10003,Bug,It fails sometimes,,,,\n'
        'Search by tag,SHOP-4,10004,Story,Find things faster,,,,\n'
    )
    stories = read_bytes(data.encode(), "jira.csv").stories
    assert [(s.id, s.text, s.kind, s.epic, s.acceptance, s.line) for s in stories] == [
        ("SHOP-1", "As a buyer, I want to pay", "story", "SHOP-0", ("card works", "receipt sent"), 1),
        ("SHOP-2", "As a buyer, I want a checkout page", "story", "SHOP-0", (), 2),
        ("SHOP-3", "Login flaky", "story", "", (), 3),
        ("SHOP-4", "Search by tag", "story", "", (), 4),
    ]
    assert [(s.title, s.description, s.fields.type, s.fields.sprints) for s in stories] == [
        ("", "", "Story", ("S1", "S2")),
        ("Checkout page", "", "Story", ("S1",)),
        ("", "It fails sometimes", "Bug", ()),
        ("", "Find things faster", "Story", ()),
    ]
    assert stories[0].fields.other == (("Issue id", "10001"),)


def test_csv_column_names_are_matched_without_regard_to_case():
    data = "ISSUE KEY;SUMMARY;ACCEPTANCE CRITERIA;PARENT\nA-1;As a u, I want x;Given y;A-0\n"
    story = read_bytes(data.encode(), "s.csv").stories[0]
    assert (story.id, story.acceptance, story.epic) == ("A-1", ("Given y",), "A-0")


def test_a_csv_role_column_overrides_the_parsed_role():
    data = "text,role\n\"As a user, I want x\",Shopper\n"
    assert read_bytes(data.encode(), "s.csv").stories[0].role == "Shopper"


def test_csv_without_an_id_column_numbers_records():
    data = 'user story\n"As a user, I want x"\n\n"As a user,\nI want y"\n'
    stories = read_bytes(data.encode(), "backlog.csv").stories
    assert [(s.id, s.line, s.text) for s in stories] == [
        ("backlog-1", 1, "As a user, I want x"),
        ("backlog-2", 2, "As a user,\nI want y"),
    ]


def test_a_csv_row_without_text_is_skipped_with_a_warning():
    batch = read_bytes(b"id,text\n1,As a u, I want x\n2,\n", "s.csv")
    assert [s.id for s in batch.stories] == ["1"]
    assert batch.warnings == ["Record 2 of s.csv has no story text; skipped."]


def test_a_csv_without_a_story_column_is_refused_naming_its_columns():
    with pytest.raises(StoryImportError, match="it has: name, priority"):
        read_bytes(b"name,priority\nlogin,high\n", "s.csv")


def test_a_csv_with_only_a_header_has_no_stories():
    with pytest.raises(StoryImportError, match="has no stories"):
        read_bytes(b"id,story\n", "s.csv")


# --- JSON -------------------------------------------------------------------------


def test_a_json_list_of_objects_is_read():
    data = json.dumps([
        {"id": "A", "text": "As a u, I want x"},
        {"id": 7, "summary": "Export", "description": "As a u, I want an export", "acceptance": ["one", "two"]},
    ])
    stories = read_bytes(data.encode(), "s.json").stories
    assert [(s.id, s.text, s.acceptance, s.line) for s in stories] == [
        ("A", "As a u, I want x", (), 1),
        ("7", "As a u, I want an export", ("one", "two"), 2),
    ]


def test_a_json_stories_wrapper_is_unwrapped():
    data = json.dumps({"stories": [{"text": "As a u, I want x"}]})
    assert [s.id for s in read_bytes(data.encode(), "mine.json").stories] == ["mine-1"]


@pytest.mark.parametrize("data", ['{"text": "As a u, I want x"}', '["As a u, I want x"]', '{"stories": 3}'])
def test_json_of_the_wrong_shape_is_refused_saying_what_is_expected(data):
    with pytest.raises(StoryImportError, match="Expected a list of objects"):
        read_bytes(data.encode(), "s.json")


def test_invalid_json_is_refused_with_its_position():
    with pytest.raises(StoryImportError, match=r"not valid JSON \(line 2"):
        read_bytes(b'[\n{"text": }]', "s.json")


def test_jsonl_gives_one_story_per_line():
    data = '{"id": "A", "text": "As a u, I want x"}\n\n{"text": "As a u, I want y"}\n'
    stories = read_bytes(data.encode(), "s.jsonl").stories
    assert [(s.id, s.line) for s in stories] == [("A", 1), ("s-3", 3)]


def test_a_bad_jsonl_line_is_refused_naming_the_line():
    with pytest.raises(StoryImportError, match="Line 2 of s.jsonl is not a JSON object"):
        read_bytes(b'{"text": "As a u, I want x"}\n[1]\n', "s.jsonl")


# --- Excel ------------------------------------------------------------------------


def test_an_xlsx_sheet_is_read_like_a_csv(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["Issue key", "Summary"])
    book.active.append(["X-1", "As a u, I want x"])
    book.active.append([None, None])
    book.active.append(["X-2", "As a u, I want y"])
    path = tmp_path / "sheet.xlsx"
    book.save(path)
    assert [(s.id, s.text) for s in read_file(path).stories] == [
        ("X-1", "As a u, I want x"),
        ("X-2", "As a u, I want y"),
    ]


def test_a_damaged_xlsx_is_refused():
    with pytest.raises(StoryImportError, match="could not be read as an Excel workbook"):
        read_bytes(b"not a zip", "sheet.xlsx")


def test_reading_a_dalpiaz_file_by_path_and_by_upload_agree(dalpiaz):
    path = dalpiaz / "g28-zooniverse.txt"
    assert read_file(path) == read_bytes(path.read_bytes(), str(Path("/uploads") / path.name))


def test_without_openpyxl_an_xlsx_is_refused_saying_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # makes the import fail
    with pytest.raises(StoryImportError, match=r"needs the openpyxl package.*pip install openpyxl"):
        read_bytes(b"PK\x03\x04", "sheet.xlsx")
