"""An answer's record (``Answer.to_json``) as plain lines: what every face shows of it, in the same words.

The CLI prints the lines, the chat adds Markdown and HTML, the transcript adds
Markdown list marks. A kept chat's turn holds only the record, so the chat
renders a reopened answer from the same lines as a fresh one.
"""

from __future__ import annotations

from dataclasses import dataclass

from storychat.answer.support import PARAPHRASED, PARTLY, UNSUPPORTED

# The marks a citation and a sentence carry, the same in every face.
VERIFIED, IN_OTHER_WORDS, UNBACKED, INVALID = "✓", "≈", "⚠", "✗"
SENTENCE_MARK = {UNSUPPORTED: UNBACKED, PARTLY: UNBACKED, PARAPHRASED: IN_OTHER_WORDS}


@dataclass(frozen=True)
class Item:
    """A story the answer names (a checked citation, a closest story): each face marks up these parts."""

    id: str
    text: str  # the story's text, or why a cited id is not valid
    where: str = ""  # "source:line"; "" for an id that is no valid story
    mark: str = ""  # a citation's: ✓ ≈ ⚠ ✗
    details: tuple[str, ...] = ()  # under a citation: role, goal and benefit; each criterion; the verdict; misquotes

    def line(self) -> str:
        """The item as plain text: "✓ [id] text (source:line)"."""
        where = f" ({self.where})" if self.where else ""
        return f"{self.mark} [{self.id}] {self.text}{where}".lstrip()


def context_line(record: dict) -> str:
    """What the answer read and how long it took, on one line. An exhaustive answer's is its reading;
    a refusal by the relevance gate never called the model, and says so instead of times."""
    c, t, reading = record["context"], record["timings"], record["reading"]
    if reading:
        read = reading["line"][0].upper() + reading["line"][1:]
    else:
        dropped = f" · {c['dropped_turns']} oldest turns left out to fit" if c["dropped_turns"] else ""
        read = (
            f"Context: {c['stories_in_context']} of {c['stories_total']} stories, {c['tokens_in_context']:,} of "
            f"{c['n_ctx']:,} model tokens ({c['mode']}){dropped}"
        )
    took = "no model call" if record["gated"] else f"first token {t['ttft_s']:.1f}s, total {t['total_s']:.1f}s"
    return f"{read} · {took}"


def gap_line(record: dict) -> str:
    """What no story carries, computed by code: the question's missing words, else that no cited story
    addresses the question; "" when neither."""
    gap = record["missing"] or record["no_story_says"]
    return gap["line"] if gap else ""


def withheld(record: dict) -> bool:
    """The model's answer was replaced by the refusal (strict mode)."""
    return bool(record["doubt"]) and record["refused"]


def doubt_line(record: dict) -> str:
    """Why the answer is not to be trusted as written; "" when it may be."""
    if withheld(record):
        return f"Withheld: the model's answer {record['doubt']}."
    return f"This answer {record['doubt']}. Check it against the stories." if record["doubt"] else ""


def marked_sentences(record: dict) -> list[dict]:
    """The sentences shown with a mark: not (fully) supported, or supported in other words."""
    return [s for s in record["sentences"] if s["verdict"] in SENTENCE_MARK and not s["cut"]]


def sentence_line(sentence: dict) -> str:
    return f"{SENTENCE_MARK[sentence['verdict']]} {sentence['why']}: {sentence['text']}"


def misquote_line(misquote: dict) -> str:
    owner = f"; these are [{misquote['owner']}]'s words" if misquote["owner"] else ""
    return f"Misquoted [{misquote['id']}]: the answer says “{misquote['claimed']}”; the story says “{misquote['library']}”{owner}"


def misquotes(record: dict) -> list[dict]:
    """Every story text the answer presented wrongly, once each."""
    return list({tuple(m.values()): m for s in record["sentences"] if (m := s["misquote"])}.values())


def citations(record: dict) -> list[Item]:
    wrong = misquotes(record)
    return [_citation(cite, [m for m in wrong if m["id"] == cite["id"]]) for cite in record["citations"]]


def _citation(cite: dict, wrong: list[dict]) -> Item:
    if not cite["valid"]:
        why = "exists but was not in the model's context" if cite["text"] else "is not a story id"
        return Item(cite["id"], why, mark=INVALID)
    mark = VERIFIED if cite["verified"] else IN_OTHER_WORDS if cite["paraphrased"] else UNBACKED
    parts = " · ".join(f"{name}: {cite[name]}" for name in ("role", "goal", "benefit") if cite[name])
    verdict = (
        "Supported in other words: it addresses the question, not the answer's words. Check the wording."
        if cite["paraphrased"] else "" if cite["verified"] else "No sentence of the answer is supported by it."
    )
    details = [parts, *(f"✔ {criterion}" for criterion in cite["acceptance"]), verdict, *map(misquote_line, wrong)]
    return Item(cite["id"], cite["text"], f"{cite['source']}:{cite['line']}", mark, tuple(d for d in details if d))


def closest(record: dict) -> list[Item]:
    """The stories that might hold the answer, wherever the answer shown may not."""
    return [Item(s["id"], s["text"], f"{s['source']}:{s['line']}") for s in record["closest"]]


def evidence_title(record: dict) -> str:
    cites = record["citations"]
    valid = sum(c["valid"] for c in cites)
    verified = sum(c["verified"] for c in cites)
    paraphrased = sum(c["paraphrased"] for c in cites)
    title = f"Evidence: {valid} cited stor{'y' if valid == 1 else 'ies'} checked, {verified} support{'s' if verified == 1 else ''} the answer"
    return title + (f", {paraphrased} in other words" if paraphrased else "")
