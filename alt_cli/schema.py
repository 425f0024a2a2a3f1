"""The records passed from stage to stage: plain, frozen data with no heavy imports.

audio -> :class:`SeparationResult` -> :class:`VocalActivity` (segments, windows) ->
:class:`WindowTranscript` / :class:`AsrSegment` -> :class:`LyricLine` -> :class:`SongTranscript`.
A stage takes the previous stage's record and returns its own; none reaches back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Word:
    """One word with its time in the song (seconds) and Whisper's probability for it."""

    text: str
    start: float
    end: float
    probability: float | None = None


@dataclass(frozen=True)
class LyricLine:
    """One sung line: time span in the song, text, and the section it belongs to."""

    start: float
    end: float
    text: str
    section: int = 0
    words: tuple[Word, ...] = field(default=())

    @property
    def confidence(self) -> float | None:
        """Mean word probability (None without word timings): a low one flags a doubtful line."""
        known = [w.probability for w in self.words if w.probability is not None]
        return sum(known) / len(known) if known else None


@dataclass(frozen=True)
class Segment:
    """A stretch of vocal activity, in seconds from the song start."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Window:
    """Consecutive segments transcribed together as one Whisper input (<= 30 s).

    A plain window is the song from its first segment's start to its last one's end; a packed
    window (`pack_gap` set) is its segments alone, joined with `pack_gap` seconds of silence.
    """

    segments: tuple[Segment, ...]
    pack_gap: float | None = None

    @property
    def start(self) -> float:
        return self.segments[0].start

    @property
    def end(self) -> float:
        return self.segments[-1].end

    @property
    def duration(self) -> float:
        """Length of Whisper's input for this window (seconds)."""
        if self.pack_gap is None:
            return self.end - self.start
        gaps = self.pack_gap * (len(self.segments) - 1)
        return sum(seg.duration for seg in self.segments) + gaps

    @property
    def voiced_seconds(self) -> float:
        """Seconds of vocal activity in the window."""
        return sum(seg.duration for seg in self.segments)

    def input_offsets(self) -> list[float]:
        """Where each segment starts in Whisper's input (seconds)."""
        if self.pack_gap is None:
            return [seg.start - self.start for seg in self.segments]
        offsets, at = [], 0.0
        for seg in self.segments:
            offsets.append(at)
            at += seg.duration + self.pack_gap
        return offsets

    def song_time(self, t: float) -> float:
        """Song time of a time in Whisper's input (a packing gap maps to its segment's end)."""
        if self.pack_gap is None:
            return self.start + t
        for seg, offset in zip(reversed(self.segments), reversed(self.input_offsets()),
                               strict=True):
            if t >= offset:
                return min(seg.start + (t - offset), seg.end)
        return self.start


@dataclass(frozen=True)
class VocalActivity:
    """What the RMS-VAD found in a song's separated vocals, and what later stages ask of it."""

    segments: tuple[Segment, ...]
    windows: tuple[Window, ...]
    envelope: np.ndarray  # normalised frame RMS of the vocals
    hop_seconds: float  # seconds between envelope frames
    # The separated vocals' RMS over the voiced segments, in dB relative to the mix's RMS
    # (None when the mix was not given): how loud the voice is, in absolute terms.
    vocal_level_db: float | None = None
    floored_seconds: float = 0.0  # voice-like frames dropped as below the absolute floor

    @property
    def voiced_seconds(self) -> float:
        return sum(s.duration for s in self.segments)

    def rests(self) -> list[tuple[float, float]]:
        """Gaps between consecutive vocal segments: where a sung line must end."""
        return [(a.end, b.start) for a, b in zip(self.segments, self.segments[1:], strict=False)]

    def voiced_fraction(self, start: float, end: float) -> float:
        """Share of [start, end] covered by vocal segments (1.0 for an empty span)."""
        return voiced_fraction(start, end, self.segments)

    def window_energy(self) -> list[float]:
        """Total vocal energy per window, to pick the most vocal windows for language detection."""
        hop = self.hop_seconds
        return [float(self.envelope[int(w.start / hop) : int(w.end / hop) + 1].sum())
                for w in self.windows]


def voiced_fraction(start: float, end: float, segments: tuple[Segment, ...] | list[Segment]
                    ) -> float:
    """Share of [start, end] covered by ``segments`` (1.0 for an empty span)."""
    if end <= start:
        return 1.0
    covered = sum(max(0.0, min(end, s.end) - max(start, s.start)) for s in segments)
    return covered / (end - start)


@dataclass(frozen=True)
class SeparationResult:
    """Separated vocals and where they came from."""

    vocals: np.ndarray  # (2, n) float32 at 44.1 kHz
    separator: str
    model: str
    cached: bool
    seconds: float  # time spent separating; 0 when read from the cache


@dataclass(frozen=True)
class ResolvedModel:
    """Where the weights for one ``--model`` value come from, for loading and for run reports."""

    name: str  # what the user asked for
    checkpoint: Path | None  # openai-whisper .pt on disk; None = whisper downloads it by name
    source: str  # human-readable origin, e.g. "openai-whisper cache"
    sha256: str | None  # of the checkpoint file used (None until downloaded)


@dataclass(frozen=True)
class AsrSegment:
    """One of Whisper's timed segments, in song time."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class WindowTranscript:
    """What one window produced, with the decoder's own quality signals (for diagnosis)."""

    start: float
    end: float
    text: str
    temperature: float
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    silent: bool
    segments: tuple[AsrSegment, ...] = field(default=())


@dataclass(frozen=True)
class VocalsVerdict:
    """Does anybody sing in this song, and the numbers behind the answer."""

    vocals: str  # "yes" | "no" | "uncertain"
    reason: str
    voiced_seconds: float
    vocal_level_db: float | None  # see VocalActivity
    no_speech_prob: float | None  # median of Whisper's no-speech probability over the windows


@dataclass(frozen=True)
class SongTranscript:
    """One song's result: the lyric lines plus what produced them.

    ``windows`` holds the RMS-VAD windows' decoder signals; the ``native`` segmenter (Whisper's
    own long-form loop) has none.  ``segments`` are the VAD's, when the vocals were separated.
    """

    path: Path
    duration: float
    language: str
    language_probability: float
    lines: tuple[LyricLine, ...]
    title: str | None
    artist: str | None
    segmenter: str
    asr_input: str
    separator: str
    separator_model: str
    separation_cached: bool
    model: ResolvedModel | None
    segments: tuple[Segment, ...] = ()
    windows: tuple[WindowTranscript, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    verdict: VocalsVerdict | None = None
