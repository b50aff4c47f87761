"""Mistakes a user can fix: a toast that says what to do, one line in the server log, and the page as it was;
over the API, the client's error and the same one line."""

from __future__ import annotations

import functools
import inspect

import gradio as gr

from storychat import runtime


class Mistake(ValueError):
    """Something the user can put right (no choice made, nothing to export): never an error in place of an output."""


def shown_inline(handler):
    """Run ``handler``; a ``Mistake`` becomes a toast and leaves every output as it was."""

    def tell(exc: Mistake):
        runtime.log(f"user mistake: {exc}")
        gr.Warning(str(exc))
        return gr.skip()

    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def streamed(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except Mistake as exc:
                yield tell(exc)

        return streamed

    @functools.wraps(handler)
    def returned(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except Mistake as exc:
            return tell(exc)

    return returned


def refused(endpoint):
    """Run an API ``endpoint``; a ``Mistake`` becomes the client's error and one line in the server log, as in the UI."""

    @functools.wraps(endpoint)
    def answered(*args, **kwargs):
        try:
            return endpoint(*args, **kwargs)
        except Mistake as exc:
            runtime.log(f"user mistake: {exc}")
            raise gr.Error(str(exc), print_exception=False) from exc

    return answered
