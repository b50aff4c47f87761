"""The browser face: Gradio Blocks over the library and the answer pipeline.

Each browser session keeps its own conversation and chosen collection in
``gr.State``; the library is shared. The answer event runs with concurrency 1
because one llama.cpp context serves one question at a time; Gradio's queue
shows waiting users their position.
"""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr

from storychat import runtime
from storychat.answer.context import QuestionError
from storychat.answer.pipeline import Answer, Done, Pipeline, Progress, Token
from storychat.config import Settings, credentials
from storychat.llm.engine import Engine, Message
from storychat.stories import Story
from storychat.stories.formats import Limits, StoryImportError, read_bytes, read_text
from storychat.stories.library import ImportReport, Library

DEFAULT_COLLECTION = "my-stories"
TABLE_HEADERS = ["id", "role", "goal", "benefit", "epic", "source", "line"]
FILE_TYPES = [".txt", ".md", ".csv", ".json", ".jsonl"]


def serve(settings: Settings, engine: Engine) -> None:
    demo = build(runtime.make_pipeline(settings, engine), runtime.open_library(settings), runtime.limits(settings))
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        auth=credentials(settings) or None,
        show_error=True,
    )


def e(text: str) -> str:
    """Story and model text is shown as text, never as HTML."""
    return html.escape(text, quote=False)


def build(pipeline: Pipeline, library: Library, limits: Limits) -> gr.Blocks:
    info = pipeline.engine.info()

    def status(collection: str, answer: Answer | None = None) -> str:
        count = len([s for s in _stories(library, collection) if not s.is_note])
        line = f"**{e(info.model)}** · context {info.n_ctx:,} tokens · collection **{e(collection)}**: {count} stories"
        if answer:
            c = answer.context
            line += (
                f" · last answer read {c.stories_in_context}/{c.stories_total} stories, "
                f"{c.tokens_in_context:,}/{c.n_ctx:,} tokens ({c.mode})"
            )
        return line

    def respond(question: str, chat: list, history: list[Message], collection: str):
        stories = _stories(library, collection)
        if not [s for s in stories if not s.is_note]:
            raise gr.Error(f"Collection {collection!r} has no stories yet. Paste or upload some on the right.")
        chat = chat + [{"role": "user", "content": e(question)}, {"role": "assistant", "content": ""}]
        try:
            for event in pipeline.ask(question, stories, history):
                if isinstance(event, Progress):
                    yield chat, history, gr.update(value=f"⏳ {e(event.message)}"), gr.update()
                elif isinstance(event, Token):
                    chat[-1]["content"] += e(event.text)
                    yield chat, history, gr.update(), gr.update()
                elif isinstance(event, Done):
                    answer = event.answer
                    chat = chat[:-1] + answer_messages(answer)
                    history = history + [Message("user", question), Message("assistant", answer.raw)]
                    yield chat, history, coverage_line(answer), status(collection, answer)
        except QuestionError as exc:
            raise gr.Error(str(exc)) from exc

    def choose(collection: str):
        collection = (collection or DEFAULT_COLLECTION).strip()
        return [], [], table(library, collection), status(collection), ""

    def refresh(collection: str):
        return picker_update(library, collection), table(library, collection), status(collection)

    def import_paste(text: str, collection: str):
        return _import(lambda: read_text(text, limits=limits), collection) + ("",)

    def import_files(paths: list[str] | None, collection: str):
        if not paths:
            return gr.update(), gr.update(), gr.update(), gr.update()
        reports = []
        for path in paths:
            name = Path(path).name
            reports.append(_import(lambda: read_bytes(Path(path).read_bytes(), name, limits), collection)[0])
        return "\n\n".join(reports), table(library, collection), picker_update(library, collection), status(collection)

    def _import(read, collection: str):
        try:
            report = library.add(collection, read())
        except (StoryImportError, ValueError) as exc:
            return f"⚠️ {e(str(exc))}", gr.update(), gr.update(), gr.update()
        return report_text(report), table(library, collection), picker_update(library, collection), status(collection)

    with gr.Blocks(title="StoryChat") as demo:
        history = gr.State([])
        gr.Markdown("## StoryChat\nAsk about your user stories. Answers come from the local model, cite story ids, and refuse when the stories do not say.")
        status_md = gr.Markdown(status(DEFAULT_COLLECTION), elem_id="status")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=520, elem_id="chat", buttons=["copy"])
                with gr.Row():
                    question = gr.Textbox(placeholder="Which stories touch invoicing?", show_label=False, scale=6, elem_id="question")
                    ask_btn = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                    stop_btn = gr.Button("Stop", variant="stop", scale=1, elem_id="stop")
                coverage_md = gr.Markdown(elem_id="coverage")
            with gr.Column(scale=2):
                collection = gr.Dropdown(
                    choices=_names(library) or [DEFAULT_COLLECTION], value=DEFAULT_COLLECTION,
                    allow_custom_value=True, label="Collection (type a new name to start one)", elem_id="collection",
                )
                paste = gr.Textbox(lines=6, label="Paste stories: one per line, or blocks separated by a blank line", elem_id="paste")
                add_btn = gr.Button("Add pasted stories", elem_id="add")
                upload = gr.File(file_count="multiple", file_types=FILE_TYPES, type="filepath", label="Upload .txt .md .csv .json files")
                report_md = gr.Markdown(elem_id="report")
                stories_table = gr.Dataframe(headers=TABLE_HEADERS, value=table(library, DEFAULT_COLLECTION), interactive=False, wrap=True, label="Stories", elem_id="stories")

        ask_args = dict(
            fn=respond, inputs=[question, chatbot, history, collection],
            outputs=[chatbot, history, coverage_md, status_md],
            concurrency_limit=1, concurrency_id="engine", api_name="ask",
        )
        asked = ask_btn.click(**ask_args)
        submitted = question.submit(**{**ask_args, "api_name": None, "api_visibility": "private"})
        for event in (asked, submitted):
            event.then(lambda: "", outputs=question, api_visibility="private")
        stop_btn.click(None, cancels=[asked, submitted])
        collection.change(choose, collection, [chatbot, history, stories_table, status_md, coverage_md], api_visibility="private")
        add_btn.click(import_paste, [paste, collection], [report_md, stories_table, collection, status_md, paste], api_name="add_stories")
        upload.upload(import_files, [upload, collection], [report_md, stories_table, collection, status_md], api_name="upload_stories")
        demo.load(refresh, collection, [collection, stories_table, status_md], api_visibility="private")
    return demo


