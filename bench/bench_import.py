"""Import speed: the 22 Dalpiaz backlogs, then a generated ~440k-word backlog.

    python bench/bench_import.py [--data DIR] [--words N]

Both go into a library in a temporary folder. The generated backlog recombines
the roles, goals and benefits of the Dalpiaz stories (fixed seed, so every
run imports the same file) under ids GEN-1, GEN-2, ...
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storychat.evals import dalpiaz_dir  # noqa: E402
from storychat.stories.formats import Limits, read_file  # noqa: E402
from storychat.stories.library import Library  # noqa: E402
from storychat.stories.parse import parse_parts  # noqa: E402

GENERATED_WORDS = 440_000
# The generated file is bigger than one upload may be by default.
BENCH_LIMITS = Limits(max_bytes=256 * 1024 * 1024, max_stories=1_000_000)


@dataclass
class Run:
    name: str
    stories: int
    words: int
    seconds: float

    def line(self) -> str:
        return (
            f"{self.name:<22} {self.stories:>7,} stories {self.words:>8,} words "
            f"{self.seconds:6.2f} s  {self.stories / self.seconds:>9,.0f} stories/s "
            f"{self.words / self.seconds:>10,.0f} words/s  peak RSS {peak_rss_mib():,.0f} MiB"
        )


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def import_files(library: Library, collection: str, paths: list[Path], name: str) -> Run:
    start = time.perf_counter()
    stories = words = 0
    for path in paths:
        batch = read_file(path, BENCH_LIMITS)
        library.add(collection, batch)
        stories += len(batch.stories)
        words += sum(len(story.text.split()) for story in batch.stories)
    return Run(name, stories, words, time.perf_counter() - start)


def write_generated_backlog(backlogs: list[Path], path: Path, words: int) -> None:
    parts = [
        parsed
        for backlog in backlogs
        for story in read_file(backlog).stories
        if (parsed := parse_parts(story.text))
    ]
    roles = [p.role for p in parts]
    goals = [p.goal for p in parts]
    benefits = [p.benefit for p in parts if p.benefit]
    rng = random.Random(440)
    lines, total = [], 0
    while total < words:
        text = f"As a {rng.choice(roles)}, I want {rng.choice(goals)}"
        if rng.random() < 0.6:
            text += f", so that {rng.choice(benefits)}"
        lines.append(f"GEN-{len(lines) + 1}: {text}.")
        total += len(text.split())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=dalpiaz_dir(), help="folder with the 22 Dalpiaz backlogs")
    parser.add_argument("--words", type=int, default=GENERATED_WORDS, help="size of the generated backlog")
    args = parser.parse_args()
    backlogs = sorted(args.data.glob("*.txt"))
    if len(backlogs) != 22:
        sys.exit(f"expected 22 backlogs in {args.data}, found {len(backlogs)}")

    with tempfile.TemporaryDirectory(prefix="storychat-bench-") as folder:
        library = Library(Path(folder) / "library")
        print(import_files(library, "dalpiaz", backlogs, "22 Dalpiaz backlogs").line())
        generated = Path(folder) / "generated.txt"
        write_generated_backlog(backlogs, generated, args.words)
        print(import_files(library, "generated", [generated], "generated backlog").line())


if __name__ == "__main__":
    main()
