"""The layout's shared vocabulary: lines made of Whisper's timed word pieces.

Whisper writes a word as one or more pieces, each with its own time; a piece that starts with a
space starts a written word ("qu" + "'on" is one word).  Every layout step splits and joins lines
between written words only, rebuilds a line's text from its pieces, and compares lines by their
letters; those operations live here so that every step does them the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from alt_cli.schema import LyricLine, Word

# Whisper's punctuation after a word: its own hint that a clause (often a sung phrase) ends.
CLAUSE_MARKS = ",.;:!?"
# Two recognised lines are the same sung line when this share of their letters agree (two
# renditions of a chorus line differ by their recognition errors).
SAME_LINE = 0.75
_NOT_LETTERS = re.compile(r"[^\w']+")


def words_line(words: Sequence[Word], section: int = 0) -> LyricLine:
    """A line made of these timed words (a piece of a longer line), its text rebuilt."""
    return LyricLine(words[0].start, words[-1].end, "".join(w.text for w in words).strip(),
                     section, tuple(words))


def word_starts(words: Sequence[Word]) -> list[int]:
    """Index of the first piece of each written word: Whisper splits "qu'on" into "qu" and
    "'on", and only a piece starting with a space starts a word (a line may break there)."""
    return [i for i, word in enumerate(words) if i == 0 or word.text[:1].isspace()]


def written_words(words: Sequence[Word]) -> list[tuple[Word, ...]]:
    """The written words, each the tuple of Whisper's pieces it was decoded as."""
    bounds = [*word_starts(words), len(words)]
    return [tuple(words[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]


def word_count(words: Sequence[Word]) -> int:
    """Written words: a piece Whisper split off a word ("'on" after "qu") does not count."""
    return len(word_starts(words))


def ends_clause(word: Word) -> bool:
    """Whisper wrote punctuation after this word: its own hint of a phrase end."""
    return word.text.rstrip()[-1:] in CLAUSE_MARKS


def lower_first(text: str) -> str:
    """A line start written by Whisper, now inside a line: its sentence capital goes, unless
    the word is all capitals or English "I"."""
    stripped = text.lstrip()
    head = stripped.split(" ", 1)[0]
    if not head[:1].isupper() or head[1:2].isupper() or re.match(r"I\b", head):
        return text
    return text[: len(text) - len(stripped)] + stripped[:1].lower() + stripped[1:]


def joined_lines(first: LyricLine, second: LyricLine) -> LyricLine:
    """One line of two consecutive ones; the second's sentence capital, now mid-line, goes."""
    return LyricLine(first.start, second.end, f"{first.text} {lower_first(second.text)}",
                     first.section, first.words + second.words)


def line_key(text: str) -> str:
    """A line's letters for comparing renditions: lower case, punctuation as spaces."""
    return _NOT_LETTERS.sub(" ", text.lower()).strip()


def same_key(a: str, b: str) -> bool:
    """Two :func:`line_key` texts that are (nearly) the same words."""
    if not (a and b):
        return False
    match = SequenceMatcher(None, a, b, autojunk=False)
    # The cheap upper bounds first: a song of hundreds of lines compares every pair.
    return (match.real_quick_ratio() >= SAME_LINE and match.quick_ratio() >= SAME_LINE
            and match.ratio() >= SAME_LINE)

