"""The one path every question takes: context, prompt, engine, checks, events.

``Pipeline.ask`` yields typed events; ``answer`` runs them to the end. The
browser UI, the CLI and the evaluations only call these verbs and render what
they return; none of them holds answer logic of its own.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Iterable, Iterator, Sequence, Union

from storychat.answer.citations import Citation, check_citations, is_refusal
from storychat.answer.context import Context, ContextBuilder, Coverage, Fit, QuestionError
from storychat.answer.followup import cited_first, previous_turn, refers_back
from storychat.answer.profiles import OPEN, Profile, choose
from storychat.answer.prompt import REFUSAL, Template, citation_grammar, render_question
from storychat.answer.retrieval import Hit, Searcher
from storychat.answer.support import MissingTerms, Sentence, Support, check_support, checked_summary, missing_terms
from storychat.config import DEFAULTS
from storychat.llm.engine import Engine, Message
from storychat.stories import Story


# Why an answer is not to be trusted as written. An uncited one is withheld when strict; one with no
# supported sentence is shown with this warning and its sentences marked: withholding those too cost
# 24 more wrong refusals of 53 on the QA set, since the check flags paraphrases (docs/evaluation.md).
UNCITED = "cites no story the model was shown"
NOTHING_SUPPORTED = "has no sentence that the stories it cites support"


@dataclass(frozen=True)
class AnswerOptions:
    max_tokens: int = DEFAULTS.max_tokens
    temperature: float = DEFAULTS.temp
    strict: bool = DEFAULTS.strict
    max_question_chars: int = DEFAULTS.max_question_chars
    # Defaults chosen on the QA and needle evaluations (docs/evaluation.md): an answer that must
    # open with the best-matching story's id had the best evidence recall; repeating that story
    # before the question made the answer state its fact (19 of 20 needles, 8 without); a gate
    # at 0.20 best separates unanswerable questions.
    focus: int = 1  # stories repeated just before the question; 0 turns the focus block off
    constrained: bool = True  # the answer must open with a cited id (the profile says which ids, and whether it may refuse)
    cite_from: int = 1  # how many of the best-matching stories that opening id may name (tiny profile)
    profile: str = DEFAULTS.answer_profile  # auto, tiny or open: storychat/answer/profiles.py
    min_match: float = 0.2  # relevance gate: refuse without the model below this match
    closest: int = 3


@dataclass(frozen=True)
class Timings:
    ttft_s: float
    total_s: float
    prompt_tokens: int
    completion_tokens: int
    prompt_evaluated: int
    prefix_source: str = ""


@dataclass(frozen=True)
class Answer:
    """A finished answer. ``to_json`` is the ``ask --json`` contract."""

    answer: str
    refused: bool
    citations: list[Citation]
    context: Coverage
    timings: Timings
    raw: str = ""
    unsupported: bool = False
    gated: bool = False  # refused by the relevance gate, without calling the model
    best_match: float = 0.0
    closest: list[Story] = field(default_factory=list)
    dropped_turns: int = 0
    support: Support = field(default_factory=lambda: Support("", []))  # every sentence of ``raw``, judged
    doubt: str = ""  # UNCITED or NOTHING_SUPPORTED; "" when the answer may be shown as it is
    missing: MissingTerms | None = None  # the question's words that no story mentions

    @property
    def evidence(self) -> list[Citation]:
        return [c for c in self.citations if c.valid]

    @property
    def withheld(self) -> bool:
        """The model's answer was replaced by the refusal (strict mode)."""
        return bool(self.doubt) and self.refused

    def to_json(self) -> dict:
        return {
            "answer": self.answer,
            "refused": self.refused,
            "unsupported": self.unsupported,
            "gated": self.gated,
            "best_match": self.best_match,
            "raw": self.raw,
            "citations": [asdict(c) for c in self.citations],
            "doubt": self.doubt,
            "sentences": [_sentence_json(s) for s in self.support.sentences],
            "missing": _missing_json(self.missing),
            "closest": [{"id": s.id, "source": s.source, "line": s.line, "text": s.text} for s in self.closest],
            "context": {**asdict(self.context), "dropped_turns": self.dropped_turns},
            "timings": asdict(self.timings),
        }


def _sentence_json(s: Sentence) -> dict:
    j = s.judgement
    return {
        "text": s.text, "cites": list(s.cites), "against": list(s.against), "verdict": j.verdict,
        "unsupported_words": list(j.unsupported), "backed_by": list(j.backed_by), "cut": s.cut,
        "misquote": asdict(j.misquote) if j.misquote else None,
    }


