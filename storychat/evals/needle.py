"""Needle in a haystack: does the model find one planted story in a long backlog?

After gkamradt's LLMTest_NeedleInAHaystack, scored by string matching as in
RULER instead of an LLM judge. A synthetic user story carrying one checkable
fact (the needle) goes into a backlog cut to a context length, at a depth
measured in the model's own tokens. Its question then goes through the same
pipeline twice: with the retrieval help off (long-context mode: every story
in context, no focus block, free answer, no relevance gate) and with the
default options.

A cell is a hit when the pipeline neither refused nor withheld the answer,
the answer carries at least one valid citation, and it names the needle: it
states the fact (case and punctuation ignored, whole words) or cites the
needle's id. In default mode the needle's id must be among the valid
citations: the grammar makes every default answer open with a valid id, so
"some valid citation" proves nothing there; citing the needle means the
evidence shown beside the answer is the story that holds the fact.
"""

from __future__ import annotations

import csv
import re
import time
import zlib
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Callable, Iterable, Sequence

from storychat.answer.answer import Answer

from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.llm.engine import MESSAGE_OVERHEAD
from storychat.stories import Story
from storychat.stories.formats import unique_id

ANSWER_TOKENS = 48  # a fact and a citation; a longer allowance only shrinks the haystack
DEPTHS = (0, 25, 50, 75, 100)
QUICK_LENGTHS = (1000, 2000)
QUICK_DEPTHS = (0, 50, 100)


class NeedleError(ValueError):
    """A grid that cannot be run as asked; the message says why."""


@dataclass(frozen=True)
class Needle:
    role: str
    goal: str
    benefit: str
    question: str
    fact: str

    @property
    def text(self) -> str:
        return f"As a {self.role}, I want {self.goal}, so that {self.benefit}."


# Varied wording, so that a model cannot learn one phrasing across the grid.
NEEDLES = (
    Needle("lighthouse keeper", "the fog horn tuned to C-sharp", "ships can tell our coast apart",
           "What note should the fog horn be tuned to?", "C-sharp"),
    Needle("ferry dispatcher", "the night timetable printed on saffron paper", "crews can find it in the dark",
           "What colour of paper should the night timetable be printed on?", "saffron"),
    Needle("museum night guard", "the alarm code of the dinosaur hall set to 7316", "I can disarm it on my rounds",
           "What is the alarm code of the dinosaur hall?", "7316"),
    Needle("glacier researcher", "the base camp radio to use the call sign Bluefinch", "rescue teams recognise our station",
           "Which call sign should the base camp radio use?", "Bluefinch"),
    Needle("beekeeper", "the hive scale to weigh the honey every 40 minutes", "I notice a swarm leaving early",
           "How often should the hive scale weigh the honey?", "40 minutes"),
    Needle("zookeeper", "the otter feeding bell to ring at 4:15", "visitors gather before the otters eat",
           "When should the otter feeding bell ring?", "4:15"),
)


@dataclass(frozen=True)
class Mode:
    name: str
    label: str
    focus: int
    constrained: bool
    min_match: float | None  # None: the pipeline's default gate


_DEFAULTS = AnswerOptions()
LONG_CONTEXT = Mode("long-context", "Long context only (no retrieval help)", 0, False, 0.0)
DEFAULT = Mode(
    "default", "Default options (with retrieval help)", _DEFAULTS.focus, _DEFAULTS.constrained, _DEFAULTS.min_match
)
MODES = (LONG_CONTEXT, DEFAULT)


@dataclass(frozen=True)
class Planted:
    """One cell's haystack: stories cut to a context length, the needle inside."""

    length: int
    depth: int
    needle: Needle
    story: Story
    stories: list[Story]
    offset: int  # model tokens of the stories before the needle
    haystack_tokens: int  # model tokens of the other stories

    @property
    def actual_depth(self) -> float:
        return round(100 * self.offset / self.haystack_tokens, 1) if self.haystack_tokens else 0.0


