"""A second opinion from the user's own model on the sentences the code could not settle (issue 33, point 5).

The support check (``answer/support.py``) marks a sentence ≈ when only the question's words back it, and
⚠ partly supported when some of its words are in no story it cites. Those are the sentences a fluent model
writes most and code judges least well. With the *open* answer profile (a model of 1B parameters and more),
each of them, up to ``PER_ANSWER``, is put to the same engine as a yes/no question: the stories it cites, the
sentence, and ``QUESTION``, with a grammar that allows only "yes" or "no". This is how MiniCheck and RAGFlow's
review judge a claim.

It runs after the answer has streamed, so the first token waits for nothing. Its verdict is recorded beside
the code's, never instead of it: a sentence the model agrees with keeps its ≈ or ⚠, and a ✓ stays what code
checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Sequence

from storychat.answer.profiles import OPEN
from storychat.answer.prompt import render_story
from storychat.answer.support import PARAPHRASED, PARTLY, Support
from storychat.stories import Story

AUTO, ON, OFF = "auto", "on", "off"
MODES = (AUTO, ON, OFF)
# Sentences judged per answer. Each costs one short prefill after the answer (docs/evaluation.md,
# "A second opinion from the model"); a 7-8B model on a CPU takes seconds for each.
PER_ANSWER = 4
JUDGED = (PARAPHRASED, PARTLY)
QUESTION = "Is every claim of the sentence stated by the story? Answer yes or no."
GRAMMAR = 'root ::= "yes" | "no"\n'
REPLY_TOKENS = 2  # "yes" or "no" is one token in most vocabularies; the grammar ends it
AGREES, DISAGREES = "yes", "no"
MODEL = "model"


@dataclass(frozen=True)
class SecondOpinion:
    """The model's verdict on one sentence of an answer, and what it cost."""

    sentence: int  # the sentence's index in the answer's ``support.sentences``
    verdict: str  # AGREES or DISAGREES: every claim of the sentence is stated by the stories it cites
    prompt_tokens: int
    prompt_evaluated: int  # what the engine computed: the rest was the answer's story prefix, still in its KV cache
    seconds: float
    judged_by: str = MODEL

    def to_json(self) -> dict:
        return {
            "judged_by": self.judged_by, "verdict": self.verdict, "prompt_tokens": self.prompt_tokens,
            "prompt_evaluated": self.prompt_evaluated, "seconds": self.seconds,
        }


def wanted(mode: str, profile: str) -> bool:
    """Whether ``mode`` (auto, on or off) asks for a second opinion under the answer profile ``profile``:
    auto gives it to the open profile only, for a tiny model's yes or no would be noise."""
    if mode not in MODES:
        raise ValueError(f"--second-opinion must be one of {', '.join(MODES)}, not {mode!r}")
    return mode == ON or (mode == AUTO and profile == OPEN)


def sentence(mode: str, profile: str) -> str:
    """Whether the second opinion is on, and why: a line of `storychat info` and the Model panel."""
    if not wanted(mode, profile):
        why = "--second-opinion off" if mode == OFF else f"the {profile} profile's model is too small to judge"
        return f"Second opinion: off ({why})"
    why = "--second-opinion on" if mode == ON else "the open profile"
    return f"Second opinion: on ({why}); the model judges up to {PER_ANSWER} ≈ or partly supported sentences per answer, after it"


def to_judge(support: Support, known: Collection[str], cap: int = PER_ANSWER) -> list[int]:
    """The indices of the first ``cap`` sentences shown that the code marked ≈ or partly supported against a
    story of ``known`` (ids)."""
    return [
        i for i, s in enumerate(support.sentences)
        if not s.cut and s.verdict in JUDGED and any(story_id in known for story_id in s.against)
    ][:cap]


def prompt(text: str, stories: Sequence[Story]) -> str:
    """The question put to the model: the stories the sentence is judged against, whole, then the sentence."""
    listed = "\n".join(render_story(s) for s in stories)
    return f"Story:\n{listed}\n\nSentence: {text.strip()}\n\n{QUESTION}"


def verdict(reply: str) -> str:
    """AGREES or DISAGREES from the model's reply; "" when it said neither (an engine that ignores grammars)."""
    word = reply.strip().lower()
    return AGREES if word.startswith(AGREES) else DISAGREES if word.startswith(DISAGREES) else ""
