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
from dataclasses import dataclass

import numpy as np

from alt_cli.schema import LyricLine, Word

# A breath is a dip of the voice to this share of the phrase's median level (-10 dB) or below.
DIP_SHARE = 0.3
# A rest at least this long around a short line means it stands alone (a call, an "oh yeah"
# between phrases), so it is not merged: about a bar at a moderate tempo.
ISOLATING_REST = 1.5
# Whisper's punctuation inside a segment counts like this many seconds of breath when an
# over-long line must be split somewhere: a comma is where a sung phrase often ends.
CLAUSE_BONUS = 0.15
CLAUSE_MARKS = ",.;:!?"
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


def words_line(words: Sequence[Word], section: int) -> LyricLine:
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
