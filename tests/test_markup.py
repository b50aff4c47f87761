"""Trackers' markup as plain text: Jira wiki markup (also GPT2SP's folded exports), ADF, Azure DevOps HTML, and the
acceptance criteria inside a description. Real excerpts are quoted from the shipped GPT2SP files, by issue key."""

from __future__ import annotations

import csv
import random
import re
import time

from storychat.stories.markup import criteria_in, from_adf, from_html, from_jira
from tests.helpers import ROOT

GPT2SP = ROOT / "storychat" / "evals" / "data" / "gpt2sp"
FIVE = ("appceleratorstudio.csv", "duracloud.csv", "mulestudio.csv", "titanium.csv", "usergrid.csv")


def descriptions() -> list[str]:
    found = []
    for name in FIVE:
        with open(GPT2SP / name, encoding="utf-8", newline="") as file:
            found += [row["description"] for row in csv.DictReader(file)]
    return found


def outside_fences(text: str) -> list[str]:
    lines, inside = [], False
    for line in text.split("\n"):
        if line.startswith("```"):
            inside = not inside
        elif not inside:
            lines.append(line)
    return lines


def paragraph(*content: dict) -> dict:
    return {"type": "paragraph", "content": list(content)}


def text(words: str, *marks: dict) -> dict:
    return {"type": "text", "text": words, "marks": list(marks)}


def item(words: str) -> dict:
    return {"type": "listItem", "content": [paragraph(text(words))]}


def doc(*content: dict) -> dict:
    return {"type": "doc", "version": 1, "content": list(content)}


# Jira wiki markup


def test_code_blocks_become_fences_with_their_language_and_content_kept_verbatim():
    source = "Before\n{code:java}\nint *x* = a_b_c; // [not|a link] {{kept}}\n    indented();\n{code}\nAfter"
    assert from_jira(source) == "Before\n```java\nint *x* = a_b_c; // [not|a link] {{kept}}\n    indented();\n```\nAfter"


def test_code_block_parameters_give_the_language_and_a_title_above_the_fence():
    assert from_jira("{code:lang=javascript|title=app.js}\nvar w = 1;\n{code}") == "app.js\n```javascript\nvar w = 1;\n```"
    # TISTUD-1166
    assert from_jira("Step 4: Test the log levels with the the app.    {code:title=app.js}  var win = 1;  {code}").endswith(
        "app.js\n```\nvar win = 1;\n```"
    )


def test_noformat_becomes_a_plain_fence_and_may_hold_a_code_marker():
    assert from_jira("{noformat}\n*raw* {code}\n{noformat}") == "```\n*raw* {code}\n```"


def test_an_unclosed_code_block_runs_to_the_end_as_code():
    assert from_jira("See:\n{code}\nx = *1*") == "See:\n```\nx = *1*\n```"


def test_a_fence_is_longer_than_any_backticks_in_the_code():
    assert from_jira("{code}\n```\n{code}") == "````\n```\n````"


def test_an_html_macro_is_read_as_html():
    # TISTUD-25
    source = "{html}<div><p>Follow existing screens/workflow as appropriate. Launch wizard from right-click menu.</p></div>{html}"
    assert from_jira(source) == "Follow existing screens/workflow as appropriate. Launch wizard from right-click menu."


def test_quote_blocks_become_quoted_lines():
    assert from_jira("{quote}\nfirst\nsecond\n{quote}\nafter\nbq. one line") == "> first\n> second\nafter\n> one line"
    assert from_jira("{quote}said it{quote} then") == "> said it\nthen"


def test_headings_become_hash_headings():
    assert from_jira("h1. Title\nh3. Steps\nh6.Tight") == "# Title\n### Steps\n###### Tight"


def test_text_effects_lose_their_markers_and_keep_their_words():
    source = "*bold* _italic_ -struck- +under+ {{mono_name}} ^sup^ ~sub~ ??cite?? *_both_*"
    assert from_jira(source) == "bold italic struck under mono_name sup sub cite both"


def test_markers_inside_words_math_paths_and_arrows_stay():
    for source in ("my_file_name.js and __init__.py", "2*3*4 = 24", "C++ and a + b", "x->y and Edit->Undo", "~/.android and ~/x", "2013-05-10"):
        assert from_jira(source) == source


def test_urls_keep_their_underscores_and_stars():
    assert from_jira("see http://x.io/_a_/b*c* now") == "see http://x.io/_a_/b*c* now"


def test_escaped_markers_are_literal():
    # TISTUD-5919
    source = 'The workaround is to use "\\-\\-device\\-family" "ipad" flag'
    assert from_jira(source) == 'The workaround is to use "--device-family" "ipad" flag'


