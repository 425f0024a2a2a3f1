"""Pairing the words of two texts: the user's lyrics with what Whisper heard, or a transcript
with reference lyrics.

Two matchers live here.  :func:`match_words` is the plain edit-distance alignment of words
(jiwer's), which is what scoring needs.  :func:`match_in_time` is what ``alt align`` needs to
decide *where* each of the user's words is sung: the same alignment, but the heard side also
carries the sung time nobody transcribed.  Songs repeat themselves, and a first transcription
often hears a repeated chorus only once; the plain alignment then pairs the heard copy with
whichever repetition of the user's text comes first (all choices cost the same), and the other
repetition is squeezed into the few seconds left.  A sung word takes time, so between heard
words we lay out empty *slots*, one per ~0.4 s of the window's unheard time, that an unheard
user word may occupy at less than the cost of leaving it out.  The repetition the first pass
did not hear then lands where there is time to sing it.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import jiwer

_WORD_CHARS = re.compile(r"[\w']+")

SLOT_S = 0.4  # one sung word every ~0.4 s: a slow syllable rate for singing (2-3 per second)
SLOT_COST = 0.4  # an unheard word in unheard sung time: cheaper than leaving it out (1)
SLOT_SKIP_COST = 0.05  # unheard time left empty: held notes and instrumental bleed are common
GAP_COST = 1.0  # a user word paired with nothing, or a heard word no user word explains
# Two different words cost as much as leaving one out and adding the other.  At 1 (jiwer's flat
# cost), a text opening with a line nobody sings was paired word by word with what was heard
# from the song's start, every real word shifted (30 % heard became 0 %, refused as another
# song's); dev songs: 0.263 s onset MAE at 1, 0.280 s at 2 (Fantasma's vocables).
SUBSTITUTION_SCALE = 2.0
MAX_CELLS = 50_000_000  # beyond this (an hour of dense lyrics: ~1 min, 50 MB) the plain matcher


@dataclass(frozen=True)
class HeardWord:
    """A word of the first transcription, with its time and the window it was heard in."""

    text: str
    start: float
    end: float
    window: int


@dataclass(frozen=True)
class WordMatch:
    """Where a user word was placed by :func:`match_in_time`."""

    window: int
    time: float  # the heard word's start, or the middle of the empty slot
    heard: int | None  # index of the heard word it is paired with; None for a slot

    def equals(self, user_word: str, heard: Sequence[HeardWord]) -> bool:
        return self.heard is not None and normalise(heard[self.heard].text) == normalise(
            user_word)

    def resembles(self, user_word: str, heard: Sequence[HeardWord]) -> bool:
        """Paired with a heard word that shares more than half its letters (``finis`` and
        ``finit`` do; ``that`` and ``with``, paired only because both were in the way, do
        not)."""
        return self.heard is not None and _substitution_cost(
            normalise(user_word), normalise(heard[self.heard].text)) < SUBSTITUTION_SCALE / 2


def normalise(word: str) -> str:
    """A word as the matcher compares it: lower case, letters and apostrophes, no accents."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(_WORD_CHARS.findall(plain)) or word.lower()


def match_words(user: Sequence[str], heard: Sequence[str]) -> tuple[list[int | None], int]:
    """For each user word, the index of the heard word the edit-distance alignment pairs it
    with (equal or substituted), else None; and how many pairs are equal."""
    result: list[int | None] = [None] * len(user)
    if not user or not heard:
        return result, 0
    alignment = jiwer.process_words(" ".join(normalise(w) for w in user),
                                    " ".join(normalise(w) for w in heard))
    equal = 0
    for chunk in alignment.alignments[0]:
        if chunk.type in ("equal", "substitute"):
            span = range(chunk.ref_end_idx - chunk.ref_start_idx)
            for offset in span:
                result[chunk.ref_start_idx + offset] = chunk.hyp_start_idx + offset
            equal += len(span) if chunk.type == "equal" else 0
    return result, equal


