"""An answer's record (``Answer.to_json``) as plain lines: what every face shows of it, in the same words.

``lines(record)`` is the one rendering of an answer. The CLI prints its lines,
the chat adds Markdown and HTML, the transcript adds Markdown list marks. A
kept chat's turn holds only the record, so the chat renders a reopened answer
from the same lines as a fresh one.
"""

from __future__ import annotations

from dataclasses import dataclass

from storychat.answer.exhaustive import LOOPED
from storychat.answer.opinion import AGREES
from storychat.answer.support import PARAPHRASED, PARTLY, SUPPORTED, UNSUPPORTED

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
    # Under a citation: role, goal and benefit; the passages that back the answer's sentences; each criterion;
    # the verdict; misquotes.
    details: tuple[str, ...] = ()

    def line(self) -> str:
        """The item as plain text: "✓ [id] text (source:line)"."""
        where = f" ({self.where})" if self.where else ""
        return f"{self.mark} [{self.id}] {self.text}{where}".lstrip()


@dataclass(frozen=True)
class Lines:
    """An answer in plain words, part by part; every face shows these parts, in its own markup."""

    listing: str  # a list question's: "5 stories have the role line manager", computed by code; ""
    listed: tuple[Item, ...]  # and the stories of that exact list
    incomplete: str  # an answer listing stories that retrieval found: "This list … may be incomplete: …"; ""
    looped: str  # the model repeated itself and was stopped: LOOPED; ""
    answer: str  # the text shown: the model's answer less its cut sentences, or the refusal
    gap: str  # what no story carries, computed by code; "" when the stories carry the question
    marked: tuple[str, ...]  # each sentence shown with a mark, with why: "⚠ unsupported: no story it cites says …: …"
    # (and the model's second opinion: "≈ supported in other words: … (the model agrees): …")
    evidence: str  # "Evidence: 2 cited stories checked, 1 supports the answer"
    citations: tuple[Item, ...]
    read: tuple[str, ...]  # the ids an exhaustive reading's passes cited, the complete list the answer is written from
    closest: tuple[Item, ...]  # the stories that might hold the answer, where the answer shown may not
    doubt: str  # why the answer is not to be trusted as written; ""
    withheld: str  # what the model wrote, when the refusal replaced it (strict mode; ``doubt`` says why); ""
    context: str  # what the answer read and how long it took


def lines(record: dict) -> Lines:
    wrong = _misquotes(record)
    reading = record["reading"]
    withheld = bool(record["doubt"]) and record["refused"]
    # A record kept before list questions (issue 32) has no listing.
    listing, listed = listing_lines(record["listing"]) if record.get("listing") else ("", ())
    return Lines(
        listing=listing,
        listed=listed,
        incomplete=record.get("incomplete", ""),  # a record kept before issue 32 has neither
        looped=LOOPED if record.get("looped") else "",
        answer=record["answer"],
        gap=_gap(record),
        marked=() if withheld else tuple(_marked(s) for s in marked_sentences(record)),
        evidence=_evidence(record["citations"]),
        citations=tuple(
            _citation(cite, [m for m in wrong if m["id"] == cite["id"]], bool(record.get("scope")), _passages(record, cite))
            for cite in record["citations"]
        ),
        read=tuple(reading["ids"]) if reading else (),
        closest=tuple(_story(s) for s in record["closest"]),
        doubt=_doubt(record["doubt"], withheld),
        withheld=record["raw"] if withheld else "",
        context=_context(record),
    )


def listing_lines(listing: dict) -> tuple[str, tuple[Item, ...]]:
    """A list question's list (``Answer.to_json()["listing"]``): its headline, and its stories. An exact list is
    marked as computed; a mixed question's line says itself which part was exact and which was ranked."""
    # A listing kept before mixed questions has no "exact": it was exact.
    headline = f"Computed by code: {listing['line']}" if listing.get("exact", True) else listing["line"]
    return headline, tuple(_story(s) for s in listing["stories"])


def _story(record: dict) -> Item:
    return Item(record["id"], record["text"], f"{record['source']}:{record['line']}")


def marked_sentences(record: dict) -> list[dict]:
    """The sentences shown with a mark: not (fully) supported, supported in other words, or a claim of absence
    checked against every story."""
    return [s for s in record["sentences"] if sentence_mark(s) and not s["cut"]]


def sentence_mark(sentence: dict) -> str:
    """⚠ for a sentence not (fully) supported, ≈ for one supported in other words, ✓ for a claim of absence
    checked against every story ("checked: no story mentions Slack"); "" for the others."""
    return VERIFIED if checked(sentence) else SENTENCE_MARK.get(sentence["verdict"], "")


def checked(sentence: dict) -> str:
    """What a supported claim of absence was checked against, or "". A record kept before issue 33 has no note."""
    return sentence.get("note", "") if sentence["verdict"] == SUPPORTED else ""


