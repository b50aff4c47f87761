"""Hold every sentence of an answer against the stories it cites.

An answer is split into sentences. Each is judged against the stories it
cites or, when it cites none, the stories cited just before it. A sentence is
supported when every content word it uses (after stemming) occurs in those
stories and any story text it presents ("[id] As a user, I want ...") matches
the library's; partly supported when at least half its content words do;
unsupported otherwise. Words that only frame the answer ("The answer is:")
make no claim. A sentence is **supported in other words** when each word the
stories lack is one they say in other words (``synonyms_in``: a WordNet synonym,
"remaining" where a story says "left"), or a word of the question ("Yes, a
participant can revise their estimate" to a story that says "change my
estimate") where a story it is judged against addresses the question
(``answer/addresses.py``: that takes a reader of meaning), and none is a name,
a number or a negation.

Repeated sentences, empty openers and echoed ``Question: ...`` lines are marked
for cutting from the display; the raw text is kept as it is. ``missing_terms``
says which words of a question no story mentions, and which story comes closest.
Each sentence also names, for each story that backs it, the passage holding
most of its words (``answer/passages.py``): what the evidence shows.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Callable, Collection, Iterable, Mapping, Sequence

from storychat.answer.absence import Absence, absence
from storychat.answer.addresses import names
from storychat.answer.citations import extract_ids, is_refusal
from storychat.answer.passages import Passage, supporting
from storychat.answer.polarity import FAILURES, expand_contractions, flips
from storychat.answer.quantities import NUMBER_WORDS, unmatched
from storychat.answer.retrieval import StoryIndex
from storychat.answer.synonyms import WordNet, wordnet
from storychat.text import STOPWORDS, stem, terms
from storychat.stories import Story
from storychat.stories.parse import parse_parts

SUPPORTED = "supported"
PARAPHRASED = "supported in other words"
PARTLY = "partly supported"
UNSUPPORTED = "unsupported"
NO_CLAIM = "no claim"

REPEAT = "repeat"
EMPTY_OPENER = "empty opener"
ECHOED_QUESTION = "echoed question"

# Words that frame an answer or name the parts of a story rather than say
# anything a story could back: "The story most related to the question is",
# "the benefit is ...", "this happens because"; and vague quantities, like
# the stop words "some" and "few" ("several games"). They are neither claims
# nor missing from a backlog.
FRAME_WORDS = frozenset("""
answer answers question questions relate related relates relevant relevance mention mentions mentioned
say says said describe describes described description state states stated cite cites cited citation
id ids following listed example
role roles goal goals benefit benefits reason reasons purpose persona actor acceptance criteria epic
according item items closest finally fact current currently instance still even instead although though
seems seem appears apparently likely probably perhaps maybe
happen occur suggest propose because therefore several many multiple various numerous
""".split())
# Forms the stemmer cannot join to their word ("took": "take").
_IRREGULAR = {"people": "person", "took": "take", "taken": "take", "children": "child", "kept": "keep", "gave": "give",
              "given": "give", "sent": "send", "chosen": "choose", "chose": "choose"}

# "user" is whoever a story's role names.
_GENERIC_ACTORS = frozenset({"user", "people", "person", "someone", "anyone", "everyone"})

_NEGATIONS = frozenset({"not", "no", "never", "none", "nothing", "neither", "nor", "cannot"}) | FAILURES
_NOT_CONTENT = STOPWORDS | FRAME_WORDS | _NEGATIONS
_WORD = re.compile(r"[A-Za-z0-9]+")
# A citation, or one the token limit cut off ("[g2").
_CITATION = re.compile(r"\[[^\[\]\n]{1,200}\]|\[[^\[\]\n]*$")
# A sentence ends at . ! or ? (and any closing quote or bracket) followed by a
# space, or at a line break; not after a common abbreviation.
_SENTENCE_END = re.compile(r"(?<![A-Za-z]\.[A-Za-z]\.)(?<!\betc\.)(?<!\bvs\.)(?<!\b\d\.)(?<!\.\.)(?<=[.!?])[\"'”’)\]]*(?=\s)|\n")
# Story text presented as such: "As a user, I want ...", from the start of the
# sentence or after an opener's colon.
_PRESENTED = re.compile(r"(?:^|:\s*)[\"“']?(as\s+an?\s.+)", re.I | re.S)
_QUOTED = re.compile(r"[\"“]([^\"“”]{8,}?)[\"”]")
_ELLIPSIS = re.compile(r"\.\.\.|…")
_ECHO = re.compile(r"^\s*question\s*:", re.I)
_ASKS = re.compile(r"^\s*question\s*:|\?[\"'”’)]*\s*$", re.I)
_YES = re.compile(r"\byes\b", re.I)
# "Yes," "No:" "Not yet:" before a restatement of the answer.
_OPENER = re.compile(r"^\W*(?:yes|no|not\s+yet)\s*[,:;.!–—-]+\s*(?=\w)", re.I)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_HAS_NUMBER = re.compile(r"\d|\b(?:" + "|".join(NUMBER_WORDS) + r")\b", re.I)
_PARTICLES = frozenset("on off up down in out over back away".split())
LIST_MARKER = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+")

_NEGATION_REACH = 6  # words after a story's "not" that it negates ("do not have to convert data formats")
QUOTE_COVERAGE = 0.8  # share of a presented quote's words that must follow the story's text in order
PARTLY_SHARE = 0.5


@dataclass(frozen=True)
class Misquote:
    """Story text an answer presented that the library's story does not hold."""

    id: str
    claimed: str
    library: str
    owner: str = ""  # the story whose text it is, when it is another story's (the wrong id was cited)


