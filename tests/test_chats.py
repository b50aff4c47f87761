"""The kept chats: turn by turn in the library's SQLite file, each owner's apart, and the migrations that add them and
make them keep records only."""

import json
import shutil
import sqlite3

from storychat.chats.store import LOCAL, Chats, title_of
from storychat.answer.citations import Citation
from storychat.answer.context import Coverage
from storychat.chats.conversation import ANSWER, QUICK_ACTION, STOPPED, Conversation, answered, as_record, quick_action, stopped
from storychat.answer.answer import Answer, Timings
from storychat.chats.transcript import to_json
from storychat.stories.library import DATABASE_NAME, Library
from storychat.stories.migrations import MIGRATIONS
from storychat.ui.render import turn_coverage, turn_messages
from tests.helpers import DATA, table_rows

MADE_BY_DED4A61 = DATA / "library-ded4a61.sqlite3"


def answer(text: str = "[HR-102] You see it on your profile.") -> Answer:
    return Answer(
        text, False, [Citation("HR-102", "leave.csv", 3, "As an employee, I want to see my balance.", True, verified=True)],
        Coverage(30, 30, 2000, 8192, "full"), Timings(0.4, 1.5, 2000, 10, 20), raw=text,
    )


def kept_chat(chats: Chats, owner: str = LOCAL, collection: str = "leave") -> Conversation:
    conversation = Conversation()
    for turn in [
        answered("Where do I see my balance?", answer()),
        stopped("Who approves?", "[HR-104] The man"),
        quick_action("Find duplicates: 0 pairs", "Nothing found."),
    ]:
        conversation = chats.keep(owner, collection, conversation.add(turn))
    return conversation


def test_a_kept_chat_opens_with_every_turn_as_it_was_kept_after_a_restart(tmp_path):
    conversation = kept_chat(Chats(Library(tmp_path)))
    chat, reopened = Chats(Library(tmp_path)).open(LOCAL, conversation.id)
    assert reopened == conversation
    assert (chat.title, chat.collection, chat.turns) == ("Where do I see my balance?", "leave", 3)
    first = reopened.turns[0]
    assert first.record == as_record(answer()) and reopened.turns[1].record == {"answer": "[HR-104] The man"}
    assert [c.verified for c in first.citations] == [True] and first.record["timings"]["total_s"] == 1.5
    assert to_json(reopened.turns, "leave") == to_json(conversation.turns, "leave")
    assert [m.content for m in reopened.history] == ["Where do I see my balance?", "[HR-102] You see it on your profile."]


def test_an_owner_lists_opens_renames_and_deletes_only_their_own_chats(tmp_path):
    chats = Chats(Library(tmp_path))
    alice, bob = kept_chat(chats, "alice"), kept_chat(chats, "bob")
    assert [c.id for c in chats.list("alice")] == [alice.id] and [c.id for c in chats.list("bob")] == [bob.id]
    assert chats.open("alice", bob.id) is None
    assert not chats.rename("alice", bob.id, "mine now") and not chats.delete("alice", bob.id)
    assert chats.open("bob", bob.id)[0].title == "Where do I see my balance?"
    # A turn added to another owner's chat starts the adder's own chat; the other's is untouched.
    taken = chats.keep("alice", "leave", bob.add(answered("And mine?", answer())))
    assert taken.id not in (alice.id, bob.id) and chats.open("bob", bob.id)[0].turns == 3
    assert chats.open("alice", taken.id)[0].title == "And mine?"


def test_a_turn_asked_in_another_collection_starts_a_chat_there(tmp_path):
    chats = Chats(Library(tmp_path))
    leave = kept_chat(chats)
    elsewhere = chats.keep(LOCAL, "bookshop", leave.add(answered("Can I pay with PayPal?", answer())))
    assert elsewhere.id != leave.id and chats.open(LOCAL, leave.id)[0].turns == 3
    chat, kept = chats.open(LOCAL, elsewhere.id)
    assert (chat.collection, chat.title, [t.question for t in kept.turns]) == ("bookshop", "Can I pay with PayPal?", ["Can I pay with PayPal?"])


