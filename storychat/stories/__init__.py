"""Stories in: parsing, file formats and the SQLite library."""

from storychat.stories.model import Story

__all__ = ["Story"]
