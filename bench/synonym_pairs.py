"""Does a word-level source tell synonyms from neighbours and opposites? WordLlama's cosine against WordNet.

    python bench/synonym_pairs.py

20 pairs of each kind, as a 7-8B model's paraphrase of a backlog story brings them:
synonyms (a word a story could say instead), related words that mean something else,
and antonyms. The first measurement (issue 33, branch h-checks) did not keep its pairs;
these are rebuilt around the ones docs/evaluation.md names (remaining/left, swap/trade,
holiday/leave, SSO/single sign-on, remaining/used, buy/sell, open/close, lock/unlock,
can/cannot ...). A source separates them when it accepts many synonyms and no related
pair and no antonym. Printed: WordLlama's cosine at thresholds, and WordNet's shared
synset within the first N senses of one of the two words (``answer/synonyms.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storychat.answer.synonyms import wordnet
from storychat.stories.embedder import load_embedder

SYNONYMS = (
    ("remaining", "left"), ("swap", "trade"), ("holiday", "leave"), ("SSO", "single sign-on"), ("fails", "failing"),
    ("took", "taken"), ("begin", "start"), ("buy", "purchase"), ("big", "large"), ("delete", "remove"),
    ("reach", "achieve"), ("check", "see"), ("alert", "warning"), ("revise", "change"), ("staff", "employees"),
    ("pills", "medicine"), ("cancel", "call off"), ("quick", "fast"), ("show", "display"), ("request", "ask for"),
)
RELATED = (
    ("remaining", "used"), ("buy", "sell"), ("manager", "employee"), ("day", "week"), ("approve", "submit"),
    ("password", "username"), ("email", "phone"), ("month", "year"), ("edit", "view"), ("admin", "user"),
    ("invoice", "receipt"), ("doctor", "nurse"), ("spreadsheet", "report"), ("heating", "lights"), ("game", "sport"),
    ("team", "department"), ("request", "approval"), ("balance", "allowance"), ("fax", "email"), ("holiday", "sick"),
)
ANTONYMS = (
    ("open", "close"), ("lock", "unlock"), ("can", "cannot"), ("accept", "reject"), ("allow", "deny"),
    ("include", "exclude"), ("enable", "disable"), ("start", "stop"), ("add", "remove"), ("increase", "decrease"),
    ("show", "hide"), ("public", "private"), ("before", "after"), ("maximum", "minimum"), ("online", "offline"),
    ("full", "empty"), ("first", "last"), ("success", "failure"), ("import", "export"), ("upload", "download"),
)
KINDS = (("synonyms", SYNONYMS), ("related", RELATED), ("antonyms", ANTONYMS))


def main() -> int:
    embedder = load_embedder("on")
    print("WordLlama cosine (Embedder.similarity): pairs at or above each threshold")
    print(f"  {'threshold':>9}  " + "  ".join(f"{kind:>9}" for kind, _ in KINDS))
    cosines = {kind: [embedder.similarity(a, b) for a, b in pairs] for kind, pairs in KINDS}
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
        print(f"  {threshold:9.2f}  " + "  ".join(f"{sum(c >= threshold for c in cosines[kind]):>6}/20" for kind, _ in KINDS))
    for kind, _ in KINDS:
        values = cosines[kind]
        print(f"  {kind}: mean {sum(values) / len(values):.2f}, min {min(values):.2f}, max {max(values):.2f}")
    net = wordnet()
    print("WordNet: pairs sharing a synset within the first N senses of one of the two words (antonyms never do)")
    print(f"  {'senses':>9}  " + "  ".join(f"{kind:>9}" for kind, _ in KINDS))
    for senses in (1, 2, 3, 5, 8, 99):
        counts = [sum(net.synonyms(a, b, senses) for a, b in pairs) for _, pairs in KINDS]
        print(f"  {senses:9}  " + "  ".join(f"{n:>6}/20" for n in counts))
    for kind, pairs in KINDS:
        found = [f"{a}/{b}" for a, b in pairs if net.synonyms(a, b)]
        print(f"  {kind} at the shipped senses: {', '.join(found) or 'none'}")
    forms = [f"{a}/{b}" for a, b in SYNONYMS if net.synonyms(a, b) and net.same_word(a, b)]
    missed = [f"{a}/{b}" for a, b in SYNONYMS if not net.synonyms(a, b)]
    print(f"  of those synonyms, forms of one word (left to the word check): {', '.join(forms)}")
    print(f"  synonyms WordNet does not join: {', '.join(missed)}")
    linked = [f"{a}/{b}" for a, b in ANTONYMS if net.antonyms(a, b) or net.antonyms(b, a)]
    print(f"WordNet antonyms: {len(linked)}/20 linked as opposites: {', '.join(linked)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
