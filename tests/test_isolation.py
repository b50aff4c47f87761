"""Two people on one server: the library is shared, conversations are not."""

import pytest
from gradio_client import Client

from tests.serving import cited_ids, running_app, valid_ids

pytestmark = pytest.mark.model

POKER = """\
POKER-1: As a moderator, I want to create a new game by entering a name, so that I can start inviting estimators.
POKER-2: As an estimator, I want to see the item we are estimating, so that I know what I am giving an estimate for.
POKER-3: As a moderator, I want to export a transcript of a game as a CSV file, so that I can process the estimates further.
"""
RECYCLING = """\
BIN-1: As a resident, I want to find the nearest recycling center, so that I can drop off my batteries.
BIN-2: As a resident, I want to see which plastics are accepted, so that I sort my waste correctly.
BIN-3: As an administrator, I want to update the opening hours of a recycling center, so that residents do not arrive at a closed gate.
"""


def ids(paste: str) -> set[str]:
    return {line.split(":")[0] for line in paste.splitlines()}


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("isolation"), "-n", "24") as url:
        yield url


def test_sessions_asking_at_once_each_cite_only_their_own_collection(app_url):
    alice, bob = Client(app_url, verbose=False), Client(app_url, verbose=False)
    alice.predict(POKER, "poker", api_name="/add_stories")
    bob.predict(RECYCLING, "recycling", api_name="/add_stories")
    asked = [
        (alice.submit("Who exports a transcript of the game?", [], "poker", False, api_name="/ask"), ids(POKER), "poker"),
        (bob.submit("Where can residents drop off batteries?", [], "recycling", False, api_name="/ask"), ids(RECYCLING), "recycling"),
    ]
    for job, own, collection in asked:
        chat, coverage, status = job.result(timeout=300)
        assert valid_ids(chat) and cited_ids(chat) <= own, (collection, chat)
        assert f"collection **{collection}**" in status


def test_the_library_is_shared_between_sessions(app_url):
    alice, bob = Client(app_url, verbose=False), Client(app_url, verbose=False)
    alice.predict(POKER, "team-backlog", api_name="/add_stories")
    report, table, *_ = bob.predict(RECYCLING.splitlines()[0], "team-backlog", api_name="/add_stories")
    assert report.startswith("Added 1 stories")
    assert {row[0] for row in table["data"]} == ids(POKER) | {"BIN-1"}
    chat, *_ = bob.predict("Who creates a new game?", [], "team-backlog", False, api_name="/ask")
    assert valid_ids(chat) <= ids(POKER) and valid_ids(chat)


def test_one_sessions_conversation_does_not_judge_anothers_question(app_url):
    alice, bob = Client(app_url, verbose=False), Client(app_url, verbose=False)
    alice.predict(POKER, "conversation", api_name="/add_stories")
    alice.predict("What does the moderator want to export?", [], "conversation", False, api_name="/ask")
    follow_up = "Who asked for that, and why?"
    _, alice_follow_up, _ = alice.predict(follow_up, [], "conversation", False, api_name="/ask")
    _, bob_first, _ = bob.predict(follow_up, [], "conversation", False, api_name="/ask")
    # Alice's follow-up is judged with her turn before it and goes to the model; Bob has no turn before it: the gate refuses.
    assert "no model call" not in alice_follow_up and "no model call" in bob_first, (alice_follow_up, bob_first)