def _missing_json(missing: MissingTerms | None) -> dict | None:
    if missing is None:
        return None
    return {"words": list(missing.words), "closest": missing.closest.id if missing.closest else None, "line": missing.line()}


@dataclass(frozen=True)
class Request:
    """What the engine is given for one question, and the context it was built from."""

    question: str
    context: Context
    messages: list[Message]
    grammar: str | None  # GBNF that makes the answer open with a cited id; None when unconstrained
    best_match: float = 0.0  # the search's best hit's match, what the relevance gate judges
    follows_cited: bool = False  # a follow-up about the stories the previous answer cited: the gate lets it through


@dataclass(frozen=True)
class Progress:
    message: str


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Union[Progress, Token, Done]


def final(events: Iterable[Event]) -> Answer:
    """Run an event stream to its end; the answer it finishes with."""
    return [e for e in events if isinstance(e, Done)][-1].answer


class Pipeline:
    def __init__(self, engine: Engine, template: Template = Template(), options: AnswerOptions = AnswerOptions()):
        self.engine = engine
        self.template = template
        self.options = options
        self.profile: Profile = choose(options.profile, engine.info().parameters)
        self._builder = ContextBuilder(engine, template, options.max_tokens)
        self._searcher = Searcher()

    def report(self) -> list[str]:
        """The engine's self-check and the answer profile in force: what `storychat info` prints."""
        return [*self.engine.report(), self.profile.sentence()]

    def with_options(self, **changes) -> "Pipeline":
        """The same engine and template with other answer options."""
        return Pipeline(self.engine, self.template, replace(self.options, **changes))

    def ask(
        self, question: str, stories: Sequence[Story], history: Sequence[Message] = (), collection: str = ""
    ) -> Iterator[Event]:
        """Answer ``question`` from ``stories``; ``collection`` names them for the KV snapshot cache."""
        started = time.perf_counter()
        request = self.prepare(question, stories, history)
        hits = request.context.hits
        best = request.best_match
        missing = missing_terms(request.question, self._searcher.index(stories))
        if best < self.options.min_match and not request.follows_cited:
            yield Progress(f"No story matches the question (best match {best:.2f} < {self.options.min_match})")
            yield Done(self._gated(request.context, best, started, missing))
            return
        yield from self._generate(request, stories, collection, started, hits, missing)

    def answer(
        self, question: str, stories: Sequence[Story], history: Sequence[Message] = (), collection: str = ""
    ) -> Answer:
        """``ask``, run to the end."""
        return final(self.ask(question, stories, history, collection))

    def summarise(self, instruction: str, stories: Sequence[Story]) -> Iterator[Event]:
        """Have the model summarise a set that code computed (a quick action).

        No relevance gate: the set is the evidence. Its first stories are the
        focus, and the answer must open with the id of one of them. The set is not
        a collection, so its KV snapshot carries no collection label. The finished
        answer keeps only the sentences the set supports and that do more than repeat
        the instruction (``raw`` keeps what the model wrote); it is "" when none do.
        """
        started = time.perf_counter()
        context = self._builder.build(stories, instruction, (), self.search(instruction, stories))
        request = self._request(instruction, context, list(context.stories))
        by_id = {s.id: s for s in stories}
        for event in self._generate(request, stories, "", started, []):
            if isinstance(event, Done):
                event = Done(replace(event.answer, answer=checked_summary(event.answer.raw, by_id, instruction)))
            yield event

    def prepare(self, question: str, stories: Sequence[Story], history: Sequence[Message] = ()) -> Request:
        """What ``ask`` gives the engine for ``question``: one search picks the context, the focus and the grammar."""
        question = self._validate(question)
        turn = previous_turn(history, stories)
        follow_up = turn is not None and refers_back(question, turn)
        hits = self.search(f"{turn.question} {question}" if follow_up else question, stories)
        best = hits[0].match if hits else 0.0
        if follow_up:
            hits = cited_first(hits, turn.cited)
        context = self._builder.build(stories, question, history, hits)
        request = self._request(question, context, [h.story for h in context.hits])
        return replace(request, best_match=best, follows_cited=follow_up and bool(turn.cited))

    def search(self, query: str, stories: Sequence[Story], k: int | None = None) -> list[Hit]:
        """The stories (notes left out) that share a term with ``query``, best first (BM25)."""
        return self._searcher.search(query, stories, k)

    def fit(self, stories: Sequence[Story]) -> Fit:
        """How many model tokens the stories take in the prompt, against the room there is for them."""
        return self._builder.fit(stories)

    def _generate(
        self, request: Request, stories: Sequence[Story], collection: str, started: float, hits: list[Hit],
        missing: MissingTerms | None = None,
    ) -> Iterator[Event]:
        cov = request.context.coverage
        yield Progress(
            f"Reading {cov.stories_in_context} of {cov.stories_total} stories "
            f"({cov.tokens_in_context:,} model tokens, {cov.mode} mode)"
        )
        pieces: list[str] = []
        first_token_at = None
        stream = self.engine.stream_chat(
            request.messages,
            max_tokens=self.options.max_tokens,
            temperature=self.options.temperature,
            grammar=request.grammar,
            cache_label=collection,
        )
        try:
            for piece in stream:
                first_token_at = first_token_at or time.perf_counter()
                pieces.append(piece)
                yield Token(piece)
        finally:
            stream.close()  # a stopped answer frees the engine at once
        finished = time.perf_counter()
        usage = stream.usage
        timings = Timings(
            ttft_s=round((first_token_at or finished) - started, 3),
            total_s=round(finished - started, 3),
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            prompt_evaluated=usage.prompt_evaluated if usage else 0,
            prefix_source=usage.prefix_source if usage else "",
        )
        yield Done(self._check("".join(pieces).strip(), request, stories, timings, hits, missing))

    def _request(self, question: str, context: Context, ranked: list[Story]) -> Request:
        """The messages and citation grammar for ``question``; ``ranked``: stories best match first."""
        messages = [
            Message("system", context.system),
            *context.history,
            Message("user", render_question(question, ranked[: self.options.focus])),
        ]
        return Request(question, context, messages, self._grammar(context, ranked))

    def _grammar(self, context: Context, ranked: list[Story]) -> str | None:
        if not self.options.constrained:
            return None
        if self.profile.name == OPEN:
            return citation_grammar([s.id for s in context.stories], refusal=REFUSAL)
        openers = ranked[: self.options.cite_from]
        return citation_grammar([s.id for s in openers]) if openers else None

    def _gated(self, context: Context, best: float, started: float, missing: MissingTerms | None) -> Answer:
        elapsed = round(time.perf_counter() - started, 3)
        return Answer(
            answer=REFUSAL,
            refused=True,
            citations=[],
            context=context.coverage,
            timings=Timings(elapsed, elapsed, 0, 0, 0, "none"),
            closest=[h.story for h in context.hits[: self.options.closest]],
            dropped_turns=context.dropped_turns,
            gated=True,
            best_match=best,
            missing=missing,
        )

    def _validate(self, question: str) -> str:
        question = question.strip()
        if not question:
            raise QuestionError("Type a question about the stories first.")
        if len(question) > self.options.max_question_chars:
            raise QuestionError(
                f"The question is {len(question):,} characters; the limit is "
                f"{self.options.max_question_chars:,} (--max-question-chars). Shorten it, or paste "
                "long text as stories instead."
            )
        return question

    def _check(
        self, raw: str, request: Request, stories: Sequence[Story], timings: Timings, hits: list[Hit],
        missing: MissingTerms | None,
    ) -> Answer:
        context = request.context
        known = {s.id: s for s in stories}
        support = check_support(raw, known, request.question)
        citations = check_citations(raw, {s.id: s for s in context.stories}, known, support.supported_ids())
        refused = is_refusal(raw)
        doubt = "" if refused else _doubt(citations)
        closest = [h.story for h in hits[: self.options.closest]] if refused or doubt else []
        text = support.shown
        if doubt == UNCITED and self.options.strict:
            text, refused = REFUSAL, True
        return Answer(
            answer=text,
            refused=refused,
            citations=citations,
            context=context.coverage,
            timings=timings,
            raw=raw,
            unsupported=doubt == UNCITED,
            closest=closest,
            dropped_turns=context.dropped_turns,
            best_match=request.best_match,
            support=support,
            doubt=doubt,
            missing=missing,
        )


def _doubt(citations: list[Citation]) -> str:
    """Why an answer that is not a refusal cannot be shown as it is, or ""."""
    if not any(c.valid for c in citations):
        return UNCITED
    return "" if any(c.verified for c in citations) else NOTHING_SUPPORTED