def answer_messages(answer: Answer) -> list[dict]:
    """The answer, then its evidence (and, when withheld, the raw text) as collapsible messages."""
    messages = [{"role": "assistant", "content": e(answer.answer)}]
    if answer.citations:
        lines = [citation_line(c) for c in answer.citations]
        valid = len(answer.evidence)
        messages.append({
            "role": "assistant", "content": "\n".join(lines),
            "metadata": {"title": f"Evidence: {valid} cited stor{'y' if valid == 1 else 'ies'} checked"},
        })
    if answer.closest:
        messages.append({
            "role": "assistant",
            "content": "\n".join(f"- **[{e(s.id)}]** {e(s.text)} _({e(s.source)}:{s.line})_" for s in answer.closest),
            "metadata": {"title": "Closest stories"},
        })
    if answer.unsupported and answer.raw:
        messages.append({
            "role": "assistant", "content": e(answer.raw),
            "metadata": {"title": "Model's raw answer (withheld: it cites no story it was shown)"},
        })
    return messages


def citation_line(c) -> str:
    if c.valid:
        return f"- ✅ **[{e(c.id)}]** {e(c.text)} _({e(c.source)}:{c.line})_"
    if c.text:
        return f"- ❌ **[{e(c.id)}]** exists but was not in the model's context"
    return f"- ❌ **[{e(c.id)}]** is not a story id"


def coverage_line(answer: Answer) -> str:
    c, t = answer.context, answer.timings
    dropped = f" · {answer.dropped_turns} oldest turns left out" if answer.dropped_turns else ""
    return (
        f"Context: {c.stories_in_context} of {c.stories_total} stories, {c.tokens_in_context:,} of "
        f"{c.n_ctx:,} tokens ({c.mode}){dropped} · first token {t.ttft_s:.1f}s, total {t.total_s:.1f}s"
    )


def report_text(report: ImportReport) -> str:
    text = (
        f"Added {len(report.added)} stories to **{e(report.collection)}**; "
        f"{len(report.duplicates)} skipped as duplicates; {len(report.notes)} kept as notes."
    )
    return text + "".join(f"\n- ⚠️ {e(w)}" for w in report.warnings)


def table(library: Library, collection: str) -> list[list]:
    return [[s.id, s.role, s.goal, s.benefit, s.epic, s.source, s.line] for s in _stories(library, collection) if not s.is_note]


def picker_update(library: Library, collection: str):
    return gr.update(choices=sorted({*_names(library), collection}), value=collection)


def _names(library: Library) -> list[str]:
    return [c.name for c in library.collections()]


def _stories(library: Library, collection: str) -> list[Story]:
    return library.stories(collection) if collection in _names(library) else []
