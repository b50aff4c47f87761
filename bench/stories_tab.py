"""The Stories tab of a 5,000-item backlog in Chromium, and the app's memory with it (issue 31, point 4).

    python bench/stories_tab.py [--runs 5]

Writes titanium.csv and appceleratorstudio.csv (storychat/evals/data/gpt2sp/) as one Jira-shaped CSV with
bench/backlog_scale.py's builder, and imports it with tests/data/jira-all-fields.csv (four items with the
statuses and the Bug the GPT2SP rows lack) into a fresh library, without meaning vectors: the tab reads none.
Then, each in its own real app process (``python app.py``, as the browser tests start it):

1. an empty library: the app's resident memory after start, and with its page open on the Stories tab;
2. the backlog's library: the same, once the collection is chosen and its first page shown; then, in Chromium,
   the time from each step a user takes to the rows it asked for being visible (the line under the table and
   the first row's id both right): choosing the collection (the whole tab refreshed; the first time after a
   start apart, and then until the summary's token counts arrive, which an event after the rows brings),
   opening the Stories tab from the Chat tab, Next, Previous, a search (from Enter), a status filter (from the
   click on its value).

Times: the fastest, the median and the slowest of --runs, each from the press of a key or a pointer to the
first frame showing the rows, taken in the page. Memory: VmRSS of the app's process (and VmHWM, its peak), from /proc.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.backlog_scale import jira_rows, write  # noqa: E402
from storychat.stories.formats import read_file  # noqa: E402
from storychat.stories.library import Library  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, loaded, on_tab  # noqa: E402
from tests.helpers import DATA  # noqa: E402
from tests.serving import running_app  # noqa: E402

COLLECTION = "backlog"
SEARCH = "comment directives"  # words of TISTUD-5279's description alone
# Times are taken in the page: from the user's press (of a key or a pointer) to the first frame that shows the page
# asked for, so Playwright's own waits before a click are not counted.
ASKED = """() => {
    window.asked = null;
    for (const kind of ['pointerdown', 'keydown'])
        document.addEventListener(kind, () => { window.asked ??= performance.now(); }, {capture: true, once: true});
}"""
# The page asked for is shown: the line under the table says so and the first row in view is the one expected.
SHOWN = """([place, id]) => {
    const line = document.querySelector('#stories-place');
    const cell = document.querySelector("#stories [role=gridcell][data-col='0']");
    const done = !!line && line.innerText.trim() === place && !!cell && cell.innerText.trim() === id && cell.getClientRects().length > 0;
    if (done) window.shownAt = performance.now();
    return done;
}"""

# The summary above the table has its model tokens counted, which an event after the rows does.
COUNTED = """() => {
    const done = (document.querySelector('#summary')?.innerText ?? '').includes('model tokens, in room for');
    if (done) window.countedAt = performance.now();
    return done;
}"""


def app_pid(data_dir: Path) -> int:
    """The process of ``python app.py ... --data-dir data_dir``."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"app.py" in args and str(data_dir).encode() in args:
                return int(entry.name)
    raise RuntimeError(f"no app process serves {data_dir}")


def memory_mib(pid: int) -> tuple[float, float]:
    """The process's resident memory now and at its peak (VmRSS, VmHWM), in MiB."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return tuple(int(status[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM"))


def shown(tab, place: str, first: str, timeout_ms: int = 120_000) -> None:
    tab.wait_for_function(SHOWN, arg=[place, first], polling="raf", timeout=timeout_ms)


def timed(act: Callable[[], None], tab, place: str, first: str) -> float:
    tab.evaluate(ASKED)
    act()
    shown(tab, place, first)
    return tab.evaluate("() => (window.shownAt - window.asked) / 1000")


def pick(tab, name: str, option: str) -> None:
    """Open the filter row's ``name`` dropdown; return with ``option`` clicked."""
    tab.locator(f"#filter-{name} input").click()
    tab.locator(f"#filter-{name}").get_by_role("option", name=option, exact=True).click()


def choose(tab, collection: str) -> None:
    tab.locator("#collection input").fill(collection)
    tab.locator("#collection input").press("Enter")


