"""Lyrics layout: turn timed ASR text into lines and sections a musician would write.

Whisper's timestamped segments inside a window are close to sung lines; we additionally break a
line where the vocals rest between two VAD segments (a breath longer than the VAD's minimum
silence is almost always a line end), drop captioning junk ("[Music]", "Subtitles by ..."), and
start a new section after a long vocal rest, which is how verses and choruses are separated in
written lyrics (and in the Jam-ALT references).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from alt_cli.line_ends import join_pickup_lines, move_pickups
from alt_cli.line_punctuation import split_at_punctuation
from alt_cli.options import SECTION_GAP, LayoutOptions
from alt_cli.phrasing import (
    VoiceEnvelope,
    line_period,
    merge_short_lines,
    split_phrases,
    split_to_period,
)
from alt_cli.repeated_lines import repeat_layout
from alt_cli.schema import LyricLine, Word
from alt_cli.song_form import assign_sections_by_form

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
# Jam-ALT's annotation guide: no comma or full stop at a line's end (? and ! stay).
_LINE_END_PUNCTUATION = re.compile(r"[\s,.;:]+$")
# Languages written in the Latin script only: a word with Cyrillic or CJK letters in one of
# their songs is a decoding accident (high-temperature samples produce them), never lyrics.
LATIN_SCRIPT_LANGUAGES = frozenset(
    "af ca cs cy da de en es et eu fi fr ga gl hr hu id is it lt lv ms mt nl no pl pt ro sk sl "
    "sq sv sw tl tr vi".split()
)


def clean_text(text: str) -> str:
    """Strip captioning marks and junk; an empty result means the line is not lyrics."""
    text = _SPACES.sub(" ", _BRACKETED.sub(" ", text)).strip()
    if not text or _JUNK_LINE.match(text):
        return ""
    return text


def _foreign(word: str) -> bool:
    """Has a letter outside the Latin script (a Cyrillic, Greek, CJK, Arabic ... letter)."""
    return any(c.isalpha() and not unicodedata.name(c, "LATIN").startswith("LATIN") for c in word)


def drop_foreign_words(line: LyricLine, language: str | None) -> LyricLine:
    """Remove the words written in another script than the song's language uses."""
    if language not in LATIN_SCRIPT_LANGUAGES or not _foreign(line.text):
        return line
    text = " ".join(token for token in line.text.split() if not _foreign(token))
    words = tuple(w for w in line.words if not _foreign(w.text))
    return LyricLine(line.start, line.end, text, line.section, words)


def capitalise_line(text: str) -> str:
    """The line's first letter in upper case (after any opening quote or bracket)."""
    for i, char in enumerate(text):
        if char.isalpha():
            return text[:i] + char.upper() + text[i + 1 :]
    return text


def lyrics_conventions(text: str) -> str:
    """Write a line as the Jam-ALT guide does: capital first letter, no , or . at its end."""
    return capitalise_line(_LINE_END_PUNCTUATION.sub("", text))


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


def assign_sections(lines: list[LyricLine], section_gap: float = SECTION_GAP,
                    use_repeats: bool = False, changes: Sequence[float] = (),
                    changes_at_repeats: bool = False) -> list[LyricLine]:
    """Number sections, opening a new one wherever the voice rests >= `section_gap` seconds
    (and, with `use_repeats`, where a repeated block of lines starts or ends; at `changes`,
    where the music changes, at a repeated block's edge nearby with `changes_at_repeats`:
    see :mod:`alt_cli.song_form`)."""
    return assign_sections_by_form(lines, section_gap, use_repeats, changes,
                                   changes_at_repeats)


def _cleaned(lines: Sequence[LyricLine]) -> list[LyricLine]:
    """Lines whose text was rebuilt from their words, cleaned again (junk dropped)."""
    cleaned = (LyricLine(line.start, line.end, clean_text(line.text), 0, line.words)
               for line in lines)
    return [line for line in cleaned if line.text]


def layout_lines(
    raw_lines: Sequence[LyricLine],
    rests: Sequence[tuple[float, float]] = (),
    options: LayoutOptions = LayoutOptions(),
    language: str | None = None,
    voice: VoiceEnvelope | None = None,
    changes: Sequence[float] = (),
) -> tuple[LyricLine, ...]:
    """Clean, split at vocal rests (and, given the ``voice`` envelope, at breaths, where a
    line spans well over the song's line period, and at Whisper's punctuation where the song
    shows it marks line ends), join lines too short to be sung lines, give a repeated passage
    its renditions' majority layout, keep pickups off line ends, order by time and assign
    sections (also at `changes`, the times where the music changes, when given).

    With the script filter on and a `language`, words in a script that language is not written
    in are dropped; with the lyrics conventions, lines follow the Jam-ALT guide (see
    :func:`lyrics_conventions`).
    """
    script = language if options.script_filter else None
    min_words = options.min_line_words
    lines: list[LyricLine] = []
    for line in sorted(raw_lines, key=lambda item: item.start):
        for piece in split_at_rests(drop_foreign_words(line, script), rests):
            phrases = [piece] if voice is None else split_phrases(
                piece, voice, options.line_breath, options.max_line_words, min_words)
            for phrase in phrases:
                text = clean_text(phrase.text)
                if text:
                    lines.append(LyricLine(phrase.start, phrase.end, text, 0, phrase.words))
    if min_words > 1:
        lines = merge_short_lines(lines, min_words, options.max_line_words)
    period = line_period(lines) if voice is not None and options.line_period else None
    if period is not None:
        lines = _cleaned([piece for line in lines
                          for piece in split_to_period(line, voice, period, min_words)])
    if options.line_punctuation and voice is not None:
        lines = _cleaned(split_at_punctuation(lines, period, min_words))
    if options.line_repeats:
        lines = _cleaned(repeat_layout(lines, min_words))
    if options.line_pickups:
        lines = _cleaned(move_pickups(lines, language, min_words))
    if options.pickup_joins:  # after the moves: a pickup handed on may make a line whole
        lines = _cleaned(join_pickup_lines(lines, language, min_words))
    write = lyrics_conventions if options.lyrics_conventions else (
        capitalise_line if options.line_capitals else None)
    if write is not None:
        lines = [LyricLine(line.start, line.end, write(line.text), 0, line.words)
                 for line in lines]
    return tuple(assign_sections([line for line in lines if line.text], options.section_gap,
                                 options.repeat_sections, changes,
                                 options.changes_at_repeats))