def test_chats_are_listed_newest_first_and_a_collection_opens_its_latest(tmp_path):
    chats = Chats(Library(tmp_path))
    older, other, newer = kept_chat(chats), kept_chat(chats, collection="bookshop"), kept_chat(chats)
    assert [c.id for c in chats.list(LOCAL)] == [newer.id, other.id, older.id]
    assert chats.latest(LOCAL, "leave").id == newer.id and chats.latest(LOCAL, "bookshop").id == other.id
    chats.keep(LOCAL, "leave", older.add(answered("Again?", answer())))
    assert chats.latest(LOCAL, "leave").id == older.id and chats.latest(LOCAL, "none") is None


def test_a_renamed_chat_keeps_its_turns_and_a_deleted_one_takes_them_with_it(tmp_path):
    library = Library(tmp_path)
    chats = Chats(library)
    conversation = kept_chat(chats)
    assert chats.rename(LOCAL, conversation.id, "  Balance\nquestions ")
    assert chats.open(LOCAL, conversation.id)[0].title == "Balance questions"
    assert chats.delete(LOCAL, conversation.id) and chats.open(LOCAL, conversation.id) is None
    with library.connect() as db:
        assert db.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 0


def test_a_chat_outlives_its_collection(tmp_path):
    library = Library(tmp_path)
    chats = Chats(library)
    conversation = kept_chat(chats)
    library.clear("leave")
    assert chats.open(LOCAL, conversation.id)[1] == conversation


def test_a_title_is_the_first_question_on_one_line_and_cut_with_an_ellipsis():
    assert title_of("Which stories\n touch invoicing?") == "Which stories touch invoicing?"
    long = title_of("why " * 40)
    assert len(long) == 80 and long.endswith("…")


def test_a_library_made_by_ded4a61_gains_empty_chat_tables_and_keeps_its_stories(tmp_path):
    shutil.copy(MADE_BY_DED4A61, tmp_path / DATABASE_NAME)
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 4
        before = table_rows(db, ("stories", "story_history", "story_vectors"))
    library = Library(tmp_path)
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert table_rows(db, before, like=before) == before
    assert [(c.name, c.stories, c.notes) for c in library.collections()] == [("bookshop", 13, 0), ("leave", 30, 0), ("my-stories", 2, 1)]
    chats = Chats(library)
    assert chats.list(LOCAL) == []
    assert chats.open(LOCAL, kept_chat(chats).id)[0].turns == 3


MADE_BY_2495D14 = DATA / "library-2495d14.sqlite3"


def test_chats_kept_by_2495d14_open_with_their_records_and_render_as_they_were_shown(tmp_path):
    shutil.copy(MADE_BY_2495D14, tmp_path / DATABASE_NAME)
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 5
        before = table_rows(db, ("stories", "story_history", "story_vectors", "chats"))
        kept = db.execute("SELECT question, kind, record, shown, coverage FROM turns ORDER BY chat_id, position").fetchall()
    library = Library(tmp_path)
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert table_rows(db, before, like=before) == before
        assert [c[1] for c in db.execute("PRAGMA table_info(turns)")] == ["chat_id", "position", "question", "kind", "record", "at"]
    chats = Chats(library)
    [leave], [parcel] = chats.list(LOCAL), chats.list("alice")
    turns = chats.open(LOCAL, leave.id)[1].turns + chats.open("alice", parcel.id)[1].turns
    assert [(t.question, t.kind) for t in turns] == [(question, kind) for question, kind, *_ in kept]
    for turn, (_, kind, record, shown, coverage) in zip(turns, kept):
        shown = json.loads(shown)
        if kind == STOPPED:
            assert turn.record == json.loads(record) and turn_messages(turn)[0]["content"].startswith("[HR-105] As a line\n\n**⏹ Stopped")
            continue
        if kind == ANSWER:
            assert turn.record == json.loads(record)
        if shown:  # the chat renders the kept record as the chat showed it
            assert (turn_messages(turn), turn_coverage(turn)) == (shown, coverage)
    action = turns[1]
    assert action.kind == QUICK_ACTION and action.record["summary"]["answer"].startswith("[HR-104] As a manager")
