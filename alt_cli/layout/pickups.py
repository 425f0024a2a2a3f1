"""Where a sung line cannot end: on a word that only leads into what follows.

A sung phrase ends on a word that completes it; an article, a preposition, a conjunction or a
clitic pronoun ("de", "se", "the", "und") is an anacrusis, the pickup sung into the next
line's downbeat.  Written lyrics almost never end a line on one (2 of the 224 lines of the
Jam-ALT dev references do), but alt's breaks do when Whisper's word timings stretch the pickup
towards the breath that follows it, or a split lands one word late.  :func:`move_pickups` hands
such a word to the next line: one word, since a pickup is a syllable or two.

The lists are closed word classes of each language, not words picked from any song; a language
without a list is left as it is.  Words that can end a phrase are left out on purpose: stressed
pronouns ("moi", "tú", English "me" and "I": "you and I"), separable verb particles ("auf",
"zu", "up", "on"), English prepositions that end phrases ("where it's at", "come with"),
interrogatives written with an accent ("dónde").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from alt_cli.layout.cues import LayoutCues
from alt_cli.layout.lines import joined_lines, lower_first, word_starts
from alt_cli.schema import LyricLine, Word

# A pickup leads into the next line's downbeat: at most a bar before it (2 s at 120 bpm).
PICKUP_REACH_S = 2.0

PICKUP_WORDS: dict[str, frozenset[str]] = {
    language: frozenset(words.split())
    for language, words in {
        "fr": "le la les un une des de du à au aux et ou que qu qui se ce ces cet cette mon ma "
              "mes ton ta tes son sa ses notre votre leurs je tu il ils on ne me te dans sur "
              "pour par avec sans sous chez mais car si comme quand",
        "es": "el la los las un una unos unas de del a al en con por para sin y e o u que se me "
              "te le les lo nos mi tu su mis tus sus ni pero si como donde cuando",
        "en": "the a an of and or but my your our their its",
        "de": "der die das den dem des ein eine einen einem einer eines und oder aber dass "
              "weil zum zur im am vom beim von mein meine dein deine",
        "it": "il lo la i gli le un uno una di del della dei delle a al alla in nel nella con "
              "per da dal e o ma che se mi ti ci si mio mia tuo tua",
        "pt": "o a os as um uma uns umas de do da dos das em no na nos nas com por para e ou "
              "mas que se me te lhe meu minha teu tua",
    }.items()
}

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_ASKS = ("?", "!")  # "qui ?": a question ends on its pronoun


def _vocabulary(language: str | None) -> frozenset[str] | None:
    return PICKUP_WORDS.get((language or "").split("-")[0])


def _is_pickup(pieces: Sequence[Word], vocabulary: frozenset[str]) -> bool:
    text = "".join(word.text for word in pieces).strip()
    if not text or text.endswith(_ASKS):
        return False
    letters = _WORD.findall(text.lower())
    return len(letters) == 1 and letters[0] in vocabulary


def move_pickups(lines: Sequence[LyricLine], language: str | None, min_words: int = 1
                 ) -> list[LyricLine]:
    """Move the pickup word a line ends on to the start of the next line, when the next line
    is sung within :data:`PICKUP_REACH_S` of it and the line keeps ``min_words`` words (a
    one-word line that is a pickup joins the next one).  Lines without word timings stay as
    they are."""
    vocabulary = _vocabulary(language)
    if vocabulary is None:
        return list(lines)
    result = list(lines)
    for i in range(len(result) - 1):
        line, following = result[i], result[i + 1]
        if not line.words or not following.words:
            continue
        starts = word_starts(line.words)
        cut = starts[-1]  # one word: a pickup is a syllable or two before the downbeat
        if not _is_pickup(line.words[cut:], vocabulary) or 0 < len(starts) - 1 < min_words:
            continue
        if following.start - line.words[cut].end > PICKUP_REACH_S:
            continue
        moved, kept = line.words[cut:], line.words[:cut]
        moved_text = "".join(word.text for word in moved).strip()
        result[i + 1] = LyricLine(moved[0].start, following.end,
                                  f"{moved_text} {lower_first(following.text)}",
                                  following.section, moved + following.words)
        result[i] = (LyricLine(kept[0].start, kept[-1].end,
                               "".join(word.text for word in kept).strip(), line.section, kept)
                     if kept else LyricLine(0.0, 0.0, "", line.section))
    return [line for line in result if line.text]


def join_pickup_lines(lines: Sequence[LyricLine], language: str | None, min_words: int
                      ) -> list[LyricLine]:
    """A line that ends on a pickup but cannot hand it over (what stays would be under
    ``min_words`` words: "Non, je / Voulais pas te mentir") is itself a pickup phrase: it
    joins the next line when that one is sung within :data:`PICKUP_REACH_S`.  Run after
    :func:`move_pickups`, whose moves cascade ("el de / acuerdo la / crisis" gives "el /
    de acuerdo / la crisis"): a line is joined only if it still ends on a pickup then.
    Languages without a word list are left as they are."""
    vocabulary = _vocabulary(language)
    if vocabulary is None:
        return list(lines)
    result = list(lines)
    i = 0
    while i < len(result) - 1:
        line, following = result[i], result[i + 1]
        starts = word_starts(line.words) if line.words and following.words else []
        if (starts and 0 < len(starts) - 1 < min_words
                and _is_pickup(line.words[starts[-1]:], vocabulary)
                and following.start - line.words[starts[-1]].end <= PICKUP_REACH_S):
            result[i:i + 2] = [joined_lines(line, following)]
            continue
        i += 1
    return result


def pickups_step(lines: list[LyricLine], cues: LayoutCues) -> list[LyricLine]:
    """A line's final pickup word moves to the next line."""
    return move_pickups(lines, cues.language, cues.options.min_line_words)


def pickup_joins_step(lines: list[LyricLine], cues: LayoutCues) -> list[LyricLine]:
    """A short line ending on a pickup it cannot hand over joins the next line."""
    return join_pickup_lines(lines, cues.language, cues.options.min_line_words)
