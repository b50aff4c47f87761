"""Answer profiles: how tightly the grammar holds the answer's opening, by model size.

A tiny model cites well only when the grammar makes it open with the id of the
best-matching story; that same grammar stops any model from choosing another
story or refusing. So models from ``OPEN_FROM`` parameters up get a grammar with
a refusal branch and every story in the context to choose from.
"""

from __future__ import annotations

from dataclasses import dataclass

AUTO, TINY, OPEN = "auto", "tiny", "open"
PROFILES = (AUTO, TINY, OPEN)
OPEN_FROM = 1_000_000_000  # parameters; the bundled SmolLM2 has 135M


@dataclass(frozen=True)
class Profile:
    name: str  # TINY or OPEN
    reason: str

    def sentence(self) -> str:
        return f"Answer profile: {self.name} ({self.reason})"


def choose(wanted: str, parameters: int | None) -> Profile:
    """The profile in force for ``wanted`` (auto, tiny or open) on a model of ``parameters``."""
    if wanted not in PROFILES:
        raise ValueError(f"--answer-profile must be one of {', '.join(PROFILES)}, not {wanted!r}")
    if wanted != AUTO:
        return Profile(wanted, "--answer-profile")
    if parameters is None:
        return Profile(TINY, "auto: the model's size is unknown, so the answer opens with the best match; --answer-profile open lets it choose or refuse")
    size = f"{parameters / 1e9:.1f}B" if parameters >= 1e9 else f"{parameters / 1e6:.0f}M"
    if parameters >= OPEN_FROM:
        return Profile(OPEN, f"auto: {size} parameters, at least {OPEN_FROM / 1e9:.0f}B: the answer opens with any story's id or refuses")
    return Profile(TINY, f"auto: {size} parameters, under {OPEN_FROM / 1e9:.0f}B: the answer opens with the best match's id")
