"""Trackers' markup in descriptions and comments as plain, readable text, and the acceptance criteria inside it."""

import re

from storychat.stories.markup.adf import from_adf
from storychat.stories.markup.criteria import criteria_in
from storychat.stories.markup.htmltext import from_html
from storychat.stories.markup.jira import from_jira

__all__ = ["criteria_in", "from_adf", "from_html", "from_jira", "readable"]

# Azure DevOps exports descriptions and criteria as HTML; Jira as its wiki markup (plain text reads the same).
_HTML = re.compile(r"<(div|p|br|ul|ol|li|b|strong|i|em|a|table|pre|code|span|h[1-6])\b[^>]*>", re.I)


def readable(text: str) -> str:
    """A description, criterion or comment as plain text, whichever markup a tracker wrote it in."""
    return from_html(text) if _HTML.search(text) else from_jira(text)
