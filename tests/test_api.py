"""The documented API and the MCP tools, on a real app process."""

import asyncio
import subprocess
import sys
import time

import pytest
from gradio_client import Client, handle_file

from tests.helpers import DATA, ROOT, assert_contract, week_later
from tests.serving import running_app
from storychat.stories.formats import read_file

pytestmark = pytest.mark.model


def import_poker(data, dalpiaz):
    """Import the planning-poker backlog as collection "poker"; return its file."""
    backlog = dalpiaz / "g13-planningpoker.txt"
    subprocess.run(
        [sys.executable, "-m", "storychat", "import", str(backlog), "--collection", "poker", "--data-dir", str(data)],
        cwd=ROOT, check=True, capture_output=True,
    )
    return backlog


@pytest.fixture(scope="module")
def app(tmp_path_factory, dalpiaz):
    data = tmp_path_factory.mktemp("data")
    backlog = import_poker(data, dalpiaz)
    with running_app(data, "-n", "24", "--mcp") as url:
        yield url, read_file(backlog).stories


def test_the_documented_api_is_exactly_the_three_tools(app):
    url, _ = app
    endpoints = Client(url, verbose=False).view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) == {"/ask_stories", "/search_stories", "/changed_stories"}


def test_search_stories_returns_the_best_matching_stories(app):
    url, _ = app
    hits = Client(url, verbose=False).predict("export transcript", "poker", api_name="/search_stories")
    assert hits[0]["id"] in {"g13-planningpoker-18", "g13-planningpoker-19"}
    assert {"id", "text", "role", "goal", "source", "line", "score"} <= set(hits[0])


def test_ask_stories_returns_the_json_contract(app):
    url, stories = app
    payload = Client(url, verbose=False).predict("Can the moderator export a game transcript?", "poker", api_name="/ask_stories")
    assert_contract(payload, stories)


def test_ask_stories_with_exhaustive_reads_every_story_in_passes(app):
    url, stories = app
    payload = Client(url, verbose=False).predict("Which stories are about estimates?", "poker", True, api_name="/ask_stories")
    assert_contract(payload, stories)
    reading = payload["reading"]
    assert reading["stories"] == len([s for s in stories if not s.is_note]) and reading["passes"] >= 1
    assert reading["line"].startswith(f"read all {reading['stories']} stories in {reading['passes']} pass")
    assert payload["context"]["mode"] == "exhaustive"


def test_a_restarted_app_answers_a_collection_it_has_seen_from_the_disk_snapshot(tmp_path, dalpiaz):
    import_poker(tmp_path, dalpiaz)
    question = "Can the moderator export a game transcript?"
    with running_app(tmp_path, "-n", "8") as url:
        first = Client(url, verbose=False).predict(question, "poker", api_name="/ask_stories")["timings"]
        # The snapshot is written after the answer, in the background: stop the app once it is on disk.
        deadline = time.monotonic() + 120
        while not list((tmp_path / "kv-cache").glob("*.kv")) and time.monotonic() < deadline:
            time.sleep(0.2)
    with running_app(tmp_path, "-n", "8") as url:
        again = Client(url, verbose=False).predict(question, "poker", api_name="/ask_stories")["timings"]
    assert first["prefix_source"] == "cold" and first["prompt_evaluated"] == first["prompt_tokens"]
    assert again["prefix_source"] == "disk"
    # Only the question's own turn is computed after the restart; the stories come from the snapshot.
    assert again["prompt_evaluated"] < 0.1 * again["prompt_tokens"]


def test_ask_stories_on_an_unknown_collection_says_which_exist(app):
    url, _ = app
    with pytest.raises(Exception, match="poker"):
        Client(url, verbose=False).predict("Anything?", "nope", api_name="/ask_stories")


def test_mcp_lists_and_calls_the_tools(app):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    url, _ = app

    async def session():
        async with streamable_http_client(url + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as s:
                await s.initialize()
                tools = {t.name: t for t in (await s.list_tools()).tools}
                result = await s.call_tool("search_stories", {"query": "timer", "collection": "poker"})
                return tools, result

    tools, result = asyncio.run(asyncio.wait_for(session(), timeout=120))
    assert set(tools) == {"ask_stories", "search_stories", "changed_stories"}
    assert tools["ask_stories"].inputSchema["properties"]["exhaustive"]["type"] == "boolean"
    text = "".join(getattr(c, "text", "") for c in result.content)
    assert "g13-planningpoker-38" in text


def test_a_reupload_returns_the_change_report_and_changed_stories_lists_what_it_changed(app, tmp_path):
    url, _ = app
    client = Client(url, verbose=False)
    client.predict([handle_file(str(DATA / "leave.csv"))], "leave-api", api_name="/upload_stories")
    report = client.predict([handle_file(str(week_later(tmp_path)))], "leave-api", api_name="/upload_stories")[0]
    assert "leave.csv: 1 added, 2 changed (HR-102, HR-110), 27 unchanged, 1 gone from the file (HR-130;" in report
    changes = client.predict("leave-api", "", api_name="/changed_stories")
    assert [(c["kind"], c["story"]["id"]) for c in changes] == [("changed", "HR-102"), ("changed", "HR-110"), ("added", "HR-131")]
    assert "this year, so that I know" in changes[0]["previous"]["text"] and changes[0]["what_changed"][0].startswith("text: was “")
    with pytest.raises(Exception, match="YYYY-MM-DD"):
        client.predict("leave-api", "soon", api_name="/changed_stories")