@dataclass(frozen=True)
class Judgement:
    verdict: str
    unsupported: tuple[str, ...] = ()  # content words none of the stories holds, as written
    backed_by: tuple[str, ...] = ()  # ids of the stories that hold at least one of its words
    misquote: Misquote | None = None
    note: str = ""  # what a claim of absence was checked against: "checked: no story mentions Slack"
    reworded: tuple[tuple[str, str], ...] = ()  # (a word of the sentence, the story's synonym of it): ("remaining", "left")


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int  # offsets in the raw answer
    end: int
    cites: tuple[str, ...]  # ids written in the sentence
    against: tuple[str, ...]  # ids it is judged against: its own, else those cited just before it
    judgement: Judgement
    cut: str = ""  # REPEAT, EMPTY_OPENER or ECHOED_QUESTION: left out of the displayed answer
    evidence: tuple[tuple[str, Passage], ...] = ()  # (id, its passage holding most of the sentence's words), for each backer

    @property
    def verdict(self) -> str:
        return self.judgement.verdict

    @property
    def flagged(self) -> bool:
        """Partly supported or unsupported: marked where the answer is shown."""
        return self.verdict in (PARTLY, UNSUPPORTED)

    def why(self) -> str:
        """The verdict, the words no story it is judged against holds, and any misquote, in words."""
        j = self.judgement
        if j.note:
            return f"{j.verdict}: {j.note}"
        if j.verdict == PARAPHRASED:
            ids = f"[{', '.join(j.backed_by)}]"
            synonyms = [f'"{theirs}" for "{mine}"' for mine, theirs in j.reworded]
            rest = [u for u in j.unsupported if u not in dict(j.reworded)]
            return f"{j.verdict}: " + "; ".join(
                ([f"{ids} says {', '.join(synonyms)}"] if synonyms else [])
                + ([f"{ids} addresses the question, in other words than {', '.join(rest)}"] if rest else [])
            )
        return j.verdict + (f": no story it cites says {', '.join(j.unsupported)}" if j.unsupported else "") + (
            f"; it misquotes [{j.misquote.id}]" if j.misquote and j.misquote.id else ""
        ) + (f"; these are [{j.misquote.owner}]'s words" if j.misquote and j.misquote.owner else "")


