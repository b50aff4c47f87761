"""The Stories tab: the chosen collection's stories and notes a page at a time (searched, filtered), imports,
deletes, exports and cloud costs."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import gradio as gr

from storychat.analysis.duplicates import after_import
from storychat.analysis.filters import Filter, Scope, field_values
from storychat.analysis.pages import Page, page
from storychat.analysis.roles import epic_index, role_index
from storychat.answer.pipeline import Pipeline
from storychat.cost import Costs
from storychat.stories import Story
from storychat.stories.formats import ImportBatch, Limits, StoryImportError, read_bytes, read_text
from storychat.stories.library import ImportReport, Library, Shelf
from storychat.ui.mistakes import Mistake, shown_inline
from storychat.ui.render import escape, history_markdown, report_text, status_line

DEFAULT_COLLECTION = "my-stories"
TABLE_HEADERS = ["id", "item", "type", "status", "points", "epic", "description", "criteria"]
# Room for the longest single words of the short columns ("Administration", "In Progress"), so they wrap between
# words only; the item, its description and criteria share the rest. All in view from a 940 px wide table (CSS),
# the key fields first, so that a narrower screen scrolls sideways only to the longer texts.
COLUMN_WIDTHS = ["96px", "20%", "88px", "104px", "72px", "120px", "19%", "10%"]
EXCERPT = 160  # the characters of a description the table shows; search reads it whole
# The filter row: each text field a collection's items may have (analysis/filters.py), as the row names it.
FILTER_LABELS = {
    "type": "Type", "status": "Status", "priority": "Priority", "label": "Label", "component": "Component",
    "sprint": "Sprint", "fix_version": "Fix version", "epic": "Epic", "role": "Role",
}
ANY = "any"
COUNTING = "Counting the stories' cl100k tokens …"
# The summary says it is counting: no timer over it.
_COUNTING_EVENT = {"show_progress": "hidden", "api_visibility": "private"}
NO_STORIES = "None yet: this collection has no stories."
NO_ROLES = 'None: no story names its role ("As a <role>, I want ...").'
NO_EPICS = "None: no story has an epic (a Markdown heading above it, or an epic column in a spreadsheet)."
PICK_ROLE = "Pick a role first, then list its stories."
PICK_EPIC = "Pick an epic first, then summarise it."
FILE_TYPES = [".txt", ".md", ".csv", ".json", ".jsonl", ".xlsx"]


@dataclass
class LibraryColumn:
    collection: gr.Dropdown
    summary: gr.Markdown
    paste: gr.Textbox
    add: gr.Button
    upload: gr.File
    report: gr.Markdown
    remove_gone: gr.Button
    gone: gr.State
    search: gr.Textbox
    filters: list[gr.Dropdown]  # in the order of FILTER_LABELS
    table: gr.Dataframe
    place: gr.Markdown  # "Page 3 of 104 · items 101–150 of 5,170"
    number: gr.State  # the table's page
    previous: gr.Button
    next: gr.Button
    delete_id: gr.Textbox
    delete: gr.Button
    history_id: gr.Textbox
    history: gr.Button
    versions: gr.Markdown
    clear: gr.Button
    confirm: gr.Button
    csv: gr.Button
    jsonl: gr.Button
    export_file: gr.File
    cost: gr.Markdown
    notes: gr.Markdown
    notes_number: gr.State
    notes_previous: gr.Button
    notes_next: gr.Button

    def paging(self) -> list:
        """What a refresh sets after the notes (``LibraryPanel.refresh``): the first pages, no search, no filter."""
        return [self.place, self.number, self.search, *self.filters, self.notes_number]


class LibraryPanel:
    def __init__(self, library: Library, pipeline: Pipeline, limits: Limits, costs: Costs):
        self.library = library
        self.pipeline = pipeline
        self.limits = limits
        self.costs = costs
        self.info = pipeline.engine.info()

    def refresh(self, collection: str, message: str = "") -> tuple:
        """Every library output but the token counts (``counted`` brings those): report, table, picker, status, role and
        epic choices, first steps, notes, then the paging (``LibraryColumn.paging``): the first page of each, the search
        emptied, the filters offered anew."""
        shelf = self.library.shelf(collection)
        stories = shelf.stories
        first = page(stories)
        offered = field_values(stories)
        return (
            # A name typed into the picker starts a collection: it is listed before its first import.
            message, table(first.items), gr.update(choices=sorted({*shelf.names, collection}), value=collection),
            status_line(self.info, collection),
            # Each role and epic as the stories write it most often; picking it finds every spelling.
            choices([g.spellings[0] for g in role_index(stories)], NO_ROLES if stories else NO_STORIES, PICK_ROLE),
            choices([g.spellings[0] for g in epic_index(stories) if g.name], NO_EPICS if stories else NO_STORIES, PICK_EPIC),
            gr.update(visible=not stories),
            notes_markdown(page(shelf.notes)),
            first.describe(), first.number, "",
            *(gr.update(**filter_options(offered.get(name, []))) for name in FILTER_LABELS),
            1,
        )

    def browse(self, collection: str, query: str, number: int, *chosen: str) -> tuple:
        """Page ``number`` of the stories with every word of ``query`` that pass the chosen filters: rows, place, number."""
        shown = page(self.library.shelf(collection).stories, query or "", scope(chosen), number)
        return table(shown.items), shown.describe(), shown.number

    def browse_notes(self, collection: str, number: int) -> tuple:
        shown = page(self.library.shelf(collection).notes, number=number)
        return notes_markdown(shown), shown.number

    def counted(self, collection: str) -> Iterator[tuple[str, str]]:
        """The summary and the cloud cost: at once without the stories' tokens, then with them counted. Their own event,
        after the rows: the first count of a backlog's tokens takes seconds (then it is kept), its first page not."""
        shelf = self.library.shelf(collection)
        yield self.summary(shelf, counted=False), COUNTING if shelf.stories else self.costs.markdown([], collection)
        yield self.summary(shelf), self.costs.markdown(shelf.stories, collection)

    def summary(self, shelf: Shelf, counted: bool = True) -> str:
        stories, notes = shelf.stories, len(shelf.notes)
        if not stories and notes:
            return (
                f"Collection **{escape(shelf.collection)}** holds no stories, only {notes:,} notes: lines that did not read as "
                "user stories (listed under Notes below). Paste or upload stories."
            )
        if not stories:
            return f"Collection **{escape(shelf.collection)}** is empty: paste or upload stories."
        held = f"**{len(stories):,}** stories, {notes:,} notes"
        if not counted:
            return f"{held} · counting their model tokens …"
        fit = self.pipeline.fit(stories)
        fits = "**all fit**" if fit.fits else "**too many**: retrieval picks the most relevant for each question"
        return (
            f"{held} · {fit.tokens:,} model tokens, in room for {fit.budget:,} "
            f"in the loaded model's context: {fits}"
        )

    def import_paste(self, text: str, collection: str) -> tuple:
        message, _ = self._import(lambda: read_text(text, limits=self.limits), collection)
        # Keep the paste box when the import failed, so nothing typed is lost.
        return self.refresh(collection, message) + ("" if not message.startswith("⚠") else gr.update(),)

    def import_files(self, paths: list[str] | None, collection: str) -> tuple:
        """Also the button that removes the stories gone from the files, and their ids for it."""
        imported = [
            self._import(lambda: read_bytes(Path(path).read_bytes(), Path(path).name, self.limits), collection)
            for path in paths or []
        ]
        gone = [s.id for _, report in imported if report for s in report.gone]
        return self.refresh(collection, "\n\n".join(message for message, _ in imported)) + (remove_button(gone), gone)

    def _import(self, read: Callable[[], ImportBatch], collection: str) -> tuple[str, ImportReport | None]:
        """The import report as the UI shows it, or a ⚠ line that says why nothing was added (and None)."""
        try:
            report = self.library.add(collection, read())
        except (StoryImportError, ValueError) as exc:
            return f"⚠ {escape(str(exc))}", None
        return report_text(report, after_import(report, self.library)), report

    def remove_gone(self, gone: list[str], collection: str) -> tuple:
        removed = self.library.remove(collection, gone or [])
        message = (
            f"Removed {len(removed)} {_stories(len(removed))} no longer in the file: {escape(', '.join(removed))}. "
            "*Story history* under *Manage collection* shows each as it was."
        )
        return self.refresh(collection, message) + (remove_button([]), [])

    def delete_story(self, story_id: str, collection: str) -> tuple:
        story_id = (story_id or "").strip()
        if not self.library.delete_story(collection, story_id):
            return self.refresh(collection, f"⚠ No story with id {escape(story_id)!s} in {escape(collection)}.")
        return self.refresh(collection, f"Deleted {escape(story_id)}.")

    @shown_inline
    def story_history(self, story_id: str, collection: str) -> str:
        """Every earlier version of a story in the collection, newest first: what a re-import changed or removed."""
        story_id = (story_id or "").strip()
        if not story_id:
            raise Mistake("Type a story id first, for example the one a notice says changed.")
        return history_markdown(story_id, collection, self.library.history(story_id, collection))

    def ask_clear(self, collection: str):
        count = len(self.library.shelf(collection).stories)
        return gr.update(visible=count > 0, value=f"Yes, delete all {count} stories in {collection}")

    def clear(self, collection: str) -> tuple:
        removed = self.library.clear(collection)
        message = f"Deleted collection {escape(collection)} ({removed} stories)."
        return self.refresh(collection, message) + (gr.update(visible=False),)

    @shown_inline
    def export(self, collection: str, kind: str) -> str:
        if not self.library.shelf(collection).stories:
            raise Mistake("Nothing to export: the collection is empty.")
        path = Path(tempfile.mkdtemp(prefix="storychat-")) / f"{collection}.{kind}"
        (self.library.export_csv if kind == "csv" else self.library.export_jsonl)(collection, path)
        return str(path)

    def picker(self) -> gr.Dropdown:
        # Only the default name here: Gradio publishes the choices in the API schema of the
        # login page, before anyone logs in. The page's load event fills in the library's collections.
        return gr.Dropdown(
            choices=[DEFAULT_COLLECTION], value=DEFAULT_COLLECTION, allow_custom_value=True,
            label="Collection (type a new name to start one)", elem_id="collection",
        )

    def layout(self, collection: gr.Dropdown) -> LibraryColumn:
        """The Stories tab, top to bottom in the order of use: what the collection holds, the ways in
        (each import's report right under them), its stories, managing it, and what a cloud API would cost."""
        shelf = self.library.shelf(DEFAULT_COLLECTION)
        summary = gr.Markdown(self.summary(shelf), elem_id="summary")
        with gr.Row(equal_height=True):
            with gr.Column(scale=3):
                paste = gr.Textbox(lines=5, max_lines=12, label="Paste stories: one per line, or blocks separated by a blank line", elem_id="paste")
                add = gr.Button("Add pasted stories", variant="primary", elem_id="add")
            upload = gr.File(
                file_count="multiple", file_types=FILE_TYPES, type="filepath", label="Upload .txt .md .csv .json .jsonl .xlsx",
                elem_id="upload", scale=2, height=200,
            )
        report = gr.Markdown(elem_id="report")
        remove_gone = gr.Button(visible=False, variant="stop", elem_id="remove-gone")
        gone = gr.State([])
        first = page(shelf.stories)
        offered = field_values(shelf.stories)
        with gr.Row(elem_id="story-filters"):
            search = gr.Textbox(
                label="Search", placeholder="Words of an id, title, text or description, then Enter", elem_id="story-search",
                scale=3, min_width=240,
            )
            filters = [
                gr.Dropdown(label=label, elem_id=f"stories-filter-{name}", min_width=140, **filter_options(offered.get(name, [])))
                for name, label in FILTER_LABELS.items()
            ]
        # The tab's full width: every column in view, numbers and words never broken.
        stories = gr.Dataframe(
            headers=TABLE_HEADERS, column_widths=COLUMN_WIDTHS, value=table(first.items), interactive=False,
            wrap=True, label="Stories", elem_id="stories",
        )
        with gr.Row(equal_height=True, elem_id="story-pages"):
            previous = gr.Button("◀ Previous", size="sm", scale=0, min_width=110, elem_id="stories-previous")
            place = gr.Markdown(first.describe(), elem_id="stories-place")
            following = gr.Button("Next ▶", size="sm", scale=0, min_width=110, elem_id="stories-next")
        number = gr.State(1)
        with gr.Accordion("Manage collection", open=False):
            with gr.Row():
                delete_id = gr.Textbox(label="Story id", scale=3)
                delete = gr.Button("Delete story", scale=1)
            with gr.Row():
                history_id = gr.Textbox(label="Story history: id", placeholder="HR-102", scale=3, elem_id="history-id")
                history = gr.Button("Show earlier versions", scale=1, elem_id="show-history")
            versions = gr.Markdown(elem_id="versions")
            clear = gr.Button("Delete whole collection…", variant="stop")
            confirm = gr.Button(visible=False, variant="stop")
            with gr.Row():
                csv = gr.Button("Export CSV")
                jsonl = gr.Button("Export JSONL")
            export_file = gr.File(label="Export", interactive=False)
        with gr.Accordion("Notes: lines that are not stories", open=False):
            notes = gr.Markdown(notes_markdown(page(shelf.notes)), elem_id="notes")
            with gr.Row():
                notes_previous = gr.Button("◀ Previous notes", size="sm", scale=0, min_width=140, elem_id="notes-previous")
                notes_next = gr.Button("Next notes ▶", size="sm", scale=0, min_width=140, elem_id="notes-next")
            notes_number = gr.State(1)
        with gr.Accordion("Cloud cost comparison", open=False):
            cost = gr.Markdown(self.costs.markdown(shelf.stories, DEFAULT_COLLECTION), elem_id="cost")
        return LibraryColumn(
            collection, summary, paste, add, upload, report, remove_gone, gone, search, filters, stories, place, number, previous,
            following, delete_id, delete, history_id, history, versions, clear, confirm, csv, jsonl, export_file, cost, notes,
            notes_number, notes_previous, notes_next,
        )

    def count_after(self, ui: LibraryColumn, *events) -> None:
        """After each of ``events`` (each refreshes the tab), the summary and the cost (``counted``)."""
        for event in events:
            event.then(self.counted, ui.collection, [ui.summary, ui.cost], **_COUNTING_EVENT)

    def wire(self, ui: LibraryColumn, targets: list) -> list:
        """``targets``: what a refresh updates, in the order ``refresh`` returns it. Returns the events
        after which stories may have changed (to tell the chat which answers cite a changed story)."""
        added = ui.add.click(
            self.import_paste, [ui.paste, ui.collection], [*targets, ui.paste], api_name="add_stories", api_visibility="undocumented",
        )
        uploaded = ui.upload.upload(
            self.import_files, [ui.upload, ui.collection], [*targets, ui.remove_gone, ui.gone], api_name="upload_stories",
            api_visibility="undocumented",
        )
        # The report under it says what each file gave; the box is ready for the next one.
        uploaded.then(lambda: None, None, ui.upload, api_visibility="private")
        removed = ui.remove_gone.click(
            self.remove_gone, [ui.gone, ui.collection], [*targets, ui.remove_gone, ui.gone], api_name="remove_gone_stories",
            api_visibility="undocumented",
        )
        deleted = ui.delete.click(self.delete_story, [ui.delete_id, ui.collection], targets, api_name="delete_story", api_visibility="undocumented")
        for show in (ui.history.click, ui.history_id.submit):
            show(self.story_history, [ui.history_id, ui.collection], ui.versions, api_visibility="private")
        ui.clear.click(self.ask_clear, ui.collection, ui.confirm, api_visibility="private")
        cleared = ui.confirm.click(self.clear, ui.collection, [*targets, ui.confirm], api_name="clear_collection", api_visibility="undocumented")
        self.count_after(ui, added, uploaded, removed, deleted, cleared)
        ui.csv.click(lambda c: self.export(c, "csv"), ui.collection, ui.export_file, api_visibility="private")
        ui.jsonl.click(lambda c: self.export(c, "jsonl"), ui.collection, ui.export_file, api_visibility="private")
        self.wire_pages(ui)
        return [uploaded, removed, deleted]

    def wire_pages(self, ui: LibraryColumn) -> None:
        """A search or a filter shows its first page; Previous and Next turn one page; the notes likewise."""
        asked = [ui.collection, ui.search, ui.number, *ui.filters]
        shown = [ui.table, ui.place, ui.number]
        private = {"api_visibility": "private", "trigger_mode": "always_last"}
        for event in (ui.search.submit, *(f.input for f in ui.filters)):
            event(lambda c, q, _, *f: self.browse(c, q, 1, *f), asked, shown, **private)
        ui.previous.click(lambda c, q, n, *f: self.browse(c, q, n - 1, *f), asked, shown, **private)
        ui.next.click(lambda c, q, n, *f: self.browse(c, q, n + 1, *f), asked, shown, **private)
        ui.notes_previous.click(lambda c, n: self.browse_notes(c, n - 1), [ui.collection, ui.notes_number], [ui.notes, ui.notes_number], **private)
        ui.notes_next.click(lambda c, n: self.browse_notes(c, n + 1), [ui.collection, ui.notes_number], [ui.notes, ui.notes_number], **private)


