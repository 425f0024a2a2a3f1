"""A repeated passage keeps one layout: the breaks most of its renditions have.

A chorus is sung with the same words and the same melody each time, so it is written with the
same line breaks each time.  alt finds breaks from the voice (rests, breaths, the line period),
and one rendition may show a breath that another swallowed: "Je pense à avant, / J'attends
seulement que tu reviennes" the second time, one line the first.  Each rendition is evidence
for the passage's layout, so the passage takes the majority's: a line that is sung elsewhere
as two consecutive lines is split the same way when at least as many renditions split it as
sing it whole (a tie splits: a breath heard once is a breath), and two consecutive lines that
the song sings more often as one line are joined (unless a bar's rest lies between them).

Renditions are matched on their text (recognition errors differ between them): two passages
are the same when their letters agree as much as two renditions of a line do
(:data:`alt_cli.layout.lines.SAME_LINE`) and neither is much longer than the other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from alt_cli.layout.cues import LayoutCues
from alt_cli.layout.lines import SAME_LINE, joined_lines, word_starts, words_line, written_words
from alt_cli.layout.phrasing import ISOLATING_REST
from alt_cli.schema import LyricLine

# Two renditions of a passage differ in length by at most this share (a line that is only
# the first half of another is not a rendition of it).
LENGTH_SHARE = 0.8
_NOT_LETTERS = re.compile(r"[^\w']+")


def _word_keys(line: LyricLine) -> list[tuple[str, int]]:
    """The line's written words, lower case, without punctuation, each with its index among
    the written words (a word of punctuation alone has no key)."""
    keys = (_NOT_LETTERS.sub("", "".join(w.text for w in word).lower())
            for word in written_words(line.words))
    return [(key, index) for index, key in enumerate(keys) if key]


class _Renditions:
    """Whether two texts are renditions of one passage, each pair of texts compared once (a
    chorus recognised identically several times is one comparison, not one per rendition)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], bool] = {}

    def __call__(self, a: str, b: str) -> bool:
        if not (a and b) or min(len(a), len(b)) < LENGTH_SHARE * max(len(a), len(b)):
            return False
        key = (a, b) if a <= b else (b, a)
        if key not in self._known:
            match = SequenceMatcher(None, *key, autojunk=False)
            self._known[key] = match.quick_ratio() >= SAME_LINE and match.ratio() >= SAME_LINE
        return self._known[key]


def _split_word(words: list[str], first: list[str], second: list[str]) -> int | None:
    """Index of the word of ``words`` where ``second`` starts, when ``words`` is sung as
    ``first`` + ``second``: the character alignment of the two texts carried over."""
    text, other = " ".join(words), " ".join(first + second)
    boundary = len(" ".join(first)) + 1
    match = SequenceMatcher(None, text, other, autojunk=False)
    for a, b, size in match.get_matching_blocks():
        if b <= boundary < b + size:
            at = a + boundary - b
            starts = [len(" ".join(words[:k])) + (1 if k else 0) for k in range(len(words))]
            return min(range(len(words)), key=lambda k: abs(starts[k] - at))
    return None


def _split(line: LyricLine, word: int) -> list[LyricLine]:
    cut = word_starts(line.words)[word]
    return [words_line(line.words[:cut], line.section),
            words_line(line.words[cut:], line.section)]


def repeat_layout(lines: Sequence[LyricLine], min_words: int) -> list[LyricLine]:
    """Split or join lines so that each repeated passage has its renditions' majority layout
    (see the module's text); pieces keep at least ``min_words`` written words, and lines
    without word timings are left as they are."""
    lines = list(lines)
    keyed = [_word_keys(line) if line.words else [] for line in lines]
    words = [[key for key, _ in line] for line in keyed]
    texts = [" ".join(w) for w in words]
    pairs = {j: " ".join(words[j] + words[j + 1]) for j in range(len(lines) - 1)
             if len(words[j]) >= min_words and len(words[j + 1]) >= min_words}

    same = _Renditions()

    def whole(text: str, skip: Sequence[int]) -> int:
        return sum(1 for m, other in enumerate(texts) if m not in skip and same(text, other))

    splits: dict[int, int] = {}
    for i, text in enumerate(texts):
        if len(words[i]) < 2 * min_words:
            continue
        split = [j for j, pair in pairs.items() if i not in (j, j + 1) and same(text, pair)]
        if not split or len(split) < 1 + whole(text, (i,)):
            continue
        j = max(split, key=lambda j: SequenceMatcher(None, text, pairs[j],
                                                     autojunk=False).ratio())
        word = _split_word(words[i], words[j], words[j + 1])
        if word is not None and min_words <= word <= len(words[i]) - min_words:
            splits[i] = keyed[i][word][1]
    joins: set[int] = set()
    for j, pair in pairs.items():
        if j in splits or j + 1 in splits or (
                lines[j + 1].start - lines[j].end >= ISOLATING_REST):
            continue  # (a bar's rest between them: two lines, whatever the others do)
        singles = whole(pair, (j, j + 1))  # renditions sung as one line: few, so first
        if singles > 1 and singles > 1 + sum(
                1 for k, other in pairs.items() if abs(k - j) > 1 and same(pair, other)):
            joins.add(j)
    result: list[LyricLine] = []
    i = 0
    while i < len(lines):
        if i in joins:  # (a pair's first line: never the last line)
            result.append(joined_lines(lines[i], lines[i + 1]))
            i += 2
            continue
        result.extend(_split(lines[i], splits[i]) if i in splits else [lines[i]])
        i += 1
    return result


def repeats_step(lines: list[LyricLine], cues: LayoutCues) -> list[LyricLine]:
    """A repeated passage takes the layout most of its renditions have."""
    return repeat_layout(lines, cues.options.min_line_words)
