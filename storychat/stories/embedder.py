"""The embedder (the "reader of meaning"): a small static embedding model that says how alike two texts are.

WordLlama's l2_supercat model (256 dimensions, 16 MB) ships inside the
``wordllama`` wheel with its tokenizer. It is loaded from the package's own
folder with downloads off, so it never touches the network. A text's vector is
the mean of its tokens' vectors; two texts are alike as the cosine of theirs.

It judges similarity, not truth: "pay by credit card" and "do not pay by
credit card" are close to it, and so are "5 days" and "25 days". Negation and
numbers stay the word check's job (``answer/support.py``).

Story vectors are kept by content digest (in the library, through a
``VectorStore``), so each story is embedded once, when it is imported;
``Embedder.story_vectors`` is the one place that loads the kept ones, embeds
the missing ones and keeps those.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Protocol, Sequence

import numpy as np

from storychat.stories.model import Story

MODEL = "l2_supercat"
DIMENSIONS = 256
NAME = f"wordllama {MODEL} {DIMENSIONS}"
MODES = ("on", "off")


class VectorStore(Protocol):
    """Where story vectors are kept between runs: the library."""

    def load_vectors(self, embedder: str, digests: Sequence[str]) -> Mapping[str, np.ndarray]: ...

    def save_vectors(self, embedder: str, vectors: Mapping[str, np.ndarray]) -> None: ...


def story_text(story: Story) -> str:
    """What a story's vector is made of: its text, description and acceptance criteria. A title beside a story's
    text restates it, and shifted close pairs in the leave backlog's ranking ("hand over approvals" went to a
    reminder story); comments are talk about the item, not the item."""
    return " ".join(part for part in (story.text, story.description, *story.acceptance) if part)


@dataclass(frozen=True)
class Embedder:
    """Embeds texts as unit vectors; ``store`` keeps the vectors of stories."""

    name: str
    model: object  # wordllama.WordLlamaInference
    store: VectorStore | None = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length float32 row per text (a text without tokens is all zeros)."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        # WordLlama pads each batch to its longest text: texts of like length batched together waste no work
        # on padding, and padding never changes a mean over the real tokens.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        vectors[order] = self.model.embed([texts[i] for i in order], norm=False)
        lengths = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.divide(vectors, lengths, out=np.zeros_like(vectors), where=lengths > 0)

    def similarity(self, a: str, b: str) -> float:
        first, second = self.embed([a, b])
        return float(first @ second)

    def story_vectors(self, stories: Sequence[Story]) -> np.ndarray:
        """The stories' vectors, in order: from the store where it has them, embedded (and kept) where not."""
        digests = [s.digest for s in stories]
        known = dict(self.store.load_vectors(self.name, digests)) if self.store else {}
        missing = {s.digest: s for s in stories if s.digest not in known}
        if missing:
            fresh = dict(zip(missing, self.embed([story_text(s) for s in missing.values()])))
            if self.store:
                self.store.save_vectors(self.name, fresh)
            known.update(fresh)
        if not stories:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([known[d] for d in digests])

    def kept_in(self, store: VectorStore) -> "Embedder":
        return replace(self, store=store)


def load_embedder(mode: str = "on") -> Embedder | None:
    """The embedder for ``--meaning on|off``; None when off."""
    if mode not in MODES:
        raise ValueError(f"--meaning {mode}: choose on or off")
    return _bundled_embedder() if mode == "on" else None


@lru_cache(maxsize=1)
def _bundled_embedder() -> Embedder:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # wordllama calls logging.basicConfig(level=INFO) on import, which would turn on
    # every library's INFO log in this process; put the root logger back as it was.
    import wordllama
    from wordllama import WordLlama

    root.handlers[:], root.level = handlers, level
    model = WordLlama.load(config=MODEL, dim=DIMENSIONS, cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    return Embedder(NAME, model)
