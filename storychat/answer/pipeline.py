"""The one path every question takes: context, prompt, engine, checks, events.

``Pipeline.ask`` yields typed events; ``answer`` runs them to the end. The
browser UI, the CLI and the evaluations only call these verbs and render what
they return; none of them holds answer logic of its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Sequence

from storychat.analysis.filters import Scope, Scoped
from storychat.analysis.lists import Listing, Named, incomplete_line, read_question
from storychat.answer import opinion
from storychat.answer.answer import NOTHING_SUPPORTED, UNCITED, Answer, Done, Event, Listed, Progress, Reviewed, Timings, Token, final
from storychat.answer.addresses import NoStorySays, as_clause, addressing
from storychat.answer.citations import Citation, check_citations, is_refusal
from storychat.answer.context import Context, ContextBuilder, Coverage, Fit, QuestionError, Scorer, fill_order
from storychat.answer.exhaustive import EXHAUSTIVE, HINT, Reading, asks_for_everything, cited_in, loop_start, map_question
from storychat.answer.followup import cited_first, previous_turn, refers_back
from storychat.answer.history import FOR_PROFILE, carry
from storychat.answer.opinion import SecondOpinion
from storychat.answer.profiles import OPEN, Profile, choose
from storychat.answer.prompt import REFUSAL, Template, citation_grammar, id_list_grammar, render_question
from storychat.answer.retrieval import Hit, Searcher
from storychat.answer.shards import Shard, Sharder, split
from storychat.answer.support import (
    PARAPHRASED, SUPPORTED, MissingTerms, Support, check_support, checked_summary, instead_of, missing_terms,
)
from storychat.config import DEFAULTS
from storychat.llm.engine import Engine, Message, Usage
from storychat.stories import Story
from storychat.stories.embedder import Embedder


# The relevance gate's default threshold, by signal: the best hit's word match alone, or with a
# reader of meaning the mean of its match and meaning (docs/evaluation.md, "Meaning beside words").
GATE = {"words": 0.2, "meaning": 0.29}


@dataclass(frozen=True)
class AnswerOptions:
    max_tokens: int = DEFAULTS.max_tokens
    temperature: float = DEFAULTS.temp
    strict: bool = DEFAULTS.strict
    max_question_chars: int = DEFAULTS.max_question_chars
    # Defaults chosen on the QA and needle evaluations (docs/evaluation.md): an answer that must
    # open with the best-matching story's id had the best evidence recall; repeating that story
    # before the question made the answer state its fact (19 of 20 needles, 8 without). The gate
    # threshold that best separates unanswerable questions depends on the signal (see GATE).
    focus: int = 1  # stories repeated just before the question; 0 turns the focus block off
    constrained: bool = True  # the answer must open with a cited id (the profile says which ids, and whether it may refuse)
    cite_from: int = 1  # how many of the best-matching stories that opening id may name (tiny profile)
    profile: str = DEFAULTS.answer_profile  # auto, tiny or open: storychat/answer/profiles.py
    min_match: float | None = None  # relevance gate: refuse without the model below this; None: GATE's for the signal
    closest: int = 3
    history: str | None = None  # which earlier turns the model reads (storychat/answer/history.py); None: the profile's
    second_opinion: str = DEFAULTS.second_opinion  # auto, on or off: storychat/answer/opinion.py


@dataclass(frozen=True)
class Request:
    """What the engine is given for one question, and the context it was built from."""

    question: str
    context: Context
    messages: list[Message]
    grammar: str | None  # GBNF that makes the answer open with a cited id; None when unconstrained
    best_match: float = 0.0  # the search's best hit's relevance, what the relevance gate judges
    follows_cited: bool = False  # a follow-up about the stories the previous answer cited: the gate lets it through
    addressed: tuple[str, ...] | None = None  # ids of the stories that address the question; None: not judged


@dataclass(frozen=True)
class Streamed:
    """One generation: its text, usage (None when it was stopped), when its first token came, and whether it was
    stopped because it repeated itself."""

    text: str
    usage: Usage | None
    first_token_at: float | None
    looped: bool = False


class Pipeline:
    def __init__(
        self, engine: Engine, template: Template = Template(), options: AnswerOptions = AnswerOptions(),
        sharder: Sharder | None = None, embedder: Embedder | None = None,
    ):
        self.engine = engine
        self.template = template
        self.options = options
        self.embedder = embedder
        self.profile: Profile = choose(options.profile, engine.info().parameters)
        self.second_opinion = opinion.wanted(options.second_opinion, self.profile.name)
        self._builder = ContextBuilder(engine, template, options.max_tokens)
        self._searcher = Searcher(embedder)
        self._sharder = sharder or Sharder()

    @property
    def min_match(self) -> float:
        """The relevance gate's threshold in force."""
        if self.options.min_match is not None:
            return self.options.min_match
        return GATE["meaning" if self.embedder else "words"]

    @property
    def history(self) -> str:
        """The policy in force for what of the earlier turns the model reads."""
        return self.options.history or FOR_PROFILE[self.profile.name]

    def report(self) -> list[str]:
        """The engine's self-check and the answer profile in force: what `storychat info` prints."""
        return [
            *self.engine.report(), self.profile.sentence(), opinion.sentence(self.options.second_opinion, self.profile.name),
            meaning_sentence(self.embedder),
        ]

    def with_options(self, **changes) -> "Pipeline":
        """The same engine, template, shard layouts and embedder with other answer options."""
        return Pipeline(self.engine, self.template, replace(self.options, **changes), self._sharder, self.embedder)

    def ask(
        self, question: str, stories: Sequence[Story], history: Sequence[Message] = (), collection: str = "",
        scope: Scope = Scope(),
    ) -> Iterator[Event]:
        """Answer ``question`` from ``stories``; ``collection`` names them for the KV snapshot cache. ``scope``: the
        filters a face set; search, the gate, the context and the checks see only the stories it keeps.

        A list question (``analysis/lists.py``) is answered by code first: its exact list (or, when it also asks
        about a topic, the items its fields keep, ranked by the topic), then the model's summary."""
        return self._within(question, scope, stories, collection, lambda asked, kept, label: self._ask(asked, kept, history, label))

    def _within(
        self, question: str, scope: Scope, stories: Sequence[Story], collection: str,
        answer: Callable[[str, Sequence[Story], str], Iterator[Event]],
    ) -> Iterator[Event]:
        """The events of ``answer`` for the question, checked once here, over the stories ``scope`` keeps, its
        answer carrying the scope. A scope that keeps nothing is said to, without the model."""
        question = self._validate(question)
        if not scope:
            yield from answer(question, stories, collection)
            return
        scoped = scope.within(stories)
        if not scoped.stories:
            yield Done(self._nothing_in_scope(scoped))
            return
        yield from _amend(answer(question, scoped.stories, scoped.label(collection)), lambda a: replace(a, scope=scoped))

    def _ask(self, question: str, stories: Sequence[Story], history: Sequence[Message], collection: str) -> Iterator[Event]:
        named = read_question(question, stories)
        listing = named.listing(stories, self._ranked)
        if listing:
            yield from self.list_answer(listing)
            return
        started = time.perf_counter()
        request = self._prepare(question, stories, history)
        hits = request.context.hits
        best = request.best_match
        missing = missing_terms(request.question, self._searcher.index(stories), self.min_match)
        hint = HINT if request.context.coverage.mode == "retrieval" and asks_for_everything(request.question) else ""
        if best < self.min_match and not request.follows_cited:
            yield Progress(f"No story matches the question (best match {best:.2f} < {self.min_match})")
            yield Done(replace(self._gated(request.context, best, started, missing), hint=hint))
            return
        answered = self._generate(request, stories, collection, started, hits, missing)
        answered = _amend(answered, lambda a: replace(a, hint=hint, incomplete=_incomplete(named, request.question, a)))
        yield from self._reviewed(answered, request, stories, collection)

    def answer(
        self, question: str, stories: Sequence[Story], history: Sequence[Message] = (), collection: str = "",
        scope: Scope = Scope(),
    ) -> Answer:
        """``ask``, run to the end."""
        return final(self.ask(question, stories, history, collection, scope))

    def ask_exhaustive(self, question: str, stories: Sequence[Story], collection: str = "", scope: Scope = Scope()) -> Iterator[Event]:
        """Answer ``question`` after reading every story ``scope`` keeps: one pass per shard lists the stories the
        question is about (ids or none, by grammar), then the answer is written from all they cited. A question
        that names a field and a topic ("open stories about payroll") reads every item its fields keep.

        Each pass starts with a Progress event; a reader that stops consuming stops between passes. A list
        question needs no reading: code lists its stories exactly.
        """
        named = read_question(question, stories)
        if named.asks_for_list and named.pure and named.scope and named.topic:
            # A field and a topic: the fields the question names filter exactly, and every item they keep is read.
            scope = Scope((*scope.filters, *named.scope.filters))
        return self._within(question, scope, stories, collection, lambda asked, kept, label: self._ask_exhaustive(asked, kept, label))

    def _ask_exhaustive(self, question: str, stories: Sequence[Story], collection: str) -> Iterator[Event]:
        started = time.perf_counter()
        listing = read_question(question, stories).listing(stories)
        if listing:
            yield from self.list_answer(listing)
            return
        shards = self.shards(stories, collection)
        cited: list[Story] = []
        usages: list[Usage] = []
        looped = 0
        for shard in shards:
            yield Progress(f"pass {shard.index + 1} of {len(shards)}: {len(cited)} stories cited so far")
            found, streamed = yield from self._cited_by(question, shard, collection)
            cited += found
            usages += [streamed.usage] if streamed.usage else []
            looped += streamed.looped
        reading = Reading(
            sum(len(s.stories) for s in shards), len(shards), len(cited),
            pass_tokens=sum(u.prompt_tokens for u in usages), pass_evaluated=sum(u.prompt_evaluated for u in usages),
            pass_sources=tuple(u.prefix_source for u in usages), ids=tuple(s.id for s in cited), looped=looped,
        )
        if not cited:
            yield Done(self._nothing_cited(question, stories, reading, started))
            return
        yield from self._reduce(question, cited, stories, reading, started)

    def shards(self, stories: Sequence[Story], collection: str = "") -> list[Shard]:
        """The stories (notes left out) in consecutive runs that each fill the story budget.

        Cuts are remembered per ``collection``: added stories change only the last
        shard, and a deleted one only its own.
        """
        stories = [s for s in stories if not s.is_note]
        return self._sharder.split(stories, collection, self.fit(stories).budget, self._builder.story_tokens)

    def summarise(self, instruction: str, stories: Sequence[Story], scoped: Scoped | None = None) -> Iterator[Event]:
        """Have the model summarise a set that code computed (a quick action); ``scoped``: the filtered stories
        it was computed from, which the answer names.

        No relevance gate: the set is the evidence. Its first stories are the
        focus, and the answer must open with the id of one of them. The set is not
        a collection, so its KV snapshot carries no collection label. The finished
        answer keeps only the sentences the set supports and that do more than repeat
        the instruction (``raw`` keeps what the model wrote); it is "" when none do.
        """
        started = time.perf_counter()
        context = self._builder.build(stories, instruction, (), self.search(instruction, stories), self._scorer(instruction, stories))
        request = self._request(instruction, context, list(context.stories))
        for event in self._generate(request, stories, "", started, []):
            if isinstance(event, Done):
                event = Done(replace(event.answer, answer=checked_summary(event.answer.support, instruction), scope=scoped))
            yield event

    def list_answer(self, listing: Listing) -> Iterator[Event]:
        """The exact list first, as soon as it is computed, then the model's summary of it, checked as any summary.
        An empty list needs no summary."""
        yield Listed(listing)
        if not listing.stories:
            nothing = Coverage(0, listing.kept, 0, self.engine.context_length, "listed")
            yield Done(Answer("", False, [], nothing, Timings(0, 0, 0, 0, 0, "none"), listing=listing))
            return
        yield from _amend(self.summarise(listing.instruction(), listing.stories), lambda a: replace(a, listing=listing))

    def _ranked(self, topic: str, stories: Sequence[Story]) -> list[Story]:
        return [h.story for h in self.search(topic, stories)]

    def prepare(self, question: str, stories: Sequence[Story], history: Sequence[Message] = ()) -> Request:
        """What ``ask`` gives the engine for ``question``: one search picks the context, the focus and the grammar."""
        return self._prepare(self._validate(question), stories, history)

    def _prepare(self, question: str, stories: Sequence[Story], history: Sequence[Message]) -> Request:
        turn = previous_turn(history, stories)
        follow_up = turn is not None and refers_back(question, turn)
        hits = self.search(f"{turn.question} {question}" if follow_up else question, stories)
        best = hits[0].relevance if hits else 0.0
        if follow_up:
            hits = cited_first(hits, turn.cited)
        context = self._builder.build(stories, question, carry(history, follow_up, self.history), hits, self._scorer(question, stories))
        request = self._request(question, context, [h.story for h in context.hits])
        # A follow-up asks about the previous turn's stories in words of its own; only a question asked
        # afresh, with an embedder, is held against the stories its answer cites.
        addressed = addressing(question, hits) if self.embedder and not follow_up else None
        return replace(request, best_match=best, follows_cited=follow_up and bool(turn.cited), addressed=addressed)

    def search(self, query: str, stories: Sequence[Story], k: int | None = None, scope: Scope = Scope()) -> list[Hit]:
        """The stories (notes left out) that share a term with ``query`` or are close to it in meaning, best first;
        with ``scope``, only of those it keeps."""
        return self._searcher.search(query, scope.apply(stories), k)

    def _scorer(self, question: str, stories: Sequence[Story]) -> Scorer:
        """How a long story's pieces are rated against ``question``: as the search over ``stories`` ranks stories.
        The index is looked up only when a long story is cut, so a set without one is never indexed for it."""
        return lambda texts: self._searcher.index(stories).passage_scores(question, texts)

    def fit(self, stories: Sequence[Story]) -> Fit:
        """How many model tokens the stories take in the prompt, against the room there is for them."""
        return self._builder.fit(stories)

    def _generate(
        self, request: Request, stories: Sequence[Story], collection: str, started: float, hits: list[Hit],
        missing: MissingTerms | None = None, stage: str = "",
    ) -> Iterator[Event]:
        """``stage``: what the progress says the model does; by default what of ``stories`` it reads."""
        cov = request.context.coverage
        yield Progress(
            stage or f"Reading {cov.stories_in_context} of {cov.stories_total} stories "
            f"({cov.tokens_in_context:,} model tokens, {cov.mode} mode)"
        )
        streamed = yield from self._stream(request.messages, request.grammar, collection)
        timings = _timings(started, streamed.first_token_at, [streamed.usage])
        yield Done(replace(self._check(streamed.text, request, stories, timings, hits, missing), looped=streamed.looped))

    def _stream(
        self, messages: list[Message], grammar: str | None, collection: str, shown: bool = True,
        max_tokens: int | None = None, temperature: float | None = None,
    ) -> Iterator[Token]:
        """Generate one answer, yielding its Tokens when ``shown``; returns it as ``Streamed``. A generation that
        repeats itself (``loop_start``) is stopped there, and keeps what it wrote before the repetition.
        ``max_tokens`` and ``temperature``: the answer options' when None."""
        pieces: list[str] = []
        first_token_at, cut = None, None
        stream = self.engine.stream_chat(
            messages,
            max_tokens=self.options.max_tokens if max_tokens is None else max_tokens,
            temperature=self.options.temperature if temperature is None else temperature,
            grammar=grammar,
            cache_label=collection,
        )
        try:
            for piece in stream:
                first_token_at = first_token_at or time.perf_counter()
                pieces.append(piece)
                if shown:
                    yield Token(piece)
                cut = loop_start("".join(pieces))
                if cut is not None:
                    stream.stop()  # counted all the same
                    break
        finally:
            stream.close()  # a stopped answer frees the engine at once
        text = "".join(pieces)
        return Streamed(text[:cut].strip(), stream.usage, first_token_at, cut is not None)

    def _reviewed(self, events: Iterator[Event], request: Request, stories: Sequence[Story], collection: str) -> Iterator[Event]:
        """An answer's events and, when the second opinion is on, a Reviewed after each sentence the model then
        judged: after Done, so the answer's first token waits for none of it, and a reader that stops stops it."""
        for event in events:
            yield event
            if isinstance(event, Done) and self.second_opinion and not event.answer.withheld:
                yield from self._review(event.answer, request.messages[0], {s.id: s for s in stories}, collection)

    def _review(self, answer: Answer, system: Message, known: dict[str, Story], collection: str) -> Iterator[Event]:
        """Put each sentence the code marked ≈ or partly supported (up to ``opinion.PER_ANSWER``) to the model.

        The prompt opens with the answer's own system message, so the engine still holds its story prefix
        and evaluates only the sentence's question."""
        chosen = opinion.to_judge(answer.support, known)
        if not chosen:
            return
        yield Progress(f"Second opinion: the model judges {len(chosen)} sentence{'s' if len(chosen) > 1 else ''} the code marked ≈ or partly supported")
        opinions: list[SecondOpinion] = []
        for index in chosen:
            sentence = answer.support.sentences[index]
            asked = Message("user", opinion.prompt(sentence.text, [known[i] for i in sentence.against if i in known]))
            started = time.perf_counter()
            reply = yield from self._stream(
                [system, asked], opinion.GRAMMAR, collection, shown=False, max_tokens=opinion.REPLY_TOKENS, temperature=0.0,
            )
            said, usage = opinion.verdict(reply.text), reply.usage
            if said and usage:
                seconds = round(time.perf_counter() - started, 3)
                opinions.append(SecondOpinion(index, said, usage.prompt_tokens, usage.prompt_evaluated, seconds))
                yield Reviewed(replace(answer, opinions=tuple(opinions)))

    def _cited_by(self, question: str, shard: Shard, collection: str):
        """One pass: the stories of ``shard`` that the model says the question is about, and the pass's usage.

        The model may name any story of the shard; with an embedder, only the shard's hits for the
        question (a shared word, or close in meaning): the candidates the bundled model picks best from
        (docs/evaluation.md, "Exhaustive questions"). The prompt is the same either way, so its KV prefix is too.
        """
        context = self._builder.build(shard.stories, question, (), [], self._scorer(question, shard.stories))
        messages = [Message("system", context.system), Message("user", map_question(question))]
        candidates = [h.story for h in self.search(question, shard.stories)] if self.embedder else shard.stories
        grammar = id_list_grammar([s.id for s in candidates])
        streamed = yield from self._stream(messages, grammar, shard.label(collection), shown=False)
        return cited_in(streamed.text, shard.stories), streamed

    def _reduce(
        self, question: str, cited: list[Story], stories: Sequence[Story], reading: Reading, started: float
    ) -> Iterator[Event]:
        """The answer from the cited stories: in one context when they fit, else in rounds, one per shard of them."""
        hits = self.search(question, cited)
        if self.fit(cited).fits:
            context = self._builder.build(cited, question, (), hits, self._scorer(question, cited))
            request = self._request(question, context, fill_order(context.stories, context.hits))
            stage = f"writing the answer from the {len(cited)} cited {'story' if len(cited) == 1 else 'stories'}"
            yield from _amend(self._generate(request, stories, "", started, hits, stage=stage), lambda a: _read_all(a, reading))
            return
        rounds = split(cited, self.fit(cited).budget, self._builder.story_tokens)
        texts, usages, first_token_at, looped = [], [], None, False
        for part in rounds:
            yield Progress(f"answer round {part.index + 1} of {len(rounds)}: the cited stories do not fit one context")
            context = self._builder.build(part.stories, question, (), self.search(question, part.stories), self._scorer(question, part.stories))
            request = self._request(question, context, fill_order(context.stories, context.hits))
            streamed = yield from self._stream(request.messages, request.grammar, "")
            yield Token("\n\n")
            texts.append(streamed.text)
            looped = looped or streamed.looped
            usages.append(streamed.usage)
            first_token_at = first_token_at or streamed.first_token_at
        coverage = Coverage(len(cited), len(cited), max((u.prompt_tokens for u in usages if u), default=0), self.engine.context_length, "")
        whole = Request(question, Context(cited, "", [], 0, coverage, hits), [], None)
        answer = self._check("\n\n".join(texts), whole, stories, _timings(started, first_token_at, usages), hits, None)
        yield Done(replace(_read_all(answer, replace(reading, rounds=len(rounds))), looped=looped))

    def _nothing_cited(self, question: str, stories: Sequence[Story], reading: Reading, started: float) -> Answer:
        elapsed = round(time.perf_counter() - started, 3)
        return Answer(
            answer=REFUSAL,
            refused=True,
            citations=[],
            context=Coverage(0, reading.stories, 0, self.engine.context_length, EXHAUSTIVE),
            timings=Timings(elapsed, elapsed, 0, 0, 0, "none"),
            closest=[h.story for h in self.search(question, stories, self.options.closest)],
            reading=reading,
        )

    def _nothing_in_scope(self, scoped: Scoped) -> Answer:
        return Answer(
            answer=scoped.nothing_line(),
            refused=True,
            citations=[],
            context=Coverage(0, 0, 0, self.engine.context_length, "full"),
            timings=Timings(0, 0, 0, 0, 0, "none"),
            scope=scoped,
        )

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
                f"{self.options.max_question_chars:,}. Shorten it, or paste "
                "long text as stories instead."
            )
        return question

    def _check(
        self, raw: str, request: Request, stories: Sequence[Story], timings: Timings, hits: list[Hit],
        missing: MissingTerms | None,
    ) -> Answer:
        context = request.context
        known = {s.id: s for s in stories}
        support = check_support(raw, known, request.question, request.addressed or ())
        citations = check_citations(
            raw, {s.id: s for s in context.stories}, known, support.supported_ids(), support.supported_ids(PARAPHRASED)
        )
        refused = is_refusal(raw)
        doubt = "" if refused else _doubt(citations, support)
        text = support.shown
        if doubt == UNCITED and self.options.strict:
            text, refused = REFUSAL, True
        no_story_says = None if refused else _no_story_says(request, citations, hits)
        # Stories that might hold the answer, wherever the answer shown may not.
        closest = [h.story for h in hits[: self.options.closest]] if refused or doubt or no_story_says else []
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
            no_story_says=no_story_says,
        )