def remove_button(gone: list[str]) -> dict:
    return gr.update(visible=bool(gone), value=f"Remove the {len(gone)} {_stories(len(gone))} no longer in the file")


def _stories(n: int) -> str:
    return "story" if n == 1 else "stories"


def choices(names: list[str], why_none: str, pick: str) -> dict:
    """A picker's choices, and beside it what to do: pick one, or why there is none to pick."""
    return gr.update(choices=names, info=pick if names else why_none)


def filter_options(values: list[tuple[str, int]]) -> dict:
    """A filter's values (``field_values``), each with its count, after "any"; hidden when the collection has none."""
    return {"choices": [(ANY, ""), *((f"{value} ({count:,})", value) for value, count in values)], "value": "", "visible": bool(values)}


def scope(chosen: tuple[str, ...]) -> Scope:
    """The filter row's choices, in the order of FILTER_LABELS, as a Scope: each field whose value is not "any"."""
    return Scope(tuple(Filter(name, "=", value) for name, value in zip(FILTER_LABELS, chosen) if value))


def table(stories: list[Story]) -> list[list]:
    return [
        [s.id, s.title or s.text, s.fields.type, s.fields.status, "" if s.fields.points is None else f"{s.fields.points:g}", s.epic,
         # An item whose description is its user story has that story as its text: shown beside its title.
         excerpt(s.description or (s.text if s.title else "")), "\n".join(s.acceptance)]
        for s in stories
    ]


# The Markdown a description was converted to at import (code fences, headings): left out of a one-line excerpt.
_BLOCK_MARKS = re.compile(r"```\w*|^#{1,6}\s+", re.MULTILINE)


def excerpt(text: str) -> str:
    """A description's start as one line, its code fences and heading marks left out, cut at a word with "…"
    past EXCERPT characters."""
    flat = " ".join(_BLOCK_MARKS.sub(" ", text).split())
    return flat if len(flat) <= EXCERPT else flat[:EXCERPT].rsplit(" ", 1)[0] + " …"


def notes_markdown(shown: Page) -> str:
    """A page of notes: text kept from an import that did not read as a story (a heading, a remark, a stray line)."""
    if not shown.total:
        return "None: every line imported read as a story."
    listed = "\n".join(f"- {escape(n.text)} _({escape(n.source)}:{n.line})_" for n in shown.items)
    return f"{shown.describe('notes')}:\n\n{listed}"