def test_links_users_and_anchors_become_readable_text():
    # TISTUD-3323
    assert from_jira("According to the [Alloy grammar|https://github.com/appcelerator/alloy], both") == (
        "According to the Alloy grammar (https://github.com/appcelerator/alloy), both"
    )
    assert from_jira("[http://a.io] by [~jhaynie], see [#setup] or [Docs|#setup]") == "http://a.io by jhaynie, see setup or Docs"


def test_brackets_that_are_not_links_stay():
    assert from_jira("[ERROR] failed at [1, 2]") == "[ERROR] failed at [1, 2]"


def test_lists_become_dash_and_numbered_items_with_indentation():
    assert from_jira("* a\n** b\n# one\n## sub\n## sub2\n# two\n- dash") == "- a\n  - b\n1. one\n  1. sub\n  2. sub2\n2. two\n- dash"


def test_tables_become_pipe_separated_rows():
    # TIMOB-17946
    source = "h6.3.5.0 CI  {quote}  |TISDK|NDK|Android SDK & Google APIs|SUCCESS|   |3.5.0.v20141028174916| r8d| 14 | No   {quote}"
    assert from_jira(source) == "###### 3.5.0 CI\n> TISDK | NDK | Android SDK & Google APIs | SUCCESS\n> 3.5.0.v20141028174916 | r8d | 14 | No"
    assert from_jira("||Head||Link||\n|cell|[docs|http://d.io]|") == "Head | Link\ncell | docs (http://d.io)"


def test_colour_and_panel_markers_go_and_a_panel_title_stays():
    source = "{color:red}Actual Result:{color} broken\n{panel:title=Error message|borderStyle=dashed}\nOpenGLRenderer failed\n{panel}"
    assert from_jira(source) == "Actual Result: broken\nError message\nOpenGLRenderer failed"


def test_images_become_image_placeholders():
    # TISTUD-7932
    assert from_jira("on that machines too.  !scr-1.png|thumbnail!  In the manifest") == "on that machines too. [image: scr-1.png] In the manifest"
    assert from_jira("!Screen Shot 2014-07-21 at 1.27.17 PM.png! Wow! Yes!") == "[image: Screen Shot 2014-07-21 at 1.27.17 PM.png] Wow! Yes!"


def test_a_double_backslash_breaks_the_line():
    assert from_jira("first\\\\second") == "first\nsecond"


def test_html_entities_are_unescaped_outside_code_only():
    assert from_jira("a &amp; b &lt;c&gt; &quot;d&quot;\n{code}\nx &amp; y\n{code}") == 'a & b <c> "d"\n```\nx &amp; y\n```'


# GPT2SP's descriptions, their newlines folded into runs of spaces


def test_a_folded_description_reads_as_headings_lists_and_paragraphs():
    # TISTUD-7616
    source = (
        "h3. Description  I created an application and I tried to enable the services    h3. Steps to reproduce  "
        "* Create a new Alloy Application  * Enable services      Log doesn't show anything"
    )
    assert from_jira(source) == (
        "### Description\nI created an application and I tried to enable the services\n\n"
        "### Steps to reproduce\n- Create a new Alloy Application\n- Enable services\n\nLog doesn't show anything"
    )


def test_folded_code_keeps_its_spaces():
    # TIMOB-684
    source = "{code}  // In Android, the border is not visible    var imageView = Titanium.UI.createImageView({      url: \"/path\"  });  {code}"
    assert from_jira(source) == (
        '```\n// In Android, the border is not visible    var imageView = Titanium.UI.createImageView({      url: "/path"  });\n```'
    )


def test_a_folded_numbered_step_starts_its_own_line_and_prose_spaces_close_up():
    # TISTUD-3421
    source = "h5. Steps to reproduce  1. Create a new project with CLI ($ ti create)   2. Once created, import it in Studio.  It works."
    assert from_jira(source) == "##### Steps to reproduce\n1. Create a new project with CLI ($ ti create)\n2. Once created, import it in Studio. It works."


def test_every_shipped_description_converts_fast_with_no_code_marker_outside_its_fences():
    texts = descriptions()
    started = time.perf_counter()
    plain = [from_jira(description) for description in texts]
    elapsed = time.perf_counter() - started
    marker = re.compile(r"\{(?:code|noformat)(?::[^}\n]*)?\}", re.I)
    assert len(texts) > 7000
    assert [line for result in plain for line in outside_fences(result) if marker.search(line)] == []
    assert elapsed < 20, f"{len(texts)} descriptions took {elapsed:.1f} s"


# Atlassian Document Format


