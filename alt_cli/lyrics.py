"""Lyrics layout: turn timed ASR text into lines and sections a musician would write.

Whisper's timestamped segments inside a window are close to sung lines; we additionally break a
line where the vocals rest between two VAD segments (a breath longer than the VAD's minimum
silence is almost always a line end), drop captioning junk ("[Music]", "Subtitles by ..."), and
start a new section after a long vocal rest, which is how verses and choruses are separated in
written lyrics (and in the Jam-ALT references).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

SECTION_GAP = 4.0  # seconds of vocal rest between lines that start a new section

# Captioning artefacts Whisper learned from subtitles; never lyrics.
_JUNK_LINE = re.compile(
    r"^\W*("
    r"music|instrumental|applause|laughter|silence|musique|música|musik|"
    r"sous-titr\w*.*|subtitles? by.*|untertitel.*|subtítulos.*|amara\.org.*|"
    r"thanks? (you )?for watching.*|merci d'avoir regardé.*|gracias por ver.*"
    r")\W*$",
    re.IGNORECASE,
)
_BRACKETED = re.compile(r"\[[^\]]*\]|♪|♫|🎵|🎶")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Word:
    """One word with its time in the song (seconds)."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class LyricLine:
    """One sung line: time span in the song, text, and the section it belongs to."""

    start: float
    end: float
    text: str
    section: int = 0
    words: tuple[Word, ...] = field(default=())


def clean_text(text: str) -> str:
    """Strip captioning marks and junk; an empty result means the line is not lyrics."""
    text = _SPACES.sub(" ", _BRACKETED.sub(" ", text)).strip()
    if not text or _JUNK_LINE.match(text):
        return ""
    return text


def split_at_rests(line: LyricLine, rests: Sequence[tuple[float, float]]) -> list[LyricLine]:
    """Break a line at vocal rests that fall between two of its words.

    Needs word timings; a line without them is returned whole.  A rest (start, end) splits the
    line before the first word that starts after the rest's midpoint.
    """
    if len(line.words) < 2:
        return [line]
    pieces: list[list[Word]] = [[line.words[0]]]
    for prev, word in zip(line.words, line.words[1:], strict=False):
        boundary = any(prev.start < (a + b) / 2 <= word.start for a, b in rests)
        if boundary:
            pieces.append([word])
        else:
            pieces[-1].append(word)
    if len(pieces) == 1:
        return [line]
    return [
        LyricLine(ws[0].start, ws[-1].end, "".join(w.text for w in ws).strip(), line.section,
                  tuple(ws))
        for ws in pieces
    ]


def assign_sections(lines: list[LyricLine], section_gap: float = SECTION_GAP) -> list[LyricLine]:
    """Number sections, opening a new one wherever the voice rests >= `section_gap` seconds."""
    result: list[LyricLine] = []
    section = 0
    for i, line in enumerate(lines):
        if i > 0 and line.start - lines[i - 1].end >= section_gap:
            section += 1
        result.append(LyricLine(line.start, line.end, line.text, section, line.words))
    return result


def layout_lines(
    raw_lines: list[LyricLine],
    rests: Sequence[tuple[float, float]] = (),
    section_gap: float = SECTION_GAP,
) -> list[LyricLine]:
    """Clean, split at vocal rests, order by time and assign sections."""
    lines: list[LyricLine] = []
    for line in sorted(raw_lines, key=lambda item: item.start):
        for piece in split_at_rests(line, rests):
            text = clean_text(piece.text)
            if text:
                lines.append(LyricLine(piece.start, piece.end, text, 0, piece.words))
    return assign_sections(lines, section_gap)
