"""The page: the layout of the panels and the events between them; ``serve`` starts it."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from storychat import runtime
from storychat.chats.store import Chats
from storychat.chats.conversation import Conversation
from storychat.answer.pipeline import Pipeline
from storychat.cost import Costs
from storychat.config import Settings, credentials
from storychat.llm.engine import Engine
from storychat.stories.formats import Limits
from storychat.stories.library import Library
from storychat.ui import api, mcp_json
from storychat.ui.chat import ChatPanel
from storychat.ui.history import HistoryPanel
from storychat.ui.library import DEFAULT_COLLECTION, LibraryPanel
from storychat.ui.mistakes import Mistake, shown_inline
from storychat.ui.render import CSS, status_line
from storychat.ui.selftest import SelfTest

INTRO = (
    "## StoryChat\nAsk about your user stories. Answers come from the local model, cite story ids, "
    "and refuse when the stories do not say."
)
CHAT_TAB, STORIES_TAB = "chat", "stories"
PAGE_JS = (Path(__file__).parent / "page.js").read_text(encoding="utf-8")


def serve(settings: Settings, engine: Engine) -> None:
    limits = runtime.limits(settings)
    demo = build(runtime.make_pipeline(settings, engine), runtime.open_library(settings), limits, settings.concurrency)
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        auth=credentials(settings) or None,
        show_error=True,
        css=CSS,
        js=PAGE_JS,
        max_file_size=limits.max_bytes,
        mcp_server=settings.mcp,
        app_kwargs={"lifespan": mcp_json.lifespan(demo)},
    )


def build(pipeline: Pipeline, library: Library, limits: Limits, concurrency: int = 1) -> gr.Blocks:
    costs = Costs(pipeline.engine.info().model)
    shelves = LibraryPanel(library, pipeline, limits, costs)
    chats = Chats(library)
    chat = ChatPanel(pipeline, shelves, costs, chats)
    history = HistoryPanel(chats)
    selftest = SelfTest(pipeline, library)
    with gr.Blocks(title="StoryChat") as demo:
        conversation = gr.State(Conversation())
        history_ui = history.layout()
        with gr.Row(equal_height=True, elem_id="header"):
            gr.Markdown(INTRO, elem_id="intro")
            collection = shelves.picker()
        status = gr.Markdown(status_line(shelves.info, DEFAULT_COLLECTION), elem_id="status")
        with gr.Tabs() as tabs:
            with gr.Tab("Chat", id=CHAT_TAB, elem_id="chat-tab"):
                chat_ui = chat.layout()
            with gr.Tab("Stories", id=STORIES_TAB, elem_id="stories-tab"):
                library_ui = shelves.layout(collection)
            with gr.Tab("Self-test"):
                selftest_ui = selftest.layout()

        targets = [
            library_ui.report, library_ui.table, collection, status, chat_ui.role_pick, chat_ui.epic_pick, chat_ui.first_steps,
            library_ui.notes, *library_ui.paging(),
        ]
        kept = chat.wire(chat_ui, conversation, collection, status, concurrency, shelves.wire(library_ui, targets))
        selftest.wire(selftest_ui, collection, concurrency, demo)
        # The chat as a whole: what opening, starting or leaving a chat updates.
        view = [chat_ui.chatbot, conversation, chat_ui.coverage, history_ui.title, history_ui.chats]

        def shown(found, name: str, request: gr.Request, full=CHAT_TAB) -> tuple:
            """The page for ``found`` (a kept chat, or None for a new one) in collection ``name``:
            the Stories tab while the collection has no stories, else the ``full`` tab (None: the tab stays)."""
            tab = STORIES_TAB if not library.shelf(name).stories else full
            return *history.view(found, request), *shelves.refresh(name)[1:], gr.skip() if tab is None else gr.Tabs(selected=tab)

        def restore(request: gr.Request):
            """A page (re)load: the user's latest chat, in its collection."""
            found = history.latest(None, request)
            return shown(found, found[0].collection if found else DEFAULT_COLLECTION, request)

        def choose(name: str, current: Conversation, request: gr.Request):
            """Another collection: its latest chat, or a new one; the chat left stays kept."""
            name = (name or DEFAULT_COLLECTION).strip()
            chat = history.found(current.id, request)
            if chat and chat.collection == name:  # the chat just opened chose it, and its page is shown already
                return tuple(gr.skip() for _ in page)
            return shown(history.latest(name, request), name, request, full=None)

        @shown_inline
        def open_chat(chat_id: int | None, request: gr.Request):
            found = history.opened(chat_id, request)
            if not found:
                raise Mistake("That chat is gone: it was deleted, perhaps in another tab.")
            return shown(found, found[0].collection, request)

        def new_chat(request: gr.Request):
            return history.view(None, request)

        def delete_chat(current: Conversation, name: str, request: gr.Request):
            history.delete(current, request)
            return history.view(history.latest(name, request), request)

        page = [*view, *targets[1:], tabs]
        # The rows first, then the token counts: another collection typed while they are counted is chosen after.
        shelves.count_after(
            library_ui,
            demo.load(restore, None, page, api_visibility="private"),
            collection.change(choose, [collection, conversation], page, api_visibility="private"),
            history_ui.chats.input(open_chat, history_ui.chats, page, api_visibility="private"),
        )
        for event in (demo.load, collection.change):
            event(chat.filter_row, [collection, *chat_ui.filters], chat_ui.filters, api_visibility="private")
        history_ui.new_chat.click(new_chat, None, view, api_visibility="private")
        chat_ui.chatbot.clear(new_chat, None, view, api_visibility="private")
        history_ui.rename.click(history.rename, [history_ui.title, conversation], history_ui.chats, api_visibility="private")
        history_ui.delete.click(history.ask_delete, conversation, history_ui.confirm_delete, api_visibility="private")
        history_ui.confirm_delete.click(delete_chat, [conversation, collection], view, api_visibility="private")
        # Another chat opened (or this one deleted): the question asked for the one before is withdrawn.
        history_ui.chats.change(lambda: gr.update(visible=False), None, history_ui.confirm_delete, queue=False, api_visibility="private")
        for event in kept:
            event.then(history.listed, conversation, [history_ui.title, history_ui.chats], api_visibility="private")
        api.register(pipeline, library, concurrency)
    return demo
