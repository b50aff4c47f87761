"""The browser face: Gradio Blocks over the story library and the answer pipeline.

Each browser session keeps its own conversation and chosen collection (the
collection picker's value and a ``gr.State`` are per session); the library is
shared. The answer event runs with concurrency 1 on the embedded engine
because one llama.cpp context serves one question at a time (``--concurrency``
with a remote server); Gradio's queue shows waiting users their position,
and Stop cancels a running answer.
"""

from __future__ import annotations

import html
import tempfile
from functools import partial
from pathlib import Path

import gradio as gr

from storychat import runtime
from storychat.analysis.actions import epic_action, find_duplicates_action, mention_action, quality_action, role_action
from storychat.analysis.duplicates import DuplicatePair, duplicates_of
from storychat.analysis.roles import epic_index, role_index
from storychat.evals import needle
from storychat.evals.cost import LocalRun, estimate, load_prices
from storychat.evals.needle import QUICK_DEPTHS, QUICK_LENGTHS
from storychat.answer.citations import Citation
from storychat.answer.context import QuestionError
from storychat.answer import transcript
from storychat.answer.pipeline import Answer, Done, Pipeline, Progress, Token
from storychat.answer.transcript import Turn
from storychat.config import Settings, credentials
from storychat.llm.engine import Engine, Message
from storychat.stories import Story
from storychat.stories.formats import Limits, StoryImportError, read_bytes, read_text
from storychat.stories.library import ImportReport, Library
from storychat.stories.tokens import count_tokens

DEFAULT_COLLECTION = "my-stories"
TABLE_HEADERS = ["id", "role", "goal", "benefit", "epic", "source", "line"]
FILE_TYPES = [".txt", ".md", ".csv", ".json", ".jsonl", ".xlsx"]
ACTIONS = {
    "duplicates": lambda stories, _: find_duplicates_action(stories),
    "quality": lambda stories, _: quality_action(stories),
    "role": role_action,
    "epic": epic_action,
    "mention": mention_action,
}


def serve(settings: Settings, engine: Engine) -> None:
    demo = build(
        runtime.make_pipeline(settings, engine), runtime.open_library(settings), runtime.limits(settings),
        concurrency=settings.concurrency,
    )
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        auth=credentials(settings) or None,
        show_error=True,
        max_file_size=runtime.limits(settings).max_bytes,
        mcp_server=settings.mcp,
    )


def e(text: str) -> str:
    """Story and model text is shown as text, never as HTML."""
    return html.escape(text, quote=False)


class Views:
    """Renders library and answer state as Markdown and tables."""

    def __init__(self, pipeline: Pipeline, library: Library):
        self.pipeline = pipeline
        self.library = library
        self.info = pipeline.engine.info()
        self.prices = load_prices()
        self.local_run: LocalRun | None = None

    def stories(self, collection: str) -> list[Story]:
        names = {c.name for c in self.library.collections()}
        return self.library.stories(collection) if collection in names else []

    def names(self, current: str) -> list[str]:
        return sorted({c.name for c in self.library.collections()} | {current})

    def status(self, collection: str, answer: Answer | None = None) -> str:
        line = f"**{e(self.info.model)}** · context {self.info.n_ctx:,} tokens · collection **{e(collection)}**"
        if answer:
            c = answer.context
            line += f" · last answer read {c.stories_in_context}/{c.stories_total} stories, {c.tokens_in_context:,}/{c.n_ctx:,} tokens ({c.mode})"
        return line

    def summary(self, collection: str) -> str:
        everything = self.stories(collection)
        stories = [s for s in everything if not s.is_note]
        if not stories:
            return f"Collection **{e(collection)}** is empty: paste or upload stories."
        fit = self.pipeline.fit(stories)
        needed, budget = fit.tokens, fit.budget
        fits = "yes" if needed <= budget else f"no, retrieval picks the most relevant (needs {needed:,} of {budget:,} tokens)"
        notes = len(everything) - len(stories)
        return (
            f"**{len(stories)}** stories, {notes} notes · {count_tokens(s.text for s in stories):,} tokens "
            f"(cl100k) · fits in the loaded model's context: **{fits}**"
            + (f" ({needed:,} of {budget:,} tokens)" if needed <= budget else "")
        )

    def cost(self, collection: str) -> str:
        stories = [s for s in self.stories(collection) if not s.is_note]
        if not stories:
            return "Add stories to see what asking about them would cost on a cloud API."
        return estimate(stories, self.prices, self.local_run).markdown()

    def record(self, answer: Answer) -> None:
        """Keep the latest cold answer's time as the local side of the cost comparison."""
        if answer.timings.prefix_source in ("cold", "prompt"):
            self.local_run = LocalRun.from_answer(self.info.model, answer)

    def table(self, collection: str) -> list[list]:
        return [[s.id, s.role, s.goal, s.benefit, s.epic, s.source, s.line] for s in self.stories(collection) if not s.is_note]


