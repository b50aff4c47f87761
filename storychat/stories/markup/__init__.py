"""Trackers' markup in descriptions and comments as plain, readable text, and the acceptance criteria inside it."""

from storychat.stories.markup.adf import from_adf
from storychat.stories.markup.criteria import criteria_in
from storychat.stories.markup.htmltext import from_html
from storychat.stories.markup.jira import from_jira

__all__ = ["criteria_in", "from_adf", "from_html", "from_jira"]