@dataclass(frozen=True)
class Cell:
    length: int  # target context length in model tokens
    depth: int  # target depth, percent of the haystack's tokens
    mode: str
    hit: bool
    answer: str  # what the model wrote (empty when the relevance gate refused)
    cited: str  # cited ids, space-separated, valid or not
    seconds: float
    needle: str
    fact_stated: bool
    refused: bool
    context_tokens: int  # what the pipeline reported reading
    needle_depth: float  # where the needle really sits, percent of the haystack's tokens


def needle_for(length: int, depth: int) -> Needle:
    """The needle of a cell: fixed by the cell, so a cell means the same in every grid."""
    return NEEDLES[zlib.crc32(f"{length}/{depth}".encode()) % len(NEEDLES)]


def needle_story(needle: Needle, haystack: Sequence[Story]) -> Story:
    story_id = f"needle-{NEEDLES.index(needle) + 1}"
    taken = {s.id for s in haystack}
    if story_id in taken:
        story_id = unique_id(story_id, taken)
    return Story(story_id, needle.text, "needle", 1, needle.role, needle.goal, needle.benefit)


def mode_pipeline(pipeline: Pipeline, mode: Mode) -> Pipeline:
    """``pipeline`` with short greedy answers and the retrieval help of ``mode``."""
    return pipeline.with_options(
        max_tokens=ANSWER_TOKENS,
        temperature=0.0,
        focus=mode.focus,
        constrained=mode.constrained,
        min_match=mode.min_match,
    )


def longest(pipeline: Pipeline, haystack: Sequence[Story]) -> int:
    """The longest context a grid can test: every story must fit (full mode), and the haystack must fill it."""
    needle = min(_overhead(pipeline, n.question) + pipeline.fit([needle_story(n, haystack)]).tokens for n in NEEDLES)
    return min(_model_limit(pipeline), pipeline.fit(haystack).tokens + needle)


def _model_limit(pipeline: Pipeline) -> int:
    """The longest prompt with every story in it: the room for stories and the rules, with a needle answer's room kept."""
    fit = pipeline.with_options(max_tokens=ANSWER_TOKENS).fit([])
    return fit.budget + fit.rules


def parse_numbers(text: str, flag: str) -> tuple[int, ...]:
    """``"1000,2000"`` as ``(1000, 2000)``; ``flag`` names the option in the error."""
    try:
        numbers = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        numbers = ()
    if not numbers or min(numbers) < 0:
        raise NeedleError(f"{flag} {text}: give whole numbers separated by commas, e.g. 1000,2000")
    return numbers


def lengths_up_to(limit: int) -> tuple[int, ...]:
    """1000, 2000, 4000, ... below ``limit``, then ``limit`` itself."""
    lengths, length = [], 1000
    while length < limit:
        lengths.append(length)
        length *= 2
    return (*lengths, limit)


def plant(pipeline: Pipeline, haystack: Sequence[Story], length: int, depth: int) -> Planted:
    """Cut ``haystack`` so the prompt is about ``length`` model tokens; put the needle at ``depth``%.

    The needle goes at the story boundary nearest ``depth``% of the haystack's tokens.
    """
    if not 0 <= depth <= 100:
        raise NeedleError(f"depth {depth}: give a percentage from 0 to 100")
    if length > _model_limit(pipeline):
        raise NeedleError(
            f"a {length:,}-token context does not fit {pipeline.engine.info().model} with every story in "
            f"it; the longest is {_model_limit(pipeline):,} tokens (room for the answer and the conversation "
            "is kept). Choose shorter --lengths or a larger --n-ctx."
        )
    needle = needle_for(length, depth)
    story = needle_story(needle, haystack)
    room = length - _overhead(pipeline, needle.question) - pipeline.fit([story]).tokens
    kept, bounds = [], [0]
    for s in haystack:
        size = pipeline.fit([s]).tokens
        if bounds[-1] + size > room:
            break
        kept.append(s)
        bounds.append(bounds[-1] + size)
    else:
        if room - bounds[-1] > 0.05 * length:
            raise NeedleError(
                f"the haystack holds {bounds[-1]:,} tokens of stories, too few for a {length:,}-token "
                "context; choose shorter --lengths or more stories"
            )
    target = depth / 100 * bounds[-1]
    at = min(range(len(bounds)), key=lambda i: abs(bounds[i] - target))
    return Planted(length, depth, needle, story, [*kept[:at], story, *kept[at:]], bounds[at], bounds[-1])