@dataclass(frozen=True)
class Support:
    raw: str
    sentences: list[Sentence]

    @property
    def shown(self) -> str:
        """The answer without its cut sentences."""
        return self.show(lambda s: s.text)

    def show(self, write: Callable[[Sentence], str]) -> str:
        """The answer without its cut sentences, each written by ``write`` (the spaces between kept as they are)."""
        parts, end = [], 0
        for s in self.sentences:
            if not s.cut:
                parts.append(self.raw[end:s.start] if parts else "")
                parts.append(write(s))
            end = s.end
        return "".join(parts).strip()

    @property
    def misquotes(self) -> list[Misquote]:
        """Every story text the answer presented wrongly, cut sentences included (their citations stay listed)."""
        return list(dict.fromkeys(s.judgement.misquote for s in self.sentences if s.judgement.misquote))

    @property
    def claims(self) -> list[Sentence]:
        return [s for s in self.sentences if not s.cut and s.verdict != NO_CLAIM]

    @property
    def any_supported(self) -> bool:
        return any(s.verdict == SUPPORTED for s in self.claims)

    def supported_ids(self, verdict: str = SUPPORTED) -> list[str]:
        """Ids that back a sentence of ``verdict`` (SUPPORTED: the ones that earn a check mark), in order of citation."""
        ids: dict[str, None] = {}
        for s in self.claims:
            if s.verdict == verdict:
                ids.update(dict.fromkeys(s.judgement.backed_by))
        return list(ids)


@dataclass(frozen=True)
class Word:
    surface: str
    stem: str


@dataclass(frozen=True)
class MissingTerms:
    """Words of a question that no story mentions, and the story closest to it."""

    words: tuple[str, ...]
    closest: Story | None = None
    instead: str = ""  # the closest story's goal, less the question's words

    def line(self) -> str:
        text = "No story mentions " + " or ".join(f'"{w}"' for w in self.words)
        if self.closest:
            text += f"; closest: [{self.closest.id}]" + (f" ({self.instead})" if self.instead else "")
        return text


def check_support(
    answer: str, stories: Mapping[str, Story], question: str = "", addressed: Collection[str] = ()
) -> Support:
    """Split ``answer`` to ``question`` and judge each sentence against the ``stories`` (by id) it may cite;
    ``addressed``: the ids of the stories that address the question (``answer/addresses.py``)."""
    sentences: list[Sentence] = []
    before: tuple[str, ...] = ()
    seen: set[str] = set()
    spans = split_sentences(answer)
    all_cites = [tuple(extract_ids(answer[start:end], stories)) for start, end in spans]
    for (start, end), cites, later in zip(spans, all_cites, late_citations(answer, spans, all_cites)):
        text = answer[start:end]
        before = cites or before
        against = cites or tuple(dict.fromkeys(before + later))
        judgement = judge(text, [stories[i] for i in against if i in stories], question, addressed, stories.values())
        key = " ".join(w.lower() for w in _WORD.findall(_CITATION.sub(" ", text)))
        cut = ECHOED_QUESTION if _ECHO.search(_CITATION.sub(" ", text)) else REPEAT if key and key in seen else ""
        seen.add(key)
        evidence = evidence_passages(text, [stories[i] for i in judgement.backed_by if i in stories])
        sentences.append(Sentence(text, start, end, cites, against, judgement, cut, evidence))
    return Support(answer, _cut_empty_openers(sentences))


