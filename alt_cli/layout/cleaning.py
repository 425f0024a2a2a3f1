"""What is written: captioning junk dropped, foreign-script words dropped, line capitals.

Whisper learned from subtitles, so it writes "[Music]", "Subtitles by ..." and, at high
temperatures, letters of another script; none of that is lyrics.  Written lyrics start each line
with a capital (Whisper capitalises sentences, not the lines cut inside them), and the Jam-ALT
guide also drops a comma or full stop at a line's end (``--lyrics-conventions``).
"""

from __future__ import annotations

import re
import unicodedata

from alt_cli.layout.cues import LayoutCues
from alt_cli.schema import LyricLine

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


def tidy(lines: list[LyricLine]) -> list[LyricLine]:
    """Each line's text cleaned again (a step rebuilds texts from Whisper's words, junk
    included), lines left empty dropped."""
    cleaned = (LyricLine(line.start, line.end, clean_text(line.text), line.section, line.words)
               for line in lines)
    return [line for line in cleaned if line.text]


def script_step(lines: list[LyricLine], cues: LayoutCues) -> list[LyricLine]:
    """Words in a script the song's language is not written in are dropped."""
    return [drop_foreign_words(line, cues.language) for line in lines]


def capitals_step(lines: list[LyricLine], cues: LayoutCues) -> list[LyricLine]:
    """A capital at each line start (and, with the conventions, no , or . at its end)."""
    write = lyrics_conventions if cues.options.lyrics_conventions else capitalise_line
    return [LyricLine(line.start, line.end, write(line.text), line.section, line.words)
            for line in lines]
