"""A finished answer, the events that stream it, and its JSON record (the ``ask --json`` contract).

Every face renders the same record: ``answer/lines.py`` writes it as plain
lines, and the CLI, the chat and the transcript add their own markup.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable, Union

from storychat.analysis.filters import Scoped
from storychat.analysis.lists import Listing
from storychat.answer.addresses import NoStorySays
from storychat.answer.citations import Citation
from storychat.answer.context import Coverage
from storychat.answer.exhaustive import Reading
from storychat.answer.opinion import SecondOpinion
from storychat.answer.support import MissingTerms, Sentence, Support
from storychat.stories import Story


# Why an answer is not to be trusted as written. An uncited one is withheld when strict; one with no
# supported sentence is shown with this warning and its sentences marked: withholding those too cost
# 24 more wrong refusals of 53 on the QA set, since the check flags paraphrases (docs/evaluation.md).
UNCITED = "cites no story the model was shown"
NOTHING_SUPPORTED = "has no sentence that the stories it cites support"


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
    no_story_says: NoStorySays | None = None  # none of the stories it cites addresses the question (with an embedder)
    reading: Reading | None = None  # exhaustive mode: how every story was read
    hint: str = ""  # a suggestion for the user, e.g. exhaustive mode for a complete-list question
    listing: Listing | None = None  # a list question: the exact list code computed, which the answer summarises
    incomplete: str = ""  # an answer listing stories retrieval found: that its list may be incomplete, and what is exact
    looped: bool = False  # the model repeated itself and was stopped there; the answer is what came before
    scope: Scoped | None = None  # the filters the question was asked within, and the stories they kept
    opinions: tuple[SecondOpinion, ...] = ()  # the model's second opinion on sentences the code marked ≈ or partly

    @property
    def evidence(self) -> list[Citation]:
        return [c for c in self.citations if c.valid]

    @property
    def gap_line(self) -> str:
        """What no story carries, computed by code: the question's missing words, else that no cited story
        addresses the question; "" when neither. The missing words' line is the more precise of the two."""
        if self.missing:
            return self.missing.line()
        return self.no_story_says.line() if self.no_story_says else ""

    @property
    def withheld(self) -> bool:
        """The model's answer was replaced by the refusal (strict mode)."""
        return bool(self.doubt) and self.refused

    def to_json(self) -> dict:
        opinions = {o.sentence: o for o in self.opinions}
        return {
            "answer": self.answer,
            "refused": self.refused,
            "unsupported": self.unsupported,
            "gated": self.gated,
            "best_match": self.best_match,
            "raw": self.raw,
            "citations": [asdict(c) for c in self.citations],
            "doubt": self.doubt,
            "sentences": [_sentence_json(s, opinions.get(i)) for i, s in enumerate(self.support.sentences)],
            "missing": _missing_json(self.missing),
            "no_story_says": _no_story_says_json(self.no_story_says),
            "closest": [_closest_json(s) for s in self.closest],
            "context": {**asdict(self.context), "dropped_turns": self.dropped_turns},
            "timings": asdict(self.timings),
            "reading": {**asdict(self.reading), "line": self.reading.line()} if self.reading else None,
            "hint": self.hint,
            "listing": listing_json(self.listing) if self.listing else None,
            "incomplete": self.incomplete,
            "looped": self.looped,
            "scope": self.scope.to_record() if self.scope else None,
        }


def _sentence_json(s: Sentence, opinion: SecondOpinion | None) -> dict:
    j = s.judgement
    return {
        "text": s.text, "cites": list(s.cites), "against": list(s.against), "verdict": j.verdict,
        "unsupported_words": list(j.unsupported), "backed_by": list(j.backed_by), "cut": s.cut,
        "misquote": asdict(j.misquote) if j.misquote else None, "why": s.why(), "note": j.note,
        "second_opinion": opinion.to_json() if opinion else None,
        "evidence": [{"id": story_id, **asdict(passage), "line": passage.line()} for story_id, passage in s.evidence],
    }


def listing_json(listing: Listing) -> dict:
    return {
        "scope": listing.scope.to_record(), "topic": listing.topic, "exact": listing.exact, "kept": listing.kept,
        "line": listing.line(), "stories": [_closest_json(s) for s in listing.stories],
    }


CLOSEST_FIELDS = ("id", "source", "line", "text")


def _closest_json(story: Story) -> dict:
    record = story.to_record()
    return {name: record[name] for name in CLOSEST_FIELDS}


def _no_story_says_json(verdict: NoStorySays | None) -> dict | None:
    if verdict is None:
        return None
    return {"closest": verdict.closest.id if verdict.closest else None, "line": verdict.line()}


def _missing_json(missing: MissingTerms | None) -> dict | None:
    if missing is None:
        return None
    return {"words": list(missing.words), "closest": missing.closest.id if missing.closest else None, "line": missing.line()}


@dataclass(frozen=True)
class Progress:
    message: str


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Listed:
    """A list question's exact list, computed by code before the model starts."""

    listing: Listing


@dataclass(frozen=True)
class Done:
    answer: Answer


@dataclass(frozen=True)
class Reviewed:
    """After Done: the answer again, with the model's second opinion on one more sentence (``answer/opinion.py``)."""

    answer: Answer


Event = Union[Progress, Listed, Token, Done, Reviewed]


def final(events: Iterable[Event]) -> Answer:
    """Run an event stream to its end; the answer it finishes with (with every second opinion it got)."""
    return [e for e in events if isinstance(e, (Done, Reviewed))][-1].answer
