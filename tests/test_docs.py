"""The README is a front page that leads to docs/; docs/cli.md documents every flag."""

import re
from pathlib import Path

from storychat.config import OPTIONS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
FRONT_PAGE_LINES = 100  # what a newcomer reads before following a link


def test_the_cli_page_documents_every_flag_and_its_environment_variable():
    missing = [o.flags[-1] for o in OPTIONS if f"`{o.flags[-1]}`" not in CLI or f"`{o.env}`" not in CLI]
    assert not missing, f"add these to the table in docs/cli.md (python -m storychat flags): {missing}"


def test_readme_names_the_two_commands():
    assert "make run" in README and "make test" in README


def test_the_readme_is_a_front_page_that_links_every_docs_page():
    assert len(README.splitlines()) <= FRONT_PAGE_LINES
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)", README))
    assert linked == {p.name for p in (ROOT / "docs").glob("*.md")}


def test_every_relative_link_in_the_docs_leads_to_a_file():
    broken = []
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.name}: {target}")
    assert not broken