def _no_story_says(request: Request, citations: list[Citation], hits: list[Hit]) -> NoStorySays | None:
    """When the question was judged and no valid citation addresses it: the line that says so, with the closest story."""
    if request.addressed is None or not any(c.valid for c in citations):
        return None
    if any(c.valid and c.id in request.addressed for c in citations):
        return None
    closest = hits[0].story if hits else None
    return NoStorySays(as_clause(request.question), closest, instead_of(closest, request.question) if closest else "")


def meaning_sentence(embedder: Embedder | None) -> str:
    """Which reader of meaning judges relevance beside words: a line of `storychat info` and the Model panel."""
    if embedder is None:
        return "meaning: off; relevance is judged by words only (--meaning on adds the reader)"
    return f"meaning: {embedder.name}, beside words, in retrieval, the gate, the support check and duplicates"


def _amend(events: Iterator[Event], change: Callable[[Answer], Answer]) -> Iterator[Event]:
    """The events, with the answer of their Done, and of each Reviewed after it, changed."""
    for event in events:
        yield type(event)(change(event.answer)) if isinstance(event, (Done, Reviewed)) else event


def _incomplete(named: Named, question: str, answer: Answer) -> str:
    """What an answer that lists stories found by retrieval says of its list: it may be incomplete, and the exact
    list its field words name, else *Read everything*, gives all of them. "" for an answer that lists none."""
    lists = named.asks_for_list and (asks_for_everything(question) or len(answer.evidence) > 1)
    return incomplete_line(named.scope) if lists and not answer.refused else ""