def build(pipeline: Pipeline, library: Library, limits: Limits, concurrency: int = 1) -> gr.Blocks:
    views = Views(pipeline, library)

    def library_outputs(collection: str, message: str = "") -> tuple:
        stories = [s for s in views.stories(collection) if not s.is_note]
        return (
            message, views.table(collection), gr.update(choices=views.names(collection), value=collection),
            views.status(collection), views.summary(collection),
            gr.update(choices=[g.name for g in role_index(stories)]),
            gr.update(choices=[g.name for g in epic_index(stories) if g.name]),
            views.cost(collection),
        )

    def export_chat(kind: str, turns: list[Turn], collection: str) -> str:
        if not turns:
            raise gr.Error("Nothing to export yet: ask a question first.")
        path = Path(tempfile.mkdtemp(prefix="storychat-")) / f"transcript-{collection}.{kind}"
        path.write_text((transcript.to_markdown if kind == "md" else transcript.to_json)(turns, collection), encoding="utf-8")
        return str(path)

    def self_test(collection: str, progress=gr.Progress()):
        stories = [s for s in views.stories(collection) if not s.is_note]
        if not stories:
            raise gr.Error(f"Collection {collection!r} has no stories to hide a needle in. Paste or upload some first.")
        out = Path(tempfile.mkdtemp(prefix="storychat-selftest-"))
        lengths = [n for n in QUICK_LENGTHS if n <= needle.longest(pipeline, stories)] or [needle.longest(pipeline, stories)]
        try:
            cells = needle.run_grid(pipeline, stories, lengths, QUICK_DEPTHS, lambda done, what: progress(done, desc=what))
        except needle.NeedleError as exc:
            raise gr.Error(str(exc)) from exc
        title = f"{pipeline.engine.info().model} on {collection}"
        return (
            f"**Verdict:** {e(needle.verdict(cells))}",
            str(needle.heatmap(cells, out / "needle.png", title)),
            str(needle.write_csv(cells, out / "needle.csv")),
        )

    def quick_action(kind: str, argument: str, chat: list, collection: str):
        stories = [s for s in views.stories(collection) if not s.is_note]
        if not stories:
            raise gr.Error(f"Collection {collection!r} has no stories yet. Paste or upload some on the right.")
        if kind in ("role", "epic", "mention") and not (argument or "").strip():
            raise gr.Error({"role": "Pick a role first.", "epic": "Pick an epic first.", "mention": "Type a word first."}[kind])
        try:
            action = ACTIONS[kind](stories, argument.strip() if argument else argument)
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        listed = {
            "role": "assistant",
            "content": "\n".join(f"- {line}" for line in action.evidence_markdown or map(e, action.evidence)) or "Nothing found.",
            "metadata": {"title": f"Evidence: the complete list, computed by code ({len(action.evidence)})"},
        }
        chat = chat + [{"role": "user", "content": e(action.title)}]
        if action.empty:
            yield chat + [{"role": "assistant", "content": "Nothing found."}], ""
            return
        chat = chat + [{"role": "assistant", "content": ""}]
        for event in pipeline.summarise(action.instruction, action.stories):
            if isinstance(event, Token):
                chat[-1]["content"] += e(event.text)
                yield chat, gr.update()
            elif isinstance(event, Done):
                yield chat[:-1] + answer_messages(event.answer) + [listed], coverage_line(event.answer)

    def respond(question: str, chat: list, history: list[Message], turns: list[Turn], collection: str):
        stories = views.stories(collection)
        if not [s for s in stories if not s.is_note]:
            raise gr.Error(f"Collection {collection!r} has no stories yet. Paste or upload some on the right.")
        chat = chat + [{"role": "user", "content": e(question)}, {"role": "assistant", "content": ""}]
        try:
            for event in pipeline.ask(question, stories, history, collection):
                if isinstance(event, Progress):
                    yield chat, history, turns, f"… {e(event.message)}", gr.update()
                elif isinstance(event, Token):
                    chat[-1]["content"] += e(event.text)
                    yield chat, history, turns, gr.update(), gr.update()
                elif isinstance(event, Done):
                    answer = event.answer
                    views.record(answer)
                    chat = chat[:-1] + answer_messages(answer)
                    history = history + [Message("user", question), Message("assistant", answer.raw or answer.answer)]
                    turns = turns + [Turn(question, answer)]
                    yield chat, history, turns, coverage_line(answer), views.status(collection, answer)
        except QuestionError as exc:
            raise gr.Error(str(exc)) from exc

    def choose(collection: str):
        collection = (collection or DEFAULT_COLLECTION).strip()
        return [], [], [], *library_outputs(collection)[1:], ""

    def import_with(read, collection: str) -> tuple:
        try:
            report = library.add(collection, read())
        except (StoryImportError, ValueError) as exc:
            return library_outputs(collection, f"⚠ {e(str(exc))}")
        pairs = duplicates_of(report.added, views.stories(collection)) if report.added else []
        return library_outputs(collection, report_text(report, pairs))

    def import_paste(text: str, collection: str):
        outputs = import_with(lambda: read_text(text, limits=limits), collection)
        # Keep the paste box when the import failed, so nothing typed is lost.
        return outputs + ("" if not outputs[0].startswith("⚠") else gr.update(),)

    def import_files(paths: list[str] | None, collection: str):
        reports = []
        for path in paths or []:
            name = Path(path).name
            reports.append(import_with(lambda: read_bytes(Path(path).read_bytes(), name, limits), collection)[0])
        return library_outputs(collection, "\n\n".join(reports))

    def delete_story(story_id: str, collection: str):
        story_id = (story_id or "").strip()
        if not library.delete_story(collection, story_id):
            return library_outputs(collection, f"⚠ No story with id {e(story_id)!s} in {e(collection)}.")
        return library_outputs(collection, f"Deleted {e(story_id)}.")

    def ask_clear(collection: str):
        count = len(views.table(collection))
        return gr.update(visible=count > 0, value=f"Yes, delete all {count} stories in {collection}")

    def clear(collection: str):
        removed = library.clear(collection)
        return library_outputs(collection, f"Deleted collection {e(collection)} ({removed} stories).") + (gr.update(visible=False),)

    def export(collection: str, kind: str):
        if not views.table(collection):
            raise gr.Error("Nothing to export: the collection is empty.")
        path = Path(tempfile.mkdtemp(prefix="storychat-")) / f"{collection}.{kind}"
        (library.export_csv if kind == "csv" else library.export_jsonl)(collection, path)
        return str(path)

    with gr.Blocks(title="StoryChat") as demo:
        history = gr.State([])
        turns = gr.State([])
        gr.Markdown(
            "## StoryChat\nAsk about your user stories. Answers come from the local model, cite story ids, "
            "and refuse when the stories do not say."
        )
        status_md = gr.Markdown(views.status(DEFAULT_COLLECTION), elem_id="status")
        with gr.Tabs():
            with gr.Tab("Chat"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(label="Chat", height=520, elem_id="chat", buttons=["copy"])
                        with gr.Row():
                            question = gr.Textbox(placeholder="Which stories touch invoicing?", show_label=False, scale=6, elem_id="question")
                            ask_btn = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                            stop_btn = gr.Button("Stop", variant="stop", scale=1, elem_id="stop")
                        with gr.Row(equal_height=True):
                            duplicates_btn = gr.Button("Find duplicates", size="sm")
                            quality_btn = gr.Button("Quality report", size="sm")
                            role_pick = gr.Dropdown(label="Role", choices=[], allow_custom_value=True, scale=2)
                            role_btn = gr.Button("Stories by role", size="sm")
                            epic_pick = gr.Dropdown(label="Epic", choices=[], allow_custom_value=True, scale=2)
                            epic_btn = gr.Button("Summarise an epic", size="sm")
                            word_box = gr.Textbox(label="Word", placeholder="export", scale=2)
                            mention_btn = gr.Button("Stories mentioning", size="sm")
                        coverage_md = gr.Markdown(elem_id="coverage")
                        with gr.Accordion("Export this chat", open=False):
                            with gr.Row():
                                chat_md_btn = gr.Button("Markdown", size="sm")
                                chat_json_btn = gr.Button("JSON", size="sm")
                            chat_file = gr.File(label="Transcript with checked citations", interactive=False)
                        with gr.Accordion("Model", open=False):
                            gr.Markdown("\n".join(f"- {e(line)}" for line in pipeline.engine.report()), elem_id="model")
                    with gr.Column(scale=2):
                        # Only the default name here: Gradio publishes the choices in the API schema of the
                        # login page, before anyone logs in. demo.load fills in the library's collections.
                        collection = gr.Dropdown(
                            choices=[DEFAULT_COLLECTION], value=DEFAULT_COLLECTION, allow_custom_value=True,
                            label="Collection (type a new name to start one)", elem_id="collection",
                        )
                        summary_md = gr.Markdown(views.summary(DEFAULT_COLLECTION), elem_id="summary")
                        paste = gr.Textbox(lines=6, label="Paste stories: one per line, or blocks separated by a blank line", elem_id="paste")
                        add_btn = gr.Button("Add pasted stories", elem_id="add")
                        upload = gr.File(file_count="multiple", file_types=FILE_TYPES, type="filepath", label="Upload .txt .md .csv .json .jsonl .xlsx")
                        report_md = gr.Markdown(elem_id="report")
                        stories_table = gr.Dataframe(
                            headers=TABLE_HEADERS, value=views.table(DEFAULT_COLLECTION), interactive=False,
                            wrap=True, label="Stories", elem_id="stories",
                        )
                        with gr.Accordion("Manage collection", open=False):
                            with gr.Row():
                                delete_id = gr.Textbox(label="Story id", scale=3)
                                delete_btn = gr.Button("Delete story", scale=1)
                            clear_btn = gr.Button("Delete whole collection…", variant="stop")
                            confirm_btn = gr.Button(visible=False, variant="stop")
                            with gr.Row():
                                csv_btn = gr.Button("Export CSV")
                                jsonl_btn = gr.Button("Export JSONL")
                            export_file = gr.File(label="Export", interactive=False)
                        with gr.Accordion("Cloud cost comparison", open=False):
                            cost_md = gr.Markdown(views.cost(DEFAULT_COLLECTION), elem_id="cost")
            with gr.Tab("Self-test"):
                gr.Markdown(
                    "Does the loaded model find a story buried in this collection? The self-test plants a "
                    "synthetic story with a unique fact at several depths and context lengths, asks about it "
                    "through the normal pipeline (once with all stories in context, once with the default "
                    "retrieval help), and checks the answer states the fact and cites the planted story. "
                    f"Quick grid: {len(QUICK_LENGTHS) * len(QUICK_DEPTHS)} cells, a few minutes on a CPU."
                )
                selftest_btn = gr.Button("Run the quick self-test on this collection", variant="primary", elem_id="selftest")
                verdict_md = gr.Markdown(elem_id="verdict")
                heatmap_img = gr.Image(label="Recall by context length and needle depth", type="filepath", interactive=False)
                cells_file = gr.File(label="Every cell (CSV)", interactive=False)

        library_targets = [report_md, stories_table, collection, status_md, summary_md, role_pick, epic_pick, cost_md]
        ask_args = dict(
            fn=respond, inputs=[question, chatbot, history, turns, collection],
            outputs=[chatbot, history, turns, coverage_md, status_md], concurrency_limit=concurrency, concurrency_id="engine",
        )
        asked = ask_btn.click(**ask_args, api_name="ask", api_visibility="undocumented")
        submitted = question.submit(**ask_args, api_visibility="private")
        for event in (asked, submitted):
            event.then(lambda: "", outputs=question, api_visibility="private")
        stop_btn.click(lambda: "Stopped: the model is free for the next question.", outputs=coverage_md, cancels=[asked, submitted], api_visibility="private")
        collection.change(choose, collection, [chatbot, history, turns, *library_targets[1:], coverage_md], api_visibility="private")
        add_btn.click(import_paste, [paste, collection], [*library_targets, paste], api_name="add_stories", api_visibility="undocumented")
        upload.upload(import_files, [upload, collection], library_targets, api_name="upload_stories", api_visibility="undocumented")
        delete_btn.click(delete_story, [delete_id, collection], library_targets, api_name="delete_story", api_visibility="undocumented")
        clear_btn.click(ask_clear, collection, confirm_btn, api_visibility="private")
        confirm_btn.click(clear, collection, [*library_targets, confirm_btn], api_name="clear_collection", api_visibility="undocumented")
        csv_btn.click(lambda c: export(c, "csv"), collection, export_file, api_visibility="private")
        jsonl_btn.click(lambda c: export(c, "jsonl"), collection, export_file, api_visibility="private")
        demo.load(lambda c: library_outputs(c)[1:], collection, library_targets[1:], api_visibility="private")
        selftest_btn.click(
            self_test, collection, [verdict_md, heatmap_img, cells_file],
            concurrency_limit=concurrency, concurrency_id="engine", api_name="self_test", api_visibility="undocumented",
        )
        chat_md_btn.click(partial(export_chat, "md"), [turns, collection], chat_file, api_visibility="private")
        chat_json_btn.click(partial(export_chat, "json"), [turns, collection], chat_file, api_visibility="private")
        no_argument = gr.State("")
        for button, kind, argument in [
            (duplicates_btn, "duplicates", no_argument), (quality_btn, "quality", no_argument),
            (role_btn, "role", role_pick), (epic_btn, "epic", epic_pick), (mention_btn, "mention", word_box),
        ]:
            button.click(
                partial(quick_action, kind), [argument, chatbot, collection], [chatbot, coverage_md],
                concurrency_limit=concurrency, concurrency_id="engine", api_visibility="private",
            )

        # The documented API (and MCP tools with --mcp): plain functions for tools and scripts.
        # The UI's own endpoints above stay callable but undocumented, so destructive ones
        # (clear_collection) are never offered to a coding assistant as tools.
        def ask_stories(question: str, collection: str) -> dict:
            """Answer a question about the user stories of one collection, with checked citations.

            Args:
                question: what to ask about the backlog, e.g. "Which stories touch invoicing?"
                collection: the name of the story collection to answer from
            Returns:
                The answer with its citations (each marked valid or not), the closest stories when it
                refuses, what was in the model's context, and timings.
            """
            stories = views.stories(collection)
            if not stories:
                raise gr.Error(f"No collection named {collection!r} with stories; known: {', '.join(views.names(collection))}")
            try:
                return pipeline.answer(question, stories, collection=collection).to_json()
            except QuestionError as exc:
                raise gr.Error(str(exc)) from exc

        def search_stories(query: str, collection: str) -> list[dict]:
            """Find the user stories in a collection that best match a query (BM25), best first.

            Args:
                query: words to look for, e.g. "export PDF"
                collection: the name of the story collection to search
            Returns:
                Up to 10 stories with id, text, role, goal, benefit, epic, source, line and score.
            """
            stories = [s for s in views.stories(collection) if not s.is_note]
            hits = pipeline.search(query, stories, 10)
            return [{**story_record(h.story), "score": round(h.score, 3)} for h in hits]

        gr.api(ask_stories, api_name="ask_stories", concurrency_limit=concurrency, concurrency_id="engine")
        gr.api(search_stories, api_name="search_stories")
    return demo


def story_record(story: Story) -> dict:
    return {
        "id": story.id, "text": story.text, "role": story.role, "goal": story.goal, "benefit": story.benefit,
        "epic": story.epic, "source": story.source, "line": story.line,
    }


def answer_messages(answer: Answer) -> list[dict]:
    """The answer, then its evidence (and, when withheld, the raw text) as collapsible messages."""
    messages = [{"role": "assistant", "content": e(answer.answer)}]
    if answer.citations:
        valid = len(answer.evidence)
        messages.append({
            "role": "assistant", "content": "\n".join(citation_line(c) for c in answer.citations),
            "metadata": {"title": f"Evidence: {valid} cited stor{'y' if valid == 1 else 'ies'} checked"},
        })
    if answer.closest:
        title = "No story matches the question. Closest stories" if answer.gated else "Closest stories"
        messages.append({
            "role": "assistant",
            "content": "\n".join(f"- **[{e(s.id)}]** {e(s.text)} _({e(s.source)}:{s.line})_" for s in answer.closest),
            "metadata": {"title": title},
        })
    if answer.unsupported and answer.answer != answer.raw:
        messages.append({
            "role": "assistant", "content": e(answer.raw),
            "metadata": {"title": "⚠ Model's raw answer (withheld: it cites no story it was shown)"},
        })
    elif answer.unsupported:
        messages.append({
            "role": "assistant",
            "content": "This answer cites no story the model was shown (--no-strict). Check it against the stories.",
            "metadata": {"title": "⚠ Unsupported answer"},
        })
    return messages


def citation_line(c: Citation) -> str:
    if c.valid:
        parts = " · ".join(f"{name}: {e(value)}" for name, value in (("role", c.role), ("goal", c.goal), ("benefit", c.benefit)) if value)
        return f"- ✓ **[{e(c.id)}]** {e(c.text)} _({e(c.source)}:{c.line})_" + (f"<br>{parts}" if parts else "")
    if c.text:
        return f"- ✗ **[{e(c.id)}]** exists but was not in the model's context"
    return f"- ✗ **[{e(c.id)}]** is not a story id"


def coverage_line(answer: Answer) -> str:
    c, t = answer.context, answer.timings
    dropped = f" · {answer.dropped_turns} oldest turns left out to fit" if answer.dropped_turns else ""
    return (
        f"Context: {c.stories_in_context} of {c.stories_total} stories, {c.tokens_in_context:,} of "
        f"{c.n_ctx:,} tokens ({c.mode}){dropped} · first token {t.ttft_s:.1f}s, total {t.total_s:.1f}s"
    )


def report_text(report: ImportReport, near: list[DuplicatePair] = ()) -> str:
    text = (
        f"Added {len(report.added)} stories to **{e(report.collection)}**; "
        f"{len(report.duplicates)} skipped as duplicates; {len(report.notes)} kept as notes."
    )
    text += "".join(f"\n- ⚠ {e(w)}" for w in report.warnings)
    return text + "".join(
        f"\n- ⚠ {e(p.a.id)} duplicates {e(p.b.id)} (similarity {p.similarity:.2f})" for p in near
    )
