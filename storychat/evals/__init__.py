"""Evaluations: needle in a haystack, the QA sets, the support check's labels, exhaustive questions.

They measure against stories; by default the 22 public
backlogs of Dalpiaz's user-story data set, shipped in ``data/dalpiaz-22``
(CC BY 4.0, see ``data/README.md``), or the folder in ``$STORYCHAT_DALPIAZ``.
"""

from __future__ import annotations

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
