"""The documented API and the MCP tools, on a real app process."""

import asyncio
import json
import subprocess
import sys
import time

import pytest
from gradio_client import Client, handle_file

from tests.helpers import DATA, ROOT, assert_contract, week_later
from tests.serving import running_app
from storychat.stories.formats import read_file
from storychat.stories.library import Library

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
def data(tmp_path_factory):
    """The app's data directory; its server.log is what the app printed."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def app(data, dalpiaz):
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


def over_mcp(url: str, calls):
    """What ``calls(session)`` returns, run in a real MCP client session with the app over streamable HTTP."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def session():
        async with streamable_http_client(url + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as s:
                await s.initialize()
                return await calls(s)

    return asyncio.run(asyncio.wait_for(session(), timeout=300))


def listed_tools(url: str) -> dict:
    async def calls(s):
        return {t.name: t for t in (await s.list_tools()).tools}

    return over_mcp(url, calls)


def called_tools(url: str, arguments: dict[str, dict]) -> dict:
    """Each tool's result for its arguments; the client checks structuredContent against the tool's outputSchema."""

    async def calls(s):
        await s.list_tools()
        return {name: await s.call_tool(name, args) for name, args in arguments.items()}

    return over_mcp(url, calls)


def test_every_mcp_tool_answers_in_json_that_its_output_schema_describes(app):
    url, stories = app
    results = called_tools(url, {
        "ask_stories": {"question": "Can the moderator export a game transcript?", "collection": "poker"},
        "search_stories": {"query": "timer", "collection": "poker"},
        "changed_stories": {"collection": "poker"},
    })
    values = {}
    for name, result in results.items():
        assert not result.isError, result.content
        [content] = result.content
        values[name] = json.loads(content.text)
        assert result.structuredContent == (values[name] if name == "ask_stories" else {"result": values[name]})
    assert_contract(values["ask_stories"], stories)
    assert "g13-planningpoker-38" in [hit["id"] for hit in values["search_stories"]]
    assert {change["kind"] for change in values["changed_stories"]} == {"added"}


def test_the_mcp_tools_take_typed_arguments_and_declare_object_results(app):
    url, _ = app
    tools = listed_tools(url)
    assert set(tools) == {"ask_stories", "search_stories", "changed_stories"}
    assert tools["ask_stories"].inputSchema["properties"]["exhaustive"]["type"] == "boolean"
    for name in ("ask_stories", "search_stories"):
        assert {"type": "array", "items": {"type": "string"}} in tools[name].inputSchema["properties"]["filters"]["oneOf"]
    assert {tool.outputSchema["type"] for tool in tools.values()} == {"object"}


def test_each_tool_description_names_every_field_of_its_result_in_whole_lines(app):
    """Gradio joins the docstring's lines after "Returns:" with ", ": each must be one whole field."""
    url, _ = app
    for tool in listed_tools(url).values():
        fields = tool.outputSchema["properties"]
        if list(fields) == ["result"]:
            fields = fields["result"]["items"]["properties"]
        described = tool.description.split(" Returns: ", 1)[1].split(", ")
        assert [piece.split(": ", 1)[0] for piece in described] == list(fields), tool.name
        assert all(len(piece.split(": ", 1)) == 2 for piece in described), tool.name


UNKNOWN_READS = {
    "/ask_stories": ("Anything?", "levae"),
    "/search_stories": ("leave", "levae"),
    "/changed_stories": ("levae", ""),
}


def test_a_read_of_an_unknown_collection_is_an_error_naming_the_known_ones_and_creates_nothing(app, data):
    url, _ = app
    client = Client(url, verbose=False)
    for api_name, args in UNKNOWN_READS.items():
        with pytest.raises(Exception, match=r"No collection named 'levae'; known: .*poker") as raised:
            client.predict(*args, api_name=api_name)
        assert str(raised.value).count("levae") == 1, str(raised.value)
    results = called_tools(url, {
        "ask_stories": {"question": "Anything?", "collection": "levae"},
        "search_stories": {"query": "leave", "collection": "levae"},
        "changed_stories": {"collection": "levae"},
    })
    for result in results.values():
        assert result.isError
        assert "No collection named 'levae'; known: " in result.content[0].text
        assert result.content[0].text.count("levae") == 1
    assert "levae" not in {c.name for c in Library(data).collections()}


def test_an_api_mistake_is_one_line_in_the_server_log_as_in_the_ui(app, data):
    url, _ = app
    log = data / "server.log"
    before = len(log.read_text())
    with pytest.raises(Exception, match="YYYY-MM-DD"):
        Client(url, verbose=False).predict("poker", "soon", api_name="/changed_stories")
    assert called_tools(url, {"search_stories": {"query": "timer", "collection": "levae"}})["search_stories"].isError
    printed = log.read_text()[before:]
    mistakes = [line for line in printed.splitlines() if line.startswith("user mistake: ")]
    assert len(mistakes) == 2 and "YYYY-MM-DD" in mistakes[0] and "No collection named 'levae'" in mistakes[1], printed
    assert "Traceback" not in printed, printed


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


# --- filters (issue 32) --------------------------------------------------------------------

JIRA = DATA / "jira-all-fields.csv"  # BILL-41 In Progress, 42 Done, 43 and 44 To Do
TO_DO = ["status=To Do"]
REMINDER = "When do customers get a reminder about an overdue invoice?"


@pytest.fixture(scope="module")
def bill(app):
    """The Jira export with every field, uploaded as collection "bill"; its To Do items."""
    url, _ = app
    Client(url, verbose=False).predict([handle_file(str(JIRA))], "bill", api_name="/upload_stories")
    return [s for s in read_file(JIRA).stories if s.fields.status == "To Do"]


def test_search_stories_with_filters_finds_only_the_items_they_keep(app, bill):
    url, _ = app
    client = Client(url, verbose=False)
    assert {hit["id"] for hit in client.predict("invoice", "bill", TO_DO, api_name="/search_stories")} == {"BILL-43", "BILL-44"}
    assert {hit["id"] for hit in client.predict("invoice", "bill", api_name="/search_stories")} >= {"BILL-41", "BILL-42"}


def test_ask_stories_with_filters_answers_from_the_items_they_keep_and_names_them(app, bill):
    url, _ = app
    payload = Client(url, verbose=False).predict(REMINDER, "bill", False, TO_DO, api_name="/ask_stories")
    assert_contract(payload, bill)
    assert payload["scope"] == {"filters": ["status=To Do"], "kept": 2, "total": 4, "line": "2 of 4 stories: status To Do"}
    assert {c["id"] for c in payload["citations"] if c["valid"]} <= {"BILL-43", "BILL-44"}


def test_filters_that_keep_nothing_are_answered_so_without_the_model(app, bill):
    url, _ = app
    payload = Client(url, verbose=False).predict("Anything open?", "bill", False, ["status=Open", "label=payments"], api_name="/ask_stories")
    assert payload["answer"] == "No story has status Open and label payments; 4 stories in the collection."
    assert payload["refused"] and payload["timings"]["completion_tokens"] == 0 and payload["scope"]["kept"] == 0


def test_the_mcp_tools_take_filters_and_a_bad_one_is_an_error_that_says_how_to_write_it(app, bill):
    url, _ = app
    results = called_tools(url, {
        "ask_stories": {"question": REMINDER, "collection": "bill", "filters": TO_DO},
        "search_stories": {"query": "invoice", "collection": "bill", "filters": TO_DO},
    })
    assert not any(result.isError for result in results.values()), results
    assert_contract(results["ask_stories"].structuredContent, bill)
    assert results["ask_stories"].structuredContent["scope"]["line"] == "2 of 4 stories: status To Do"
    assert {hit["id"] for hit in results["search_stories"].structuredContent["result"]} == {"BILL-43", "BILL-44"}
    wrong = called_tools(url, {"search_stories": {"query": "invoice", "collection": "bill", "filters": ["colour=red"]}})["search_stories"]
    assert wrong.isError and "Unknown filter field 'colour'. Use one of: type, status," in wrong.content[0].text
    with pytest.raises(Exception, match="Write a filter as field=value"):
        Client(url, verbose=False).predict("invoice", "bill", ["status Open"], api_name="/search_stories")
