"""The chats panel: each user's kept chats, newest first, with New chat, open, rename and delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import gradio as gr

from storychat.chats.store import LOCAL, Chat, Chats
from storychat.chats.conversation import Conversation
from storychat.stories import Story
from storychat.ui.mistakes import Mistake, shown_inline
from storychat.ui.render import escape, turn_coverage, turn_messages

NO_CHATS = "No chats yet: the first question starts one."
LOADING = "Loading your chats…"


def owner(request: gr.Request | None) -> str:
    """The logged-in user; without a login, on loopback, the one local user."""
    return (request.username if request else None) or LOCAL


def messages(conversation: Conversation, current: Mapping[str, Story]) -> list[dict]:
    """The chat's messages, turn by turn, each answer with a notice for every story it cites that changed since
    (``current``: the collection's stories now, by id)."""
    return [
        m for turn in conversation.turns for m in ({"role": "user", "content": escape(turn.question)}, *turn_messages(turn, current))
    ]


@dataclass
class HistoryColumn:
    new_chat: gr.Button
    chats: gr.Radio
    title: gr.Textbox
    rename: gr.Button
    delete: gr.Button
    confirm_delete: gr.Button


class HistoryPanel:
    def __init__(self, chats: Chats):
        self.chats = chats

    def listing(self, conversation: Conversation, request: gr.Request) -> dict:
        """The owner's chats as a list, newest first, the open one selected."""
        kept = self.chats.list(owner(request))
        return gr.update(choices=[(label(c), c.id) for c in kept], value=conversation.id, info="" if kept else NO_CHATS)

    def listed(self, conversation: Conversation, request: gr.Request) -> tuple:
        """The open chat's title, and the list with it selected."""
        chat = self.found(conversation.id, request)
        return (chat.title if chat else ""), self.listing(conversation, request)

    def found(self, chat_id: int | None, request: gr.Request) -> Chat | None:
        """The user's chat ``chat_id``, without its turns."""
        return self.chats.find(owner(request), chat_id) if chat_id is not None else None

    def view(self, found: tuple[Chat, Conversation] | None, request: gr.Request) -> tuple:
        """A kept chat as the page shows it, or a new one when ``found`` is None: its messages, the
        conversation, its last coverage line, its title and the list of chats."""
        conversation = found[1] if found else Conversation()
        coverage = turn_coverage(conversation.turns[-1]) if conversation.turns else ""
        current = {s.id: s for s in self.chats.library.shelf(found[0].collection).everything} if found else {}
        return messages(conversation, current), conversation, coverage, found[0].title if found else "", self.listing(conversation, request)

    def opened(self, chat_id: int | None, request: gr.Request) -> tuple[Chat, Conversation] | None:
        return self.chats.open(owner(request), chat_id) if chat_id is not None else None

    def latest(self, collection: str | None, request: gr.Request) -> tuple[Chat, Conversation] | None:
        """The owner's latest chat in ``collection``; in any collection when None."""
        who = owner(request)
        chat = self.chats.latest(who, collection) if collection else next(iter(self.chats.list(who)), None)
        return self.chats.open(who, chat.id) if chat else None

    @shown_inline
    def rename(self, title: str, conversation: Conversation, request: gr.Request):
        if conversation.id is None:
            raise Mistake("Ask a question first: a chat is kept, and can be renamed, from its first answer.")
        try:
            self.chats.rename(owner(request), conversation.id, title or "")
        except ValueError as exc:
            raise Mistake(str(exc)) from exc
        return self.listing(conversation, request)

    @shown_inline
    def ask_delete(self, conversation: Conversation):
        """The first press of Delete chat: the button that deletes it, for a second press."""
        if conversation.id is None:
            raise Mistake("This chat is not kept yet: there is nothing to delete.")
        return gr.update(visible=True)

    def delete(self, conversation: Conversation, request: gr.Request) -> None:
        self.chats.delete(owner(request), conversation.id)

    def layout(self) -> HistoryColumn:
        with gr.Sidebar(label="Chats", open=True, elem_id="history"):
            new_chat = gr.Button("New chat", variant="primary", size="sm", elem_id="new-chat")
            chats = gr.Radio(label="Chats", choices=[], info=LOADING, elem_id="chats")
            with gr.Accordion("Rename or delete this chat", open=False):
                title = gr.Textbox(label="Title", max_lines=1, elem_id="chat-title")
                with gr.Row():
                    rename = gr.Button("Rename", size="sm", elem_id="rename-chat")
                    delete = gr.Button("Delete chat…", size="sm", variant="stop", elem_id="delete-chat")
                confirm_delete = gr.Button("Yes, delete this chat", size="sm", variant="stop", visible=False, elem_id="confirm-delete-chat")
        return HistoryColumn(new_chat, chats, title, rename, delete, confirm_delete)


def label(chat: Chat) -> str:
    return f"{chat.title} · {chat.collection}"