def _read_all(answer: Answer, reading: Reading) -> Answer:
    """An answer from the cited stories, as the answer of an exhaustive reading: its coverage counts every story."""
    coverage = replace(answer.context, stories_total=reading.stories, mode=EXHAUSTIVE)
    return replace(answer, context=coverage, reading=reading)


def _timings(started: float, first_token_at: float | None, usages: list[Usage | None]) -> Timings:
    """The timings of the generations ``usages`` came from, counted together."""
    finished = time.perf_counter()
    done = [u for u in usages if u]
    return Timings(
        ttft_s=round((first_token_at or finished) - started, 3),
        total_s=round(finished - started, 3),
        prompt_tokens=sum(u.prompt_tokens for u in done),
        completion_tokens=sum(u.completion_tokens for u in done),
        prompt_evaluated=sum(u.prompt_evaluated for u in done),
        prefix_source=",".join(dict.fromkeys(u.prefix_source for u in done)),
    )


def _doubt(citations: list[Citation], support: Support) -> str:
    """Why an answer that is not a refusal cannot be shown as it is, or "". A claim of absence checked against
    every story is a supported sentence, though it backs no citation's ✓."""
    if not any(c.valid for c in citations):
        return UNCITED
    checked = any(s.verdict == SUPPORTED and s.judgement.note for s in support.claims)
    return "" if checked or any(c.verified or c.paraphrased for c in citations) else NOTHING_SUPPORTED