def second_opinion(sentence: dict) -> str:
    """The model's second opinion on the sentence, in words ("the model agrees"), or "" when it gave none.
    It stands beside the code's mark: it never makes a sentence supported."""
    opinion = sentence.get("second_opinion")
    if not opinion:
        return ""
    return "the model agrees" if opinion["verdict"] == AGREES else "the model disagrees"


def _marked(sentence: dict) -> str:
    said = second_opinion(sentence)
    return f"{sentence_mark(sentence)} {sentence['why']}" + (f" ({said})" if said else "") + f": {sentence['text']}"


def _context(record: dict) -> str:
    """What the answer read and how long it took, on one line, after the filters it was asked within. An
    exhaustive answer's is its reading; a refusal by the relevance gate, or within filters that keep no story,
    never called the model, and says so instead of times."""
    # A record kept before filters (issue 32) has no scope.
    scope = record.get("scope")
    within = f"Filter: {scope['line']} · " if scope else ""
    if scope and not scope["kept"]:
        return f"{within}no model call"
    return within + _read(record)


def _read(record: dict) -> str:
    c, t, reading = record["context"], record["timings"], record["reading"]
    if reading:
        read = reading["line"][0].upper() + reading["line"][1:]
    else:
        dropped = f" · {c['dropped_turns']} oldest turns left out to fit" if c["dropped_turns"] else ""
        read = (
            f"Context: {c['stories_in_context']:,} of {c['stories_total']:,} stories, {c['tokens_in_context']:,} of "
            f"{c['n_ctx']:,} model tokens ({c['mode']}){_cuts(c)}{dropped}"
        )
    took = "no model call" if record["gated"] else f"first token {t['ttft_s']:.1f}s, total {t['total_s']:.1f}s"
    return f"{read} · {took}"


def _cuts(context: dict) -> str:
    """" · 3 long stories cut to their most relevant passages, 4,210 of 9,800 characters left out"; "" when none
    was (and in a record kept before long stories were cut)."""
    n = context.get("cut_stories", 0)
    if not n:
        return ""
    return (
        f" · {n} long stor{'y' if n == 1 else 'ies'} cut to {'its' if n == 1 else 'their'} most relevant passages, "
        f"{context['left_out_chars']:,} of {context['cut_chars']:,} characters left out"
    )


def _gap(record: dict) -> str:
    gap = record["missing"] or record["no_story_says"]
    return gap["line"] if gap else ""


def _doubt(doubt: str, withheld: bool) -> str:
    if withheld:
        return f"Withheld: the model's answer {doubt}."
    return f"This answer {doubt}. Check it against the stories." if doubt else ""


def _misquote(misquote: dict) -> str:
    owner = f"; these are [{misquote['owner']}]'s words" if misquote["owner"] else ""
    return f"Misquoted [{misquote['id']}]: the answer says “{misquote['claimed']}”; the story says “{misquote['library']}”{owner}"


def _misquotes(record: dict) -> list[dict]:
    """Every story text the answer presented wrongly, once each."""
    return list({tuple(m.values()): m for s in record["sentences"] if (m := s["misquote"])}.values())


def _passages(record: dict, cite: dict) -> list[str]:
    """The passages of the cited story that support the answer's shown sentences, word for word or in other
    words ("description: … refresh tokens were in the core …"), once each; not its text, which the citation
    shows. A record kept before passages were named has none."""
    found = [
        e["line"] for s in record["sentences"] if not s["cut"] and s["verdict"] in (SUPPORTED, PARAPHRASED)
        for e in s.get("evidence", ()) if e["id"] == cite["id"] and e["text"] != cite["text"]
    ]
    return list(dict.fromkeys(found))


def _citation(cite: dict, wrong: list[dict], scoped: bool, passages: list[str]) -> Item:
    """``scoped``: the answer was asked within filters, and only the stories they keep were checked against."""
    if not cite["valid"]:
        why = "exists but was not in the model's context" if cite["text"] else "is not a story the filter keeps" if scoped else "is not a story id"
        return Item(cite["id"], why, mark=INVALID)
    mark = VERIFIED if cite["verified"] else IN_OTHER_WORDS if cite["paraphrased"] else UNBACKED
    parts = " · ".join(f"{name}: {cite[name]}" for name in ("role", "goal", "benefit") if cite[name])
    verdict = (
        "Supported in other words: it addresses the question, not the answer's words. Check the wording."
        if cite["paraphrased"] else "" if cite["verified"] else "No sentence of the answer is supported by it."
    )
    details = [parts, *passages, *(f"✔ {criterion}" for criterion in cite["acceptance"]), verdict, *map(_misquote, wrong)]
    return Item(cite["id"], cite["text"], f"{cite['source']}:{cite['line']}", mark, tuple(d for d in details if d))


def _evidence(cites: list[dict]) -> str:
    valid = sum(c["valid"] for c in cites)
    verified = sum(c["verified"] for c in cites)
    paraphrased = sum(c["paraphrased"] for c in cites)
    title = f"Evidence: {valid} cited stor{'y' if valid == 1 else 'ies'} checked, {verified} support{'s' if verified == 1 else ''} the answer"
    return title + (f", {paraphrased} in other words" if paraphrased else "")