def _overhead(pipeline: Pipeline, question: str) -> int:
    """Prompt tokens besides the stories: the rules, the question and the message markers."""
    return pipeline.fit([]).rules + pipeline.engine.count(question) + MESSAGE_OVERHEAD


_NON_WORD = re.compile(r"[\W_]+")


def _normal(text: str) -> str:
    return " " + " ".join(_NON_WORD.sub(" ", text.lower()).split()) + " "


def states(text: str, fact: str) -> bool:
    """Whether ``text`` contains ``fact`` as whole words, case and punctuation ignored."""
    return _normal(fact) in _normal(text)


def score(answer: Answer, needle_id: str, fact: str, mode: Mode) -> bool:
    """Whether the answer found the needle; the module docstring gives the rule."""
    evidence = {c.id for c in answer.evidence}
    if answer.refused or not evidence:
        return False
    if mode.constrained:
        return needle_id in evidence
    return needle_id in evidence or states(answer.answer, fact)


def ask_cell(pipeline: Pipeline, planted: Planted, mode: Mode) -> Cell:
    started = time.perf_counter()
    answer = pipeline.answer(planted.needle.question, planted.stories)
    return Cell(
        length=planted.length,
        depth=planted.depth,
        mode=mode.name,
        hit=score(answer, planted.story.id, planted.needle.fact, mode),
        answer=answer.raw,
        cited=" ".join(c.id for c in answer.citations),
        seconds=round(time.perf_counter() - started, 2),
        needle=planted.story.id,
        fact_stated=states(answer.raw, planted.needle.fact),
        refused=answer.refused,
        context_tokens=answer.context.tokens_in_context,
        needle_depth=planted.actual_depth,
    )


ProgressCallback = Callable[[float, str], None]


def run_grid(
    pipeline: Pipeline,
    haystack: Sequence[Story],
    lengths: Iterable[int],
    depths: Iterable[int],
    progress: ProgressCallback | None = None,
) -> list[Cell]:
    """Every (length, depth) cell in every mode; ``progress(fraction, message)`` before each answer.

    The cells are planted before any is asked, so a bad length fails at once.
    Both modes of a cell share the story prefix, so the second one reuses the KV cache.
    """
    haystack = [s for s in haystack if not s.is_note]
    pipelines = [(mode, mode_pipeline(pipeline, mode)) for mode in MODES]
    plan = [plant(pipelines[0][1], haystack, length, depth) for length in lengths for depth in depths]
    total = len(plan) * len(pipelines)
    cells: list[Cell] = []
    for planted in plan:
        for mode, mode_pipe in pipelines:
            if progress:
                progress(len(cells) / total, f"{planted.length:,} model tokens, needle at {planted.depth}%, {mode.name}")
            cells.append(ask_cell(mode_pipe, planted, mode))
    if progress:
        progress(1.0, f"{total} answers done")
    return cells


