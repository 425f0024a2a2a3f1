"""Sung phrases: where a line of lyrics ends inside what Whisper wrote as one segment.

Whisper's segments are captions, and beam search makes them longer: a phrase sung without a
long breath comes out as one "line" of twenty words.  A singer writes a line per phrase, and a
phrase ends where the voice stops for a breath, a fraction of a second, far shorter than the
VAD's one-second rest.  So a line is split at the deepest breath between two of its words (the
separated vocals' energy dips under the phrase's own level), never between two words sung
without a gap, and a line of one or two words (a split in the wrong place, or "oh" heard
alone) joins the neighbour it is sung closest to, unless a long rest isolates it.

Lines also keep the song's own pace: sung lines follow each other about one musical phrase
apart (on the Jam-ALT dev songs the reference lines start a median 4 beats apart in every
song), so a line that spans well over the song's usual line spacing holds two sung lines that
beam search merged.  :func:`split_to_period` re-cuts it where the pieces come closest to that
spacing and the voice gives most evidence of a line end (breath, punctuation, a gap).

All of it needs word timings and the vocal envelope; a line without words is left as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alt_cli.layout.cues import LayoutCues, VoiceEnvelope
from alt_cli.layout.lines import ends_clause, word_count, word_starts, words_line
from alt_cli.schema import LyricLine, Word

# A rest at least this long around a short line means it stands alone (a call, an "oh yeah"
# between phrases), so it is not merged: about a bar at a moderate tempo.
ISOLATING_REST = 1.5
# Whisper's punctuation inside a segment counts like this many seconds of breath when an
# over-long line must be split somewhere: a comma is where a sung phrase often ends.
CLAUSE_BONUS = 0.15
# The song's line period: the median onset-to-onset spacing of lines sung back to back (the
# next one starts within this many seconds of the previous one's end), from at least
# MIN_PERIOD_PAIRS such pairs; fewer and the song has no measurable pace.
BACK_TO_BACK = 1.0
MIN_PERIOD_PAIRS = 4
# A line spanning more than this many periods is re-cut (1.3: a third longer than the song's
# usual spacing, not a long line that merely ends on a held note).
LONG_LINE_PERIODS = 1.3
# The cut's costs: a piece e times longer or shorter than the period costs 1, a line break
# costs 1, less the evidence for it: seconds of breath and of gap between the word timings
# count double, Whisper's punctuation once.
BREAK_COST = 1.0
BREATH_WEIGHT = 2.0
GAP_WEIGHT = 2.0
PUNCTUATION_WEIGHT = 1.0


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
    return [words_line(ws, line.section) for ws in pieces]


def split_phrases(line: LyricLine, voice: VoiceEnvelope, breath: float | None,
                  max_words: int | None, min_words: int) -> list[LyricLine]:
    """Split ``line`` at its deepest breaths: any breath >= ``breath`` seconds, and while the
    line has more than ``max_words`` words, its deepest one (a breath, else Whisper's
    punctuation, else the widest gap between word timings).  Each piece keeps at least
    ``min_words`` words, and a word Whisper split into pieces (French "qu" + "'on") is never
    split across lines."""
    words = line.words
    if word_count(words) < 2 * min_words or (breath is None and max_words is None):
        return [line]
    level = float(np.median(voice.frames(line.start, line.end))) if line.end > line.start else 0
    pairs = list(zip(words, words[1:], strict=False))
    breaths = [voice.breath(a, b, level) for a, b in pairs]
    clauses = [ends_clause(a) for a, _ in pairs]
    gaps = [b.start - a.end for a, b in pairs]
    candidates = [i for i in range(len(words) - 1) if words[i + 1].text[:1].isspace()
                  and word_count(words[:i + 1]) >= min_words
                  and word_count(words[i + 1:]) >= min_words]
    if not candidates:
        return [line]
    best = max(candidates, key=lambda i: (breaths[i] + CLAUSE_BONUS * clauses[i], gaps[i]))
    too_long = max_words is not None and word_count(words) > max_words
    if not (breath is not None and breaths[best] >= breath) and not too_long:
        return [line]
    head = words_line(words[:best + 1], line.section)
    tail = words_line(words[best + 1:], line.section)
    return [*split_phrases(head, voice, breath, max_words, min_words),
            *split_phrases(tail, voice, breath, max_words, min_words)]


def merge_short_lines(lines: Sequence[LyricLine], min_words: int, max_words: int | None
                      ) -> list[LyricLine]:
    """Join each line of fewer than ``min_words`` words to the neighbour sung closest to it
    (within :data:`ISOLATING_REST`), as long as the result stays within ``max_words``."""
    result = list(lines)
    changed = True
    while changed:
        changed = False
        for i, line in enumerate(result):
            if not line.words or word_count(line.words) >= min_words:
                continue
            options = []
            if i > 0 and result[i - 1].words:
                options.append((line.start - result[i - 1].end, i - 1))
            if i + 1 < len(result) and result[i + 1].words:
                options.append((result[i + 1].start - line.end, i + 1))
            options = [(gap, j) for gap, j in options if gap < ISOLATING_REST and (
                max_words is None
                or word_count(line.words) + word_count(result[j].words) <= max_words)]
            if not options:
                continue
            _, j = min(options)
            first, second = sorted((i, j))
            a, b = result[first], result[second]
            result[first:second + 1] = [LyricLine(a.start, b.end, f"{a.text} {b.text}",
                                                  a.section, a.words + b.words)]
            changed = True
            break
    return result


def line_period(lines: Sequence[LyricLine]) -> float | None:
    """The song's usual spacing of sung lines: the median onset-to-onset time of consecutive
    lines sung back to back (None when fewer than :data:`MIN_PERIOD_PAIRS` pairs are)."""
    spacings = [b.start - a.start for a, b in zip(lines, lines[1:], strict=False)
                if a.words and b.words and b.start - a.end < BACK_TO_BACK]
    return float(np.median(spacings)) if len(spacings) >= MIN_PERIOD_PAIRS else None


def split_to_period(line: LyricLine, voice: VoiceEnvelope, period: float, min_words: int
                    ) -> list[LyricLine]:
    """Cut a line spanning over :data:`LONG_LINE_PERIODS` periods into pieces of at least
    ``min_words`` words, choosing the cuts (between written words only) that minimise
    sum of log(piece span / period)^2 plus, per cut, :data:`BREAK_COST` less its evidence.

    A piece's span runs from its first word's onset to the next piece's onset (the spacing
    the period measures); the last piece's to its last word's end."""
    words = line.words
    if line.end - line.start <= LONG_LINE_PERIODS * period or word_count(words) < 2 * min_words:
        return [line]
    level = float(np.median(voice.frames(line.start, line.end)))
    cuts = word_starts(words)[1:]
    evidence = {i: BREATH_WEIGHT * voice.breath(words[i - 1], words[i], level)
                + GAP_WEIGHT * max(0.0, words[i].start - words[i - 1].end)
                + PUNCTUATION_WEIGHT * ends_clause(words[i - 1]) for i in cuts}
    points = [0, *cuts, len(words)]
    best: dict[int, tuple[float, int]] = {0: (0.0, 0)}  # cut -> (cost so far, previous cut)
    for j in points[1:]:
        options = []
        for i in points:
            if i >= j:
                break
            if i not in best or word_count(words[i:j]) < min_words:
                continue
            end = words[j].start if j < len(words) else words[-1].end
            span = max(end - words[i].start, 0.2)
            cost = best[i][0] + float(np.log(span / period)) ** 2
            if j < len(words):
                cost += BREAK_COST - evidence[j]
            options.append((cost, i))
        if options:
            best[j] = min(options)
    if len(words) not in best:
        return [line]
    bounds = [len(words)]
    while bounds[-1]:
        bounds.append(best[bounds[-1]][1])
    bounds.reverse()
    return [words_line(words[a:b], line.section)
            for a, b in zip(bounds, bounds[1:], strict=False)]


# The steps (see :mod:`alt_cli.layout`): lines in, lines out.

def rests_step(lines: list[LyricLine], cues: LayoutCues) -> list[LyricLine]:
    """A line ends wherever the VAD found a rest inside it."""
    return [piece for line in lines for piece in split_at_rests(line, cues.rests)]


def breaths_step(lines: list[LyricLine], cues: LayoutCues) -> list[LyricLine]:
    """A line ends at every breath of at least ``line_breath`` seconds inside it."""
    options = cues.options
    if cues.voice is None:
        return lines
    return [piece for line in lines for piece in split_phrases(
        line, cues.voice, options.line_breath, None, options.min_line_words)]


def max_words_step(lines: list[LyricLine], cues: LayoutCues) -> list[LyricLine]:
    """A line of more than ``max_line_words`` words is split at its deepest breath (and its
    pieces, their own level measured again, at any breath of ``line_breath`` they now show)."""
    options = cues.options
    if cues.voice is None:
        return lines
    return [piece for line in lines for piece in split_phrases(
        line, cues.voice, options.line_breath, options.max_line_words, options.min_line_words)]


def short_lines_step(lines: list[LyricLine], cues: LayoutCues) -> list[LyricLine]:
    """A line under ``min_line_words`` words joins the neighbour sung closest to it."""
    return merge_short_lines(lines, cues.options.min_line_words, cues.options.max_line_words)


def period_step(lines: list[LyricLine], cues: LayoutCues) -> list[LyricLine]:
    """A line spanning well over the song's line period is re-cut near that period."""
    period = line_period(lines) if cues.voice is not None else None
    if period is None:
        return lines
    return [piece for line in lines for piece in split_to_period(
        line, cues.voice, period, cues.options.min_line_words)]
