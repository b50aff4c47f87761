"""The Self-test tab: the quick needle grid on the chosen collection, its verdict and heatmap."""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from storychat import runtime
from storychat.answer.pipeline import Pipeline
from storychat.evals import needle
from storychat.evals.needle import QUICK_DEPTHS, QUICK_LENGTHS
from storychat.stories.library import Library
from storychat.ui.mistakes import Mistake, shown_inline
from storychat.ui.render import escape

ABOUT = (
    "Does the loaded model find a story buried in this collection? The self-test plants a "
    "synthetic story with a unique fact at several depths and context lengths, asks about it "
    "through the normal pipeline (once with all stories in context, once with the default "
    "retrieval help), and checks the answer states the fact and cites the planted story. "
    f"Quick grid: {len(QUICK_LENGTHS) * len(QUICK_DEPTHS)} cells, a few minutes on a CPU."
)


@dataclass
class SelfTestTab:
    run: gr.Button
    stop: gr.Button
    verdict: gr.Markdown
    heatmap: gr.Image
    cells: gr.File


class Stopped(Exception):
    """The self-test was stopped (its Stop button, or its tab was closed) before its next answer."""


class SelfTest:
    def __init__(self, pipeline: Pipeline, library: Library):
        self.pipeline = pipeline
        self.library = library
        self._stops: dict[str, threading.Event] = {}  # the running self-test of each browser session

    @shown_inline
    def run(self, collection: str, request: gr.Request, progress=gr.Progress()):
        stories = self.library.shelf(collection).stories
        if not stories:
            raise Mistake(f"Collection {collection!r} has no stories to hide a needle in. Paste or upload some first.")
        out = Path(tempfile.mkdtemp(prefix="storychat-selftest-"))
        longest = needle.longest(self.pipeline, stories)
        lengths = [n for n in QUICK_LENGTHS if n <= longest] or [longest]
        stop = self._stops[request.session_hash] = threading.Event()

        def step(done: float, what: str) -> None:
            # Called before each answer: a stopped self-test frees the model here.
            if stop.is_set():
                raise Stopped(f"self-test stopped with {done:.0%} of its answers done")
            progress(done, desc=what)

        try:
            cells = needle.run_grid(self.pipeline, stories, lengths, QUICK_DEPTHS, step)
        except needle.NeedleError as exc:
            raise Mistake(str(exc)) from exc
        except Stopped as exc:
            runtime.log(str(exc))
            return f"**Stopped** {escape(str(exc).removeprefix('self-test stopped '))}.", None, None
        finally:
            self._stops.pop(request.session_hash, None)
        title = f"{self.pipeline.engine.info().model} on {collection}"
        return (
            f"**Verdict:** {escape(needle.verdict(cells))}",
            str(needle.heatmap(cells, out / "needle.png", title)),
            str(needle.write_csv(cells, out / "needle.csv")),
        )

    def stop(self, request: gr.Request) -> None:
        """Stop this session's self-test before its next answer (Stop, or the tab was closed)."""
        if request and request.session_hash in self._stops:
            self._stops[request.session_hash].set()

    def layout(self) -> SelfTestTab:
        gr.Markdown(ABOUT)
        with gr.Row():
            run = gr.Button("Run the quick self-test on this collection", variant="primary", elem_id="selftest", scale=4)
            stop = gr.Button("Stop", variant="stop", elem_id="selftest-stop", scale=1)
        verdict = gr.Markdown(elem_id="verdict")
        heatmap = gr.Image(label="Recall by context length and needle depth", type="filepath", interactive=False)
        cells = gr.File(label="Every cell (CSV)", interactive=False)
        return SelfTestTab(run, stop, verdict, heatmap, cells)

    def wire(self, ui: SelfTestTab, collection: gr.Dropdown, concurrency: int, page: gr.Blocks) -> None:
        # The engine's queue: a self-test waits for the answers before it, and answers wait for it.
        running = ui.run.click(
            self.run, collection, [ui.verdict, ui.heatmap, ui.cells],
            concurrency_limit=concurrency, concurrency_id="engine", api_name="self_test", api_visibility="undocumented",
        )
        # A waiting self-test is taken off the queue; a running one ends before its next answer.
        ui.stop.click(self.stop, cancels=[running], api_visibility="private").then(
            lambda: "**Stopped.** The self-test ends before its next answer; then the model is free.", outputs=ui.verdict,
            api_visibility="private",
        )
        page.unload(self.stop)
