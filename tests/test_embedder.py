"""The reader of meaning: bundled, offline, kept in the library, and what it can and cannot tell."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from storychat.stories.embedder import NAME, load_embedder, story_text
from storychat.stories.formats import read_file, read_text
from storychat.stories.library import DATABASE_NAME, Library
from storychat.stories.migrations import MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent
MADE_BY_6B5F3C6 = ROOT / "tests" / "data" / "library-6b5f3c6.sqlite3"
# What its stories table holds; later migrations may add columns.
SCHEMA_2_COLUMNS = "pk, collection_id, story_id, text, source, line, role, goal, benefit, acceptance, epic, kind, digest"

NO_NETWORK = """
import sys
def no_network(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto"):
        raise OSError(f"network use ({event}) in a process that allows none")
sys.addaudithook(no_network)
from storychat.stories.embedder import load_embedder
embedder = load_embedder()
vector = embedder.embed(["As a customer, I want to pay by credit card"])[0]
print(embedder.name, vector.shape[0], round(float(vector @ vector), 3))
"""


def test_the_embedder_loads_and_embeds_with_every_socket_blocked():
    done = subprocess.run([sys.executable, "-c", NO_NETWORK], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [*NAME.split(), "256", "1.0"]


def test_loading_the_embedder_leaves_the_logging_of_the_process_as_it_was():
    script = (
        "import logging; from storychat.stories.embedder import load_embedder; load_embedder();"
        "root = logging.getLogger(); print(len(root.handlers), root.level)"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", str(30)]  # no handler added, WARNING as Python starts


def test_meaning_off_means_no_reader_and_a_bad_mode_says_what_to_give():
    assert load_embedder("off") is None
    with pytest.raises(ValueError, match="choose on or off"):
        load_embedder("maybe")


def test_a_paraphrase_is_closer_than_an_invention(embedder):
    story = "As a customer, I want to pay by credit card, so that I can complete my order online."
    assert embedder.similarity("Customers can pay by credit card", story) > 0.6
    assert embedder.similarity("Yes, you can pay with PayPal", story) < 0.3


def test_vectors_are_unit_length_and_an_empty_text_is_zero(embedder):
    vectors = embedder.embed(["As a user, I want to log in", ""])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 256)
    assert np.isclose(np.linalg.norm(vectors[0]), 1.0) and not vectors[1].any()


# --- story vectors in the library ----------------------------------------------------------------


def test_a_text_embeds_the_same_alone_as_in_a_batch_of_texts_of_other_lengths(embedder):
    texts = ["Crash on start " * 200, "Export a game", "As a moderator, I want to invite estimators by email"]
    together = embedder.embed(texts)
    assert np.allclose(together, np.stack([embedder.embed([text])[0] for text in texts]), atol=1e-6)


def test_a_library_made_by_6b5f3c6_gets_a_vector_for_every_story_and_loses_nothing(tmp_path, embedder):
    shutil.copy(MADE_BY_6B5F3C6, tmp_path / DATABASE_NAME)
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        before = db.execute(f"SELECT {SCHEMA_2_COLUMNS} FROM stories ORDER BY pk").fetchall()
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2

    library = Library(tmp_path)

    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute(f"SELECT {SCHEMA_2_COLUMNS} FROM stories ORDER BY pk").fetchall() == before
        kept = db.execute("SELECT reader, COUNT(*) FROM story_vectors GROUP BY reader").fetchall()
    stories = [s for c in ("leave", "bookshop", "my-stories") for s in library.stories(c) if not s.is_note]
    assert kept == [(NAME, len({s.digest for s in stories}))] == [(NAME, 45)]
    held = library.load_vectors(NAME, [s.digest for s in stories])
    assert np.allclose(np.stack([held[s.digest] for s in stories]), embedder.embed([story_text(s) for s in stories]), atol=1e-6)


def test_an_import_embeds_its_new_stories_once_and_the_reader_reads_them_back(tmp_path, embedder):
    library = Library(tmp_path, embedder)
    library.add("leave", read_file(ROOT / "tests" / "data" / "leave.csv"))
    stories = library.stories("leave")
    held = library.load_vectors(NAME, [s.digest for s in stories])
    assert len(held) == 30
    calls = []
    kept = library.embedder
    counting = type(kept)(kept.name, kept.model, _Counting(library, calls))
    assert np.allclose(counting.story_vectors(stories), embedder.embed([story_text(s) for s in stories]), atol=1e-6)
    assert calls == []  # nothing embedded again: every vector came from the library


def test_an_import_with_meaning_off_embeds_nothing_and_the_first_question_fills_in(tmp_path, embedder):
    Library(tmp_path).add("leave", read_file(ROOT / "tests" / "data" / "leave.csv"))
    library = Library(tmp_path)
    stories = library.stories("leave")
    assert library.load_vectors(NAME, [s.digest for s in stories]) == {}
    embedder.kept_in(library).story_vectors(stories)
    assert len(library.load_vectors(NAME, [s.digest for s in stories])) == 30


def test_removing_stories_forgets_their_vectors(tmp_path, embedder):
    library = Library(tmp_path, embedder)
    library.add("a", read_text("As a user, I want to log in\n\nAs a user, I want to log out", "paste"))
    library.add("b", read_text("As a user, I want to log in", "paste"))
    library.delete_story("a", "paste-3")
    library.clear("b")
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        digests = [d for (d,) in db.execute("SELECT digest FROM story_vectors")]
    assert digests == [s.digest for s in library.stories("a")]


class _Counting:
    """The library as a vector store, counting what is saved into it."""

    def __init__(self, library: Library, saved: list):
        self.library, self.saved = library, saved

    def load_vectors(self, name, digests):
        return self.library.load_vectors(name, digests)

    def save_vectors(self, name, vectors):
        self.saved.append(len(vectors))
        self.library.save_vectors(name, vectors)
