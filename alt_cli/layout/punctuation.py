"""Whisper's punctuation as a line cue, trusted as far as the song itself shows it is one.

Whisper punctuates by ear, and how it does so varies from song to song: in one song a comma
closes nearly every sung phrase ("Tu mets d'la haine dans ce cœur, j'en remets dans l'cup,"),
in another it hardly writes one, or scatters them inside phrases.  A mid-line comma as a line
break everywhere is a coin toss (on the Jam-ALT dev songs 4 of 8 were reference breaks).  But
each song carries its own calibration: the line ends alt is already sure of (rests, breaths,
the song's line period) show how often Whisper marks a line end, and the inside of its lines
how often Whisper punctuates where no line ends.  Their ratio is the likelihood ratio of a
line end given a punctuation mark, measured on the song itself.

Where that ratio is high (:data:`MIN_LIKELIHOOD_RATIO`), a line is split at its inner marks,
but only a line long enough to hold two sung lines (it spans more than the song's line period,
see :func:`alt_cli.layout.phrasing.line_period`), and never leaving a piece under ``min_words``.
"""

from __future__ import annotations

from collections.abc import Sequence

from alt_cli.layout.cues import LayoutCues
from alt_cli.layout.lines import ends_clause, words_line, written_words
from alt_cli.layout.phrasing import line_period
from alt_cli.schema import LyricLine

# A mark must be this many times likelier at the song's known line ends than inside its lines.
# (On the dev songs the ratio is 0.9 to 3 where Whisper's commas are scattered and 7 to 50
# where they close phrases; 5 lies between.)
MIN_LIKELIHOOD_RATIO = 5.0
# Additive smoothing of both rates: a song with few lines has no measurable ratio.
PSEUDO_COUNT = 0.5


def punctuation_likelihood_ratio(lines: Sequence[LyricLine]) -> float:
    """P(mark | a line end) / P(mark | inside a line) over the song's lines with words."""
    ends = marked_ends = inner = marked_inner = 0
    timed = [line for line in lines if line.words]
    for i, line in enumerate(timed):
        words = written_words(line.words)
        inner += len(words) - 1
        marked_inner += sum(ends_clause(word[-1]) for word in words[:-1])
        if i + 1 < len(timed):
            ends += 1
            marked_ends += ends_clause(words[-1][-1])
    at_ends = (marked_ends + PSEUDO_COUNT) / (ends + 2 * PSEUDO_COUNT)
    inside = (marked_inner + PSEUDO_COUNT) / (inner + 2 * PSEUDO_COUNT)
    return at_ends / inside


def split_at_punctuation(lines: Sequence[LyricLine], period: float | None, min_words: int
                         ) -> list[LyricLine]:
    """Split lines spanning over one ``period`` at Whisper's inner punctuation, when this
    song's punctuation is a line cue (:func:`punctuation_likelihood_ratio`); each piece keeps
    at least ``min_words`` written words.  Without a period (no measurable pace) or word
    timings nothing changes."""
    if period is None or punctuation_likelihood_ratio(lines) < MIN_LIKELIHOOD_RATIO:
        return list(lines)
    result: list[LyricLine] = []
    for line in lines:
        words = written_words(line.words) if line.words else []
        if line.end - line.start <= period or len(words) < 2 * min_words:
            result.append(line)
            continue
        cuts: list[int] = []
        for k in range(min_words, len(words) - min_words + 1):
            if ends_clause(words[k - 1][-1]) and (not cuts or k - cuts[-1] >= min_words):
                cuts.append(k)
        bounds = [0, *cuts, len(words)]
        result.extend(words_line([piece for word in words[a:b] for piece in word], line.section)
                      for a, b in zip(bounds, bounds[1:], strict=False))
    return result


def punctuation_step(lines: list[LyricLine], cues: LayoutCues) -> list[LyricLine]:
    """Split long lines at Whisper's inner marks where this song's marks are line cues; the
    song's line period is measured on the lines as this step gets them (after the period
    step's cuts, when it ran: the flat module measured it once before them)."""
    if cues.voice is None:
        return lines
    return split_at_punctuation(lines, line_period(lines), cues.options.min_line_words)