def test_adf_blocks_become_headings_paragraphs_lists_and_fences():
    document = doc(
        {"type": "heading", "attrs": {"level": 2}, "content": [text("Goal")]},
        paragraph(text("As a "), text("user", {"type": "strong"}), {"type": "hardBreak"}, text("I want it")),
        {
            "type": "bulletList",
            "content": [
                {"type": "listItem", "content": [paragraph(text("one")), {"type": "orderedList", "content": [item("a")]}]},
                item("two"),
            ],
        },
        {"type": "codeBlock", "attrs": {"language": "python"}, "content": [text("x = 1\n  y")]},
        {"type": "blockquote", "content": [paragraph(text("said"))]},
    )
    assert from_adf(document) == "## Goal\n\nAs a user\nI want it\n\n- one\n  1. a\n- two\n\n```python\nx = 1\n  y\n```\n\n> said"


def test_adf_links_keep_their_address():
    def link(words, href):
        return text(words, {"type": "link", "attrs": {"href": href}})

    document = doc(paragraph(link("the docs", "https://d.io"), text(" and "), link("https://e.io", "https://e.io")))
    assert from_adf(document) == "the docs (https://d.io) and https://e.io"


def test_adf_mentions_emoji_cards_and_dates_become_text():
    document = doc(
        paragraph(
            {"type": "mention", "attrs": {"id": "5b10", "text": "@Ann"}},
            text(" "),
            {"type": "emoji", "attrs": {"shortName": ":smile:"}},
            text(" "),
            {"type": "inlineCard", "attrs": {"url": "https://j.io/browse/HR-1"}},
            text(" "),
            {"type": "date", "attrs": {"timestamp": "1700000000000"}},
        )
    )
    assert from_adf(document) == "@Ann :smile: https://j.io/browse/HR-1 2023-11-14"


def test_adf_tables_become_pipe_separated_rows():
    def row(kind, *cells):
        return {"type": "tableRow", "content": [{"type": kind, "content": [paragraph(text(cell))]} for cell in cells]}

    document = doc({"type": "table", "content": [row("tableHeader", "Role", "Days"), row("tableCell", "Manager", "25")]})
    assert from_adf(document) == "Role | Days\nManager | 25"


def test_adf_task_lists_become_checkboxes_that_are_criteria():
    items = [{"type": "taskItem", "attrs": {"state": state}, "content": [text(words)]} for state, words in (("DONE", "Log in"), ("TODO", "Log out"))]
    plain = from_adf(doc({"type": "taskList", "content": items}))
    assert plain == "- [x] Log in\n- [ ] Log out"
    assert criteria_in(plain) == ("Log in", "Log out")


def test_adf_unknown_node_types_keep_their_text():
    document = doc({"type": "futureMacro", "content": [paragraph(text("kept"))]}, paragraph({"type": "futureInline", "attrs": {"text": "also kept"}}))
    assert from_adf(document) == "kept\n\nalso kept"


def test_adf_deeply_nested_document_keeps_its_text():
    node = text("deep down")
    for depth in range(20_000):
        node = {"type": "blockquote" if depth % 2 else "bulletList", "content": [node]}
    assert from_adf(doc(node)).endswith("deep down")


def test_adf_malformed_nodes_are_skipped():
    broken = [None, 3, "loose text", {"type": "paragraph", "content": "not a list"}, {"type": "heading", "attrs": [1]}]
    document = {"type": "doc", "content": [*broken, paragraph(text("fine"))]}
    assert from_adf(document) == "loose text\n\nfine"
    assert from_adf(None) == ""


# Azure DevOps HTML


def test_html_blocks_and_breaks_become_lines():
    source = "<div>As a manager</div><div>I want to approve leave<br>quickly</div><p>So that</p><p>it is fast</p>"
    assert from_html(source) == "As a manager\nI want to approve leave\nquickly\n\nSo that\n\nit is fast"


def test_html_lists_become_items():
    source = "<ul><li>one</li><li>two<ol><li>a</li><li>b</li></ol></li></ul>"
    assert from_html(source) == "- one\n- two\n  1. a\n  2. b"


def test_html_links_become_text_and_address():
    assert from_html('<a href="https://d.io/x">the docs</a> and <a href="#top">top</a>') == "the docs (https://d.io/x) and top"
    # TISTUD-64: the link's text is its address, cut short
    source = '<a href= "http://developer.appcelerator.com/question/114521/error"> http://developer.appcelerator.com/question/1...</a>'
    assert from_html(source) == "http://developer.appcelerator.com/question/114521/error"


def test_html_scripts_and_styles_are_dropped():
    assert from_html("<style>p { color: red }</style><p>shown</p><script>alert('x')</script>") == "shown"


def test_html_preformatted_text_is_fenced_verbatim():
    assert from_html("<p>Run:</p><pre>x  =  1\n    y &lt; 2</pre>") == "Run:\n\n```\nx  =  1\n    y < 2\n```"