def empty_app(browser) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory() as folder, running_app(Path(folder)) as url:
        pid = app_pid(Path(folder))
        memory = {"after start": memory_mib(pid)}
        tab = browser.new_page(viewport=VIEWPORT)
        tab.goto(url)
        loaded(tab)
        on_tab(tab, "Stories")
        tab.locator("#stories-place").get_by_text("No items.").wait_for(timeout=60_000)
        memory["page open on the Stories tab"] = memory_mib(pid)
        tab.close()
    return memory


def backlog_app(browser, folder: Path, ids: list[str], total: int, runs: int) -> tuple[dict, dict[str, list[float]]]:
    first_page = f"Page 1 of {-(-total // 50)} · items 1–50 of {total:,}"
    second_page = f"Page 2 of {-(-total // 50)} · items 51–100 of {total:,}"
    found = f"Page 1 of 1 · items 1–1 of 1 matching {' '.join(f'“{w}”' for w in SEARCH.split())} (of {total:,})"
    to_do = f"Page 1 of 1 · items 1–2 of 2 matching status To Do (of {total:,})"
    times: dict[str, list[float]] = {}
    with running_app(folder) as url:
        pid = app_pid(folder)
        memory = {"after start": memory_mib(pid)}
        tab = browser.new_page(viewport=VIEWPORT)
        tab.goto(url)
        loaded(tab)
        on_tab(tab, "Stories")
        times["choose the collection, first time after start"] = [timed(lambda: choose(tab, COLLECTION), tab, first_page, ids[0])]
        tab.wait_for_function(COUNTED, polling="raf", timeout=300_000)
        times["its tokens counted (summary and cost), first time after start"] = [tab.evaluate("() => (window.countedAt - window.asked) / 1000")]
        memory["collection chosen, its first page shown and its tokens counted"] = memory_mib(pid)
        for _ in range(runs):
            choose(tab, "scratch")
            tab.locator("#stories-place").get_by_text("No items.").wait_for(timeout=60_000)
            times.setdefault("choose the collection", []).append(timed(lambda: choose(tab, COLLECTION), tab, first_page, ids[0]))
            on_tab(tab, "Chat")
            tab.locator("#stories-place").wait_for(state="hidden")
            times.setdefault("open the Stories tab", []).append(timed(lambda: on_tab(tab, "Stories"), tab, first_page, ids[0]))
            times.setdefault("Next", []).append(timed(lambda: tab.locator("#stories-next").click(), tab, second_page, ids[50]))
            times.setdefault("Previous", []).append(timed(lambda: tab.locator("#stories-previous").click(), tab, first_page, ids[0]))
            tab.locator("#story-search textarea").fill(SEARCH)
            times.setdefault("search", []).append(timed(lambda: tab.locator("#story-search textarea").press("Enter"), tab, found, "TISTUD-5279"))
            tab.locator("#story-search textarea").fill("")
            tab.locator("#story-search textarea").press("Enter")
            shown(tab, first_page, ids[0])
            tab.locator("#filter-status input").click()
            option = tab.locator("#filter-status").get_by_role("option", name="To Do (2)", exact=True)
            times.setdefault("status filter", []).append(timed(option.click, tab, to_do, "BILL-43"))
            pick(tab, "status", "any")
            shown(tab, first_page, ids[0])
        memory["after the timed steps"] = memory_mib(pid)
        tab.close()
    return memory, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rows = jira_rows()
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        folder = Path(folder)
        library = Library(folder)
        library.add(COLLECTION, read_file(write(folder / "backlog.csv", rows)))
        library.add(COLLECTION, read_file(DATA / "jira-all-fields.csv"))
        total = len(library.shelf(COLLECTION).stories)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        empty = empty_app(browser)
        loaded_memory, times = backlog_app(browser, folder, [row[1] for row in rows], total, args.runs)
        browser.close()
    print(f"{total:,} items; {args.runs} runs; load average {os.getloadavg()[0]:.1f} at the end")
    print("| step | fastest s | median s | slowest s |\n|---|---:|---:|---:|")
    for step, seconds in times.items():
        print(f"| {step} | {min(seconds):.2f} | {statistics.median(seconds):.2f} | {max(seconds):.2f} |")
    print("\n| app | moment | resident MiB | peak MiB |\n|---|---|---:|---:|")
    for name, memory in (("empty library", empty), (f"{total:,} items", loaded_memory)):
        for moment, (rss, peak) in memory.items():
            print(f"| {name} | {moment} | {rss:.0f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