@dataclass(frozen=True)
class _Slot:
    time: float
    window: int


def unheard_slots(heard: Sequence[HeardWord], spans: Sequence[tuple[float, float]],
                  slot_s: float = SLOT_S) -> list[_Slot]:
    """Empty slots in each window's time that no heard word covers, ``slot_s`` apart."""
    slots = []
    for index, (start, end) in enumerate(spans):
        edges = [start]
        for word in sorted((w for w in heard if w.window == index), key=lambda w: w.start):
            edges += [max(word.start, edges[-1]), max(word.end, word.start, edges[-1])]
        edges.append(max(end, edges[-1]))
        for gap_start, gap_end in zip(edges[::2], edges[1::2], strict=True):
            count = int((gap_end - gap_start) // slot_s)
            slots += [_Slot(gap_start + (i + 0.5) * (gap_end - gap_start) / count, index)
                      for i in range(count)]
    return slots


@lru_cache(maxsize=65536)
def _substitution_cost(user: str, heard: str) -> float:
    """0 for the same word, up to 2 for nothing in common (as leaving one out and adding the
    other): ``sad``/``ça`` is a near miss, ``line``/``with`` is no pair at all."""
    return 0.0 if user == heard else SUBSTITUTION_SCALE * (
        1.0 - difflib.SequenceMatcher(None, user, heard).ratio())


def match_in_time(user: Sequence[str], heard: Sequence[HeardWord],
                  spans: Sequence[tuple[float, float]]) -> list[WordMatch | None]:
    """Each user word's place: a heard word, an empty slot of unheard sung time in one of
    ``spans`` (the windows, in song time), or None (nowhere: it follows its neighbours).

    The table has one cell per user word and heard item; past :data:`MAX_CELLS` (an hour-long
    file of lyrics) the plain edit-distance alignment decides instead."""
    items: list[HeardWord | _Slot] = [*heard, *unheard_slots(heard, spans)]
    if len(user) * (len(items) + 1) > MAX_CELLS:
        pairs, _ = match_words(user, [word.text for word in heard])
        return [None if p is None else WordMatch(heard[p].window, heard[p].start, p)
                for p in pairs]
    items.sort(key=lambda item: item.start if isinstance(item, HeardWord) else item.time)
    texts = [normalise(item.text) if isinstance(item, HeardWord) else None for item in items]
    skip = [GAP_COST if text is not None else SLOT_SKIP_COST for text in texts]
    columns = len(items) + 1
    previous = [0.0] * columns
    for j in range(1, columns):
        previous[j] = previous[j - 1] + skip[j - 1]
    moves = [bytearray([2]) * columns]  # 0 pair, 1 user word left out, 2 heard item left out
    for word in user:
        wanted = normalise(word)
        row, move = [previous[0] + GAP_COST] + [0.0] * (columns - 1), bytearray([1]) * columns
        for j in range(1, columns):
            text = texts[j - 1]
            pair = previous[j - 1] + (SLOT_COST if text is None
                                      else _substitution_cost(wanted, text))
            best, how = pair, 0
            if previous[j] + GAP_COST < best:
                best, how = previous[j] + GAP_COST, 1
            if row[j - 1] + skip[j - 1] < best:
                best, how = row[j - 1] + skip[j - 1], 2
            row[j], move[j] = best, how
        moves.append(move)
        previous = row
    matches: list[WordMatch | None] = [None] * len(user)
    i, j = len(user), len(items)
    heard_index = {id(word): k for k, word in enumerate(heard)}
    while i > 0 and j > 0:
        how = moves[i][j]
        if how == 0:
            item = items[j - 1]
            if isinstance(item, HeardWord):
                matches[i - 1] = WordMatch(item.window, item.start, heard_index[id(item)])
            else:
                matches[i - 1] = WordMatch(item.window, item.time, None)
            i, j = i - 1, j - 1
        elif how == 1:
            i -= 1
        else:
            j -= 1
    return matches