def test_html_tables_become_pipe_separated_rows():
    assert from_html("<table><tr><th>Role</th><th>Days</th></tr><tr><td>Manager</td><td>25</td></tr></table>") == "Role | Days\nManager | 25"


def test_html_entities_and_spaces_become_characters():
    assert from_html("<b>Tom</b>&nbsp;&amp;&nbsp;<i>Jerry</i>\n   &lt;3") == "Tom & Jerry <3"


def test_broken_html_keeps_its_text():
    assert from_html("<div><p>open <b>bold</i></li></table> text").split() == ["open", "bold", "text"]
    assert from_html("<![foo[ kept") == "<![foo[ kept"


# Acceptance criteria


def test_criteria_section_list_items_are_returned_without_markers():
    # STUDIO-2825
    plain = from_jira(
        "As a Studio developer, I want to see the generated query.    Acceptance Criteria:  * Salesforce SOQL expressions are displayed  "
        "* I can edit a SOQL expression"
    )
    assert criteria_in(plain) == ("Salesforce SOQL expressions are displayed", "I can edit a SOQL expression")


def test_criteria_listed_on_the_header_line_are_split_into_items():
    # STUDIO-3362
    plain = from_jira("Acceptance Criteria: * User can edit the native query * If native query is selected, then the edit query button is not available")
    assert criteria_in(plain) == ("User can edit the native query", "If native query is selected, then the edit query button is not available")


def test_criteria_section_may_be_lines_or_one_line_after_ac():
    plain = "Story.\n\n### Acceptance criteria\nThe user can log in\nThe user can log out\n\nLater prose."
    assert criteria_in(plain) == ("The user can log in", "The user can log out")
    assert criteria_in("AC: the report opens in under a second") == ("the report opens in under a second",)


def test_criteria_section_ends_at_a_heading_a_label_or_a_new_paragraph():
    assert criteria_in("Acceptance criteria:\n- a\n\n- b\n# Notes\n- not c") == ("a", "b")
    assert criteria_in("Acceptance criteria:\n1. a\n2. b\nTo test:\n1. not c") == ("a", "b")
    assert criteria_in("Acceptance criteria:\n- a\nNote: not a criterion") == ("a",)


def test_given_when_then_scenarios_are_criteria():
    plain = "Scenario: approve\nGiven a pending request\nWhen the manager approves it\nAnd saves\nThen the employee is notified\n\nMore."
    assert criteria_in(plain) == ("Given a pending request", "When the manager approves it", "And saves", "Then the employee is notified")
    assert criteria_in("Given a user, when they save, then it is stored.") == ("Given a user, when they save, then it is stored.",)


def test_prose_with_then_or_when_is_no_criterion():
    prose = "When I click save then the app crashes.\nThen I restart it.\nThe acceptance criteria are unclear, then we ask."
    assert criteria_in(prose) == ()


def test_checklist_items_are_criteria():
    plain = "- [ ] write docs\n* [x] ship it\n(/) Title shows (x) Old label is gone"
    assert criteria_in(plain) == ("write docs", "ship it", "Title shows", "Old label is gone")


def test_a_tables_status_marks_are_not_criteria():
    # TISTUD-7085
    plain = from_jira("|| || Sampes || SDK version ||  | (x) | Todo List - Alloy | Highest available |   | (/) | KitchenSink | 3.4.1 |")
    assert criteria_in(plain) == ()


def test_most_shipped_descriptions_state_no_criteria():
    stating = [description for description in descriptions() if criteria_in(from_jira(description))]
    assert 30 < len(stating) < 100


# Every converter


def test_every_result_is_tidy():
    results = [
        from_jira("a   \n\n\n\n* b  \n{code}\nx   \n\n\n\ny\n{code}\n\n"),
        from_html("<p>a&nbsp;</p><p></p><p></p><div>  b  </div>"),
        from_adf(doc(paragraph(text("a  ")), paragraph(), paragraph(), paragraph(text(" b")))),
    ]
    for result in results:
        assert result == result.strip()
        assert "\n\n\n" not in result and not re.search(r"[ \t\xa0]\n", result)


def test_random_markup_never_raises():
    pieces = [
        *"{}[]|!*_-+^~?#\\ \n:<>/&;=\"'ab",
        *("{code}", "{code:java}", "{noformat}", "{quote}", "{panel:title=x}", "{html}", "{{", "}}", "h2. ", "\\\\", "    ", "(/)", "- [ ] "),
        *("<![foo[", "<pre>", "</pre>", "<a href='x'>", "</a>", "<li>", "<ol>", "<td>", "&#", "<script>", "<!--"),
        *("Given ", "Then ", "Acceptance criteria:"),
    ]
    rng = random.Random(31)
    for _ in range(3000):
        source = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 120)))
        for convert in (from_jira, from_html, criteria_in):
            convert(source)
