"""The browser face: Gradio Blocks over the story library and the answer pipeline.

Each browser session keeps its own conversation and chosen collection (the
collection picker's value and a ``gr.State`` are per session), and the library
keeps every turn as the logged-in user's (``history``); the stories are
shared. Answers run one at a time on the embedded engine, which serialises its
own calls; the events that use it share one queue (``--concurrency`` with a
remote server), so Gradio shows waiting users their position, and Stop
cancels a running answer.

``app`` lays out the page and wires it; ``chat``, ``history``, ``library`` and
``selftest`` hold the panels and their handlers, ``page.js`` the chat's scrolling, ``render`` the Markdown they show, and
``api`` the documented endpoints.
"""

from storychat.ui.app import build, serve

__all__ = ["build", "serve"]