def late_citations(answer: str, spans: Sequence[tuple[int, int]], cites: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """For each sentence that cites nothing and follows no citation in its paragraph, the ids cited later in
    that paragraph ("Managers see a calendar. It shows who is away [HR-106]."); () for the others."""
    paragraphs = [len(_PARAGRAPH_BREAK.findall(answer, 0, start)) for start, _ in spans]
    late = []
    for i, paragraph in enumerate(paragraphs):
        mine = [j for j, p in enumerate(paragraphs) if p == paragraph]
        cited_before = any(cites[j] for j in mine if j <= i)
        later = [story_id for j in mine if j > i for story_id in cites[j]]
        late.append(() if cited_before else tuple(dict.fromkeys(later)))
    return late


def checked_summary(support: Support, instruction: str) -> str:
    """The sentences of a checked summary that its stories support and that say more than the instruction.

    "" when none is left: a tiny model often only repeats what it was asked
    ("Question: These stories were found to duplicate each other").
    """
    asked = set(terms(instruction)) | {"question"}
    kept = [
        sentence.text.strip()
        for sentence in support.claims
        if sentence.verdict == SUPPORTED and not set(terms(_CITATION.sub(" ", sentence.text))) <= asked
    ]
    return " ".join(kept)


def evidence_passages(sentence: str, stories: Sequence[Story]) -> tuple[tuple[str, Passage], ...]:
    """For each of ``stories``, the passage holding most of the sentence's content words, by id."""
    wanted = {w.stem for w in content_words(_CITATION.sub(" ", sentence))}
    if not wanted:
        return ()

    def holds(word: str) -> bool:
        lower = word.lower()
        return lower not in _NOT_CONTENT and _known(stem(_IRREGULAR.get(lower, lower)), wanted)

    found = ((s.id, supporting(s, holds)) for s in stories)
    return tuple((story_id, passage) for story_id, passage in found if passage)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each sentence of ``text``, surrounding spaces left out."""
    spans, start = [], 0
    for match in [*_SENTENCE_END.finditer(text), None]:
        end = match.end() if match else len(text)
        piece = text[start:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((start + lead, start + len(piece.rstrip())))
        start = end
    return spans


def judge(
    sentence: str, stories: Sequence[Story], question: str = "", addressed: Collection[str] = (),
    library: Iterable[Story] = (),
) -> Judgement:
    """Whether ``stories`` back what ``sentence`` says.

    A question asks and claims nothing; a "Yes" claims what ``question`` asks, besides its own words, unless a
    story addresses the question and the "Yes" opens a restatement. A sentence citing several stories clause
    by clause is judged clause by clause; a claim of absence against the whole ``library`` (default: ``stories``).
    ``addressed``: ids of stories that address the question; ``library``: also where a misquote's owner is looked for.
    """
    library = list(library) or list(stories)
    claim = LIST_MARKER.sub("", _CITATION.sub(" ", sentence))
    if _ASKS.search(claim) or claim.rstrip().endswith(":") or is_refusal(claim):
        return Judgement(NO_CLAIM)
    parts = _parts(sentence, stories)
    if len(parts) > 1:
        return _combined([judge(text, mine, question, addressed, library) for text, mine in parts])
    claimed = absence(claim)
    if claimed:
        return _judge_absence(claimed, library)
    return _judge_claim(claim, stories, question, addressed, library)


def _judge_claim(
    claim: str, stories: Sequence[Story], question: str, addressed: Collection[str], library: Sequence[Story]
) -> Judgement:
    addressing = tuple(s.id for s in stories if s.id in addressed)
    opener = _OPENER.match(claim)
    if opener and addressing and content_words(claim[opener.end():]):
        claim = claim[opener.end():]  # the restatement carries the answer; the "Yes" claims nothing of its own
    words = content_words(claim)
    negated = _negated(claim)
    if (not negated and _YES.search(claim)) or (negated and not words):
        words += content_words(question)  # a bare "Yes" or "No" answers the question: it claims its words
    words = _unique(words)
    if not words and not negated:
        return Judgement(NO_CLAIM)
    vocabularies = {s.id: _vocabulary([s]) for s in stories}
    found = [w for w in words if any(_known(w.stem, v) for v in vocabularies.values())]
    unsupported = [w.surface for w in words if w not in found]
    if negated and not any(_negates(s, words) for s in stories):
        unsupported.append(negated)
    texts = [s.searchable for s in stories]
    named = {n.lower() for n in names(claim)}
    new = [w for w in words if w not in found]
    reworded = synonyms_in(new, stories, named, claim)
    opposed = opposites_in([w for w in new if w.surface.lower() not in named], stories)
    turned = flips(claim, texts) + opposed
    written = {u.lower() for u in unsupported}
    unsupported += [n for n in unmatched(claim, " ".join(texts)) + turned if n.lower() not in written]
    backed_by = _backers(found, vocabularies)
    misquote = _misquote(claim, stories, library)
    share = 1 - len(unsupported) / (len(words) + bool(negated))
    rest = [u for u in unsupported if u not in reworded]
    if not unsupported and not misquote:
        verdict = SUPPORTED
    elif not misquote and not turned and not rest:
        verdict, backed_by = PARAPHRASED, _backers([*found, *(Word(t, _stem(t)) for t in reworded.values())], vocabularies)
    elif addressing and not misquote and not turned and _restates(rest, f"{claim} {question}", question):
        verdict, backed_by = PARAPHRASED, addressing
    elif share >= PARTLY_SHARE:
        verdict = PARTLY
    else:
        verdict = UNSUPPORTED
    return Judgement(verdict, tuple(unsupported), backed_by, misquote, reworded=tuple(reworded.items()))


def _parts(sentence: str, stories: Sequence[Story]) -> list[tuple[str, Sequence[Story]]]:
    """A claim of absence and what follows its semicolon ("...; the closest story is [id]"), or the clauses of a
    list that cites its stories one by one, each with the stories it cites; else the sentence whole."""
    pieces = sentence.split(";")
    if len(pieces) > 1 and any(absence(_CITATION.sub(" ", p)) for p in pieces):
        return [(p, stories) for p in pieces if p.strip()]
    return _clauses_by_citation(sentence, stories)


def _clauses_by_citation(sentence: str, stories: Sequence[Story]) -> list[tuple[str, Sequence[Story]]]:
    """Each clause of ``sentence`` with the stories its own citation names: the citation ends its clause when
    the sentence ends with one ("A [x], and B [y]."), else it opens it ("According to [x], A, and [y] says B")."""
    by_id = {s.id: s for s in stories}
    cited = [(m, [by_id[i] for i in extract_ids(m.group(0), by_id) if i in by_id]) for m in _CITATION.finditer(sentence)]
    cited = [(m, mine) for m, mine in cited if mine]
    if len(cited) < 2:
        return [(sentence, stories)]
    if not sentence[cited[-1][0].end():].strip(" .!\"'”’)"):
        starts = [0] + [m.end() for m, _ in cited[:-1]]
        return [(sentence[a:m.end()], mine) for a, (m, mine) in zip(starts, cited)]
    ends = [m.start() for m, _ in cited[1:]] + [len(sentence)]
    return [(sentence[0 if k == 0 else m.start():end], mine) for k, ((m, mine), end) in enumerate(zip(cited, ends))]


def _combined(judgements: list[Judgement]) -> Judgement:
    """One judgement of the parts' judgements: supported when each part is, in other words when each is at
    least that, unsupported when none backs anything, else partly supported."""
    verdicts = {j.verdict for j in judgements} - {NO_CLAIM}
    if verdicts <= {SUPPORTED}:
        verdict = SUPPORTED if verdicts else NO_CLAIM
    elif verdicts <= {SUPPORTED, PARAPHRASED}:
        verdict = PARAPHRASED
    elif verdicts == {UNSUPPORTED}:
        verdict = UNSUPPORTED
    else:
        verdict = PARTLY
    return Judgement(
        verdict,
        tuple(w for j in judgements for w in j.unsupported),
        tuple(dict.fromkeys(i for j in judgements for i in j.backed_by)),
        next((j.misquote for j in judgements if j.misquote), None),
        "; ".join(j.note for j in judgements if j.note),
        tuple(pair for j in judgements for pair in j.reworded),
    )


def _judge_absence(claimed: Absence, library: Sequence[Story]) -> Judgement:
    """A claim that no story says something: supported when no story of ``library`` holds it, else
    unsupported, naming the story that does."""
    for alternative in claimed.alternatives:
        holder = _holder(alternative, claimed.quantity, library)
        if holder:
            return Judgement(UNSUPPORTED, (alternative,), (holder.id,), note=f"[{holder.id}] mentions {alternative}")
    return Judgement(SUPPORTED, note=f"checked: no story mentions {claimed.what}")


def _holder(alternative: str, quantity: bool, library: Sequence[Story]) -> Story | None:
    """The first story holding every content word of ``alternative`` (and a number, for a quantity)."""
    words = _unique(content_words(alternative))
    if not words:
        return None
    for story in library:
        vocabulary = _story_vocabulary(story)
        if all(_known(w.stem, vocabulary) for w in words) and (not quantity or _HAS_NUMBER.search(story.searchable)):
            return story
    return None


def _restates(unsupported: list[str], said: str, question: str) -> bool:
    """Every word no story holds is a word of the question, and none is a name, a number or a negation."""
    asked = {w.stem for w in content_words(question)}
    kept_for_words = {n.lower() for n in names(said)} | _NEGATIONS
    return all(u.lower() not in kept_for_words and _stem(u.lower()) in asked for u in unsupported)


def synonyms_in(words: Sequence[Word], stories: Sequence[Story], named: Collection[str] = (), claim: str = "") -> dict[str, str]:
    """Each of ``words`` that ``stories`` say in other words, with the story's words: {"remaining": "left"}.

    A word is said in other words by a word or two-word phrase of a story that WordNet holds to be its synonym
    and is not a form of it (``answer/synonyms.py``: "swap" for "trade"), by the words whose initials it is ("SSO" for "single sign-on"),
    or by a story's abbreviation of it that is no word of its own ("param" for "parameter"). A verb of ``claim``
    with a particle a few words on is that phrasal verb too ("switch the lights on": "turn on"). A name
    (``named``, lower case) is said only by its initials.
    """
    said = [p for s in stories for p in _phrases(s)]
    initials = {a: p for s in stories for a, p in _initials(s).items()}
    net = wordnet()
    found = {}
    for w in words:
        lower = w.surface.lower()
        if w.surface.isupper() and w.surface in initials:
            found[w.surface] = initials[w.surface]
        elif lower in named:
            continue
        else:
            forms = [lower, *_phrasal(lower, claim)]
            theirs = next((p for p in said for f in forms if _other_word(f, p, net) or _abbreviates(p, f, net)), None)
            if theirs:
                found[w.surface] = theirs.replace("_", " ")
    return found


def _phrasal(word: str, claim: str) -> list[str]:
    """``word`` joined to each particle in the three words after it in ``claim``: "switch_on" in "switch the lights on"."""
    tokens = [t.lower() for t in _WORD.findall(claim)]
    return [f"{word}_{p}" for i, t in enumerate(tokens) if t == word for p in tokens[i + 1:i + 4] if p in _PARTICLES]


def _other_word(word: str, theirs: str, net: WordNet) -> bool:
    """``theirs`` is a WordNet synonym of ``word`` and not another form of it: a form the stemmer cannot join
    ("using" to "use") is the word check's, which flags it rather than take any sentence's word for a paraphrase."""
    return net.synonyms(word, theirs) and not net.same_word(word, theirs)


def _abbreviates(short: str, word: str, net: WordNet) -> bool:
    """``short`` begins ``word``, has four letters or more and is no word of WordNet's: "param", "config"."""
    return len(short) >= 4 and short.isalpha() and len(word) > len(short) and word.startswith(short) and not net.bases(short)


@lru_cache(maxsize=4096)
def _initials(story: Story) -> dict[str, str]:
    """The acronyms two to five consecutive words of a story make, with those words: {"SSO": "single sign-on"}."""
    words = re.findall(r"[A-Za-z]+", story.searchable)
    found = {}
    for n in range(2, 6):
        for k in range(len(words) - n + 1):
            found.setdefault("".join(w[0] for w in words[k:k + n]).upper(), " ".join(words[k:k + n]))
    return found


def opposites_in(words: Sequence[Word], stories: Sequence[Story]) -> list[str]:
    """The ``words`` that WordNet calls the opposite of a word of ``stories`` ("lock" where a story says "unlock"):
    a turned meaning, never a paraphrase."""
    said = [p for s in stories for p in _phrases(s)]
    net = wordnet()
    return [w.surface for w in words if any(net.antonyms(w.surface.lower(), p) for p in said)]


@lru_cache(maxsize=4096)
def _phrases(story: Story) -> tuple[str, ...]:
    """A story's content words and its two-word phrases ("carry_over"), lower case, each once."""
    tokens = [w.lower() for w in _WORD.findall(story.searchable)]
    words = [t for t in tokens if t not in _NOT_CONTENT and not t.isdigit()]
    return tuple(dict.fromkeys([*words, *(f"{a}_{b}" for a, b in zip(tokens, tokens[1:]))]))


def _backers(found: list[Word], vocabularies: dict[str, set[str]]) -> tuple[str, ...]:
    """The stories holding a found word; with several, a word all of them hold ("user") credits none."""
    holders = {w: [i for i, v in vocabularies.items() if _known(w.stem, v)] for w in found}
    telling = [w for w, ids in holders.items() if len(ids) < len(vocabularies)] or list(holders)
    return tuple(i for i in vocabularies if any(i in holders[w] for w in telling))


def content_words(text: str) -> list[Word]:
    """The words of ``text`` that carry content, stemmed as retrieval stems them."""
    words = []
    for surface in _WORD.findall(expand_contractions(text)):
        lower = surface.lower()
        stemmed = str(NUMBER_WORDS[lower]) if lower in NUMBER_WORDS else _stem(_IRREGULAR.get(lower, lower))
        if lower in _NOT_CONTENT or stemmed in _NOT_CONTENT:  # "asked" is "ask"
            continue
        if len(lower) > 1 or lower.isdigit() or surface.isupper():  # "R", the language
            words.append(Word(surface, stemmed))
    return words


def missing_terms(question: str, index: StoryIndex, close: float = 1.0) -> MissingTerms | None:
    """The question's words whose meaning no story carries; None when every word is carried.

    A word is carried when a story holds it. With an embedder, a question whose best
    story is close to it (relevance at least ``close``, the relevance gate's threshold) is taken
    to be said by that story in other words, all but its names, acronyms and numbers: the reader
    judges texts, not single words ("hand" and "delegate" are 0.03 apart to it).
    """
    vocabulary = _index_vocabulary(index)
    has_roles = any(s.role for s in index.stories)
    missing = [
        w.surface for w in _unique(content_words(question))
        if not _known(w.stem, vocabulary) and not (has_roles and w.stem in _GENERIC_ACTORS)
    ]
    hits = index.search(question, k=1)
    if missing and hits and hits[0].meaning is not None and hits[0].relevance >= close:
        named = set(names(question))
        missing = [w for w in missing if w in named]
    if not missing:
        return None
    if not hits:
        return MissingTerms(tuple(missing))
    closest = hits[0].story
    return MissingTerms(tuple(missing), closest, instead_of(closest, question))


def instead_of(story: Story, question: str) -> str:
    """What ``story`` asks for that ``question`` does not: its goal's content words less the question's."""
    asked = {w.stem for w in content_words(question)}
    return " ".join(w.surface for w in content_words(story.goal or story.text) if not any(same_stem(w.stem, a) for a in asked))


def _stem(word: str) -> str:
    """Retrieval's stem, except that a plural in -es keeps its e unless the -es follows a hiss ("games": game,
    "leaves": leave; "boxes": box, "classes": class), so that it meets its singular."""
    if len(word) > 4 and word.endswith("es") and not word.endswith(("ses", "xes", "zes", "ches", "shes")):
        return stem(word[:-1])
    return stem(word)


def same_stem(a: str, b: str) -> bool:
    """Two stems of one word: equal, or the light stemmer left different endings
    ("recycl"/"recycle", "deliveri"/"delivery", "creat"/"creation")."""
    if a == b:
        return True
    shared = len(os.path.commonprefix([a, b]))
    return shared >= 5 and shared >= min(len(a), len(b)) - 1 and max(len(a), len(b)) - shared <= 3


def _known(word: str, vocabulary: set[str]) -> bool:
    if word in vocabulary:
        return True
    # Both other ways need the word's first five letters inside the other: test that first (a
    # backlog of 1,700 stories has 17,000 stems).
    head = word[:5]
    return len(word) >= 5 and any(head in v and (same_stem(word, v) or _part_of(word, v)) for v in vocabulary)


def _part_of(word: str, compound: str) -> bool:
    """``word`` begins or ends a word written as one with another ("facility": "recyclingfacility")."""
    if len(word) < 5 or len(compound) < len(word) + 4:
        return False
    return compound.startswith(word) or any(same_stem(word, compound[k:]) for k in range(4, len(compound) - 4))


@lru_cache(maxsize=2)
def _index_vocabulary(index: StoryIndex) -> frozenset[str]:
    """The vocabulary of an index's stories, kept while the pipeline searches the same index."""
    return frozenset(_vocabulary(index.stories))


def _vocabulary(stories: Iterable[Story]) -> set[str]:
    """Stems of the stories' content words, and of adjacent words written as one ("pick up": "pickup")."""
    vocabulary = set()
    for story in stories:
        text = story.searchable
        vocabulary.update(w.stem for w in content_words(text))
        words = [w.lower() for w in _WORD.findall(text)]
        vocabulary.update(_stem(a + b) for a, b in zip(words, words[1:]))
    return vocabulary


@lru_cache(maxsize=4096)
def _story_vocabulary(story: Story) -> frozenset[str]:
    """One story's vocabulary, kept: a claim of absence is held against every story of a collection."""
    return frozenset(_vocabulary([story]))


def _unique(words: list[Word]) -> list[Word]:
    return list({w.stem: w for w in reversed(words)}.values())[::-1]


def _negates(story: Story, words: list[Word]) -> bool:
    """``story`` makes a negation about one of ``words``: one of them is among the few words after its "not"."""
    tokens = [w.lower() for w in _WORD.findall(expand_contractions(story.searchable))]
    wanted = {w.stem for w in words}
    return any(
        any(_known(_stem(after), wanted) for after in tokens[i + 1:i + 1 + _NEGATION_REACH])
        for i, token in enumerate(tokens) if token in _NEGATIONS
    )


def _negated(text: str) -> str:
    """The first negation in ``text``, as written ("not" for a contraction), or ""."""
    return next((w for w in _WORD.findall(expand_contractions(text)) if w.lower() in _NEGATIONS), "")


def _misquote(claim: str, stories: Sequence[Story], library: Iterable[Story] = ()) -> Misquote | None:
    """The first presented quote that no story holds, with the text of the story it is closest to
    and, when it is the text of another story of ``library``, that story's id."""
    for quote in _presented(claim):
        if not stories:
            return Misquote("", quote, "", _owner(quote, library))
        scored = [(_coverage(quote, s.text), s) for s in stories]
        if not any(_faithful(quote, s, coverage) for coverage, s in scored):
            best = max(scored, key=lambda pair: pair[0])[1]
            return Misquote(best.id, quote, best.text, _owner(quote, library))
    return None


def _owner(quote: str, library: Iterable[Story]) -> str:
    """The id of the first story of ``library`` that ``quote`` presents faithfully, or ""."""
    quoted = set(_words(quote))
    for story in library:
        # Most stories share too few words to be the owner: skip them before the in-order match.
        if story.is_note or len(quoted & set(_words(story.text))) < QUOTE_COVERAGE * len(quoted):
            continue
        if _faithful(quote, story, _coverage(quote, story.text)):
            return story.id
    return ""


def _presented(claim: str) -> list[str]:
    quotes = [m.group(1).strip() for m in _QUOTED.finditer(claim)]
    story = _PRESENTED.search(claim.strip())
    if story and not any(story.group(1).startswith(q) or q.startswith(story.group(1)) for q in quotes):
        quotes.append(story.group(1).strip().strip("\"”'"))
    return [q for q in quotes if len(_words(q)) >= 2]


def _faithful(quote: str, story: Story, coverage: float) -> bool:
    if coverage < QUOTE_COVERAGE:
        return False
    vocabulary = _vocabulary([story])
    if not all(_known(w.stem, vocabulary) for w in content_words(quote)):
        return False
    parts = parse_parts(_ELLIPSIS.sub(" ", quote))
    return parts is None or not story.role or _same_words(parts.role, story.role)


def _coverage(quote: str, text: str) -> float:
    """Share of the quote's words found, in order, in ``text`` (a quote may skip words with "...")."""
    quoted, held = _words(quote), _words(text)
    matcher = SequenceMatcher(None, quoted, held, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(quoted) if quoted else 1.0


def _words(text: str) -> list[str]:
    return [_stem(w.lower()) for w in _WORD.findall(text)]


def _same_words(a: str, b: str) -> bool:
    ours, theirs = content_words(a), content_words(b)
    return all(any(same_stem(x.stem, y.stem) for y in theirs) for x in ours) and all(
        any(same_stem(y.stem, x.stem) for x in ours) for y in theirs
    )


def _cut_empty_openers(sentences: list[Sentence]) -> list[Sentence]:
    """Cut an opener ("The answer is:") that nothing follows, and a cut-off fragment that says nothing."""
    result = list(sentences)
    for i, s in enumerate(result):
        if s.cut or s.verdict != NO_CLAIM or s.cites or is_refusal(s.text):
            continue
        after = [t for t in result[i + 1:] if not t.cut]
        opener_left_empty = s.text.rstrip().endswith(":") and not any(t.cites or t.verdict != NO_CLAIM for t in _until_opener(after))
        fragment = not after and not s.text.rstrip().endswith((".", "!", "?"))
        if opener_left_empty or fragment:
            result[i] = replace(s, cut=EMPTY_OPENER)
    return result


def _until_opener(sentences: list[Sentence]) -> list[Sentence]:
    for i, s in enumerate(sentences):
        if s.text.rstrip().endswith(":") and s.verdict == NO_CLAIM and not s.cites:
            return sentences[:i]
    return sentences
