"""What the layout knows about a song besides Whisper's words: one record, built once.

The pipeline measures these from the audio (the separated vocals' energy, the VAD's rests, the
mix's music changes); the layout bench builds them from human word timings.  Every layout step
reads what it needs from :class:`LayoutCues` and nothing else, so a step can be run alone, left
out, or fed cues from another source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alt_cli.options import LayoutOptions
from alt_cli.schema import Word

# A breath is a dip of the voice to this share of the phrase's median level (-10 dB) or below.
DIP_SHARE = 0.3


@dataclass(frozen=True)
class VoiceEnvelope:
    """The separated vocals' normalised frame RMS, and the level under which they are silent."""

    envelope: np.ndarray
    hop_seconds: float
    quiet: float  # the VAD's offset: below this a frame is silent whatever the phrase

    def frames(self, start: float, end: float) -> np.ndarray:
        first = max(0, int(start / self.hop_seconds))
        last = min(len(self.envelope), int(np.ceil(end / self.hop_seconds)))
        return self.envelope[first:last]

    def breath(self, before: Word, after: Word, phrase_level: float) -> float:
        """Seconds of the longest dip between the middles of two consecutive words."""
        middle = lambda word: (word.start + word.end) / 2  # noqa: E731
        frames = self.frames(middle(before), middle(after))
        if not frames.size:
            return 0.0
        below = frames < max(self.quiet, DIP_SHARE * phrase_level)
        longest = run = 0
        for flag in below:
            run = run + 1 if flag else 0
            longest = max(longest, run)
        return longest * self.hop_seconds


@dataclass(frozen=True)
class LayoutCues:
    """Everything a layout step may use besides the lines themselves."""

    language: str | None = None  # ISO code; the word lists of pickups and the script filter
    # Vocal rests (start, end) the VAD found: a line never runs across one.
    rests: tuple[tuple[float, float], ...] = ()
    # The separated vocals' energy (breaths); None where there is none (plain Whisper's loop):
    # the steps that need it leave the lines as they are.
    voice: VoiceEnvelope | None = None
    # Times where the music changes (:func:`alt_cli.layout.music_structure.structure_changes`).
    changes: tuple[float, ...] = ()
    options: LayoutOptions = field(default_factory=LayoutOptions)
