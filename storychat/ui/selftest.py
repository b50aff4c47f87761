"""The Self-test tab: the quick needle grid on the chosen collection, its verdict and heatmap."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from storychat.answer.pipeline import Pipeline
from storychat.evals import needle
from storychat.evals.needle import QUICK_DEPTHS, QUICK_LENGTHS
from storychat.ui.library import LibraryPanel
from storychat.ui.mistakes import Mistake, shown_inline
from storychat.ui.render import e

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
    verdict: gr.Markdown
    heatmap: gr.Image
    cells: gr.File


class SelfTest:
    def __init__(self, pipeline: Pipeline, shelves: LibraryPanel):
        self.pipeline = pipeline
        self.shelves = shelves

    @shown_inline
    def run(self, collection: str, progress=gr.Progress()):
        stories = self.shelves.shelf(collection).stories
        if not stories:
            raise Mistake(f"Collection {collection!r} has no stories to hide a needle in. Paste or upload some first.")
        out = Path(tempfile.mkdtemp(prefix="storychat-selftest-"))
        longest = needle.longest(self.pipeline, stories)
        lengths = [n for n in QUICK_LENGTHS if n <= longest] or [longest]
        try:
            cells = needle.run_grid(self.pipeline, stories, lengths, QUICK_DEPTHS, lambda done, what: progress(done, desc=what))
        except needle.NeedleError as exc:
            raise Mistake(str(exc)) from exc
        title = f"{self.pipeline.engine.info().model} on {collection}"
        return (
            f"**Verdict:** {e(needle.verdict(cells))}",
            str(needle.heatmap(cells, out / "needle.png", title)),
            str(needle.write_csv(cells, out / "needle.csv")),
        )

    def layout(self) -> SelfTestTab:
        gr.Markdown(ABOUT)
        run = gr.Button("Run the quick self-test on this collection", variant="primary", elem_id="selftest")
        verdict = gr.Markdown(elem_id="verdict")
        heatmap = gr.Image(label="Recall by context length and needle depth", type="filepath", interactive=False)
        cells = gr.File(label="Every cell (CSV)", interactive=False)
        return SelfTestTab(run, verdict, heatmap, cells)

    def wire(self, ui: SelfTestTab, collection: gr.Dropdown, concurrency: int) -> None:
        ui.run.click(
            self.run, collection, [ui.verdict, ui.heatmap, ui.cells],
            concurrency_limit=concurrency, concurrency_id="engine", api_name="self_test", api_visibility="undocumented",
        )
