"""Evaluations: needle in a haystack, the QA sets, the support check's labels, exhaustive questions.

They measure against stories; by default the 22 public
backlogs of Dalpiaz's user-story data set, shipped in ``data/dalpiaz-22``
(CC BY 4.0, see ``data/README.md``), or the folder in ``$STORYCHAT_DALPIAZ``.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from storychat.stories import Story
from storychat.stories.formats import read_file

DALPIAZ_ENV = "STORYCHAT_DALPIAZ"


DALPIAZ = Path(__file__).resolve().parent / "data" / "dalpiaz-22"


def dalpiaz_dir() -> Path:
    return Path(os.environ.get(DALPIAZ_ENV) or DALPIAZ)


def dalpiaz_stories(folder: Path | None = None) -> list[Story]:
    """The 22 backlogs in file-name order, notes left out."""
    folder = folder or dalpiaz_dir()
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise FileNotFoundError(
            f"the Dalpiaz backlogs are not in {folder}; set {DALPIAZ_ENV} to their folder, "
            "or choose the stories with --collection NAME or --stories FILE"
        )
    return [s for f in files for s in read_file(f).stories if not s.is_note]


GPT2SP = Path(__file__).resolve().parent / "data" / "gpt2sp"


def gpt2sp_titles(*names: str) -> list[Story]:
    """The work items of the shipped GPT2SP projects ``names`` (``titanium.csv``, ...), each title a story, in file order."""
    stories = []
    for name in names:
        with open(GPT2SP / name, newline="", encoding="utf-8") as f:
            for n, record in enumerate(csv.DictReader(f), start=1):
                stories.append(Story(id=record["issuekey"], text=record["title"], source=name, line=n, kind="story"))
    return stories