def write_csv(cells: Sequence[Cell], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(f.name for f in fields(Cell))
        writer.writerows(astuple(c) for c in cells)
    return path


def _by_mode(cells: Sequence[Cell]) -> list[tuple[Mode, list[Cell]]]:
    return [(m, [c for c in cells if c.mode == m.name]) for m in MODES if any(c.mode == m.name for c in cells)]


def _k(tokens: int) -> str:
    return f"{tokens:,}" if tokens < 1000 else f"{round(tokens / 1000, 1):g}k"


def heatmap(cells: Sequence[Cell], path: Path, title: str = "") -> Path:
    """A PNG of recall by context length (x) and depth (y), one panel per mode: green found, red missed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure

    panels = _by_mode(cells)
    lengths = sorted({c.length for c in cells})
    depths = sorted({c.depth for c in cells})
    colours = LinearSegmentedColormap.from_list("recall", ["#d73027", "#fee08b", "#1a9850"])
    width = max(3.6, 1.3 + 0.9 * len(lengths))
    figure = Figure(figsize=(width * len(panels), 1.9 + 0.45 * len(depths)), layout="constrained")
    FigureCanvasAgg(figure)
    for axes, (mode, group) in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels):
        at = [[[c for c in group if (c.length, c.depth) == (length, depth)] for length in lengths] for depth in depths]
        recall = [[sum(c.hit for c in here) / len(here) if here else float("nan") for here in row] for row in at]
        axes.pcolormesh(recall, cmap=colours, vmin=0, vmax=1, edgecolors="white", linewidth=2)
        for y, row in enumerate(at):
            for x, here in enumerate(row):
                axes.text(x + 0.5, y + 0.5, _label(here), ha="center", va="center", fontsize=8)
        axes.invert_yaxis()
        axes.set_xticks([x + 0.5 for x in range(len(lengths))], [_k(n) for n in lengths])
        axes.set_yticks([y + 0.5 for y in range(len(depths))], [f"{d}%" for d in depths])
        axes.set_xlabel("context length (model tokens)")
        axes.set_ylabel("needle depth")
        axes.set_title(f"{mode.label}\nfound {sum(c.hit for c in group)} of {len(group)}", fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    if any(c.fact_stated and not c.hit for c in cells):
        figure.supxlabel("* stated the fact, but failed the citation check", fontsize=8)
    figure.savefig(path, dpi=110)
    return path


def _label(cells: Sequence[Cell]) -> str:
    if not cells:
        return ""
    hits = sum(c.hit for c in cells)
    if hits == len(cells):
        return "found"
    if hits:
        return f"{hits / len(cells):.0%}"
    return "missed*" if any(c.fact_stated for c in cells) else "missed"


def verdict(cells: Sequence[Cell]) -> str:
    """One line per grid, e.g. "long-context: reliable up to 2k tokens, misses at 50-100% depth beyond that"."""
    return "; ".join(f"{mode.name}: {_mode_verdict(group)}" for mode, group in _by_mode(cells))


def _mode_verdict(cells: Sequence[Cell]) -> str:
    found = f"{sum(c.hit for c in cells)} of {len(cells)} found"
    longest_length = max(c.length for c in cells)
    missed = [c for c in cells if not c.hit]
    if not missed:
        return f"found the needle in every cell up to {_k(longest_length)} tokens ({found})"
    first_miss = min(c.length for c in missed)
    reliable = sorted({c.length for c in cells if c.length < first_miss})
    where = _depth_ranges(sorted({c.depth for c in cells}), {c.depth for c in missed})
    uncited = sum(c.fact_stated for c in missed)
    why = f"; {uncited} of the misses stated the fact but failed the citation check" if uncited else ""
    if not reliable:
        return f"misses from {_k(first_miss)} tokens on, at {where} depth ({found}{why})"
    return f"reliable up to {_k(reliable[-1])} tokens; misses at {where} depth beyond that ({found}{why})"


def _depth_ranges(grid: list[int], missed: set[int]) -> str:
    """Runs of neighbouring grid depths, e.g. "0%, 50-75%"; "every" when all missed."""
    if missed >= set(grid):
        return "every"
    runs: list[list[int]] = []
    for i, depth in enumerate(grid):
        if depth in missed:
            if runs and grid.index(runs[-1][-1]) == i - 1:
                runs[-1].append(depth)
            else:
                runs.append([depth])
    return ", ".join(f"{r[0]}%" if len(r) == 1 else f"{r[0]}-{r[-1]}%" for r in runs)
