"""Word-timed lyrics: enhanced LRC (A2 word tags) and ASS karaoke (``{\\k}`` per word).

Players that read word-level LRC (SubtitleEdit, harmonoid, many car and phone players) look for
``song.lrc``, so the ``elrc`` format is written there (it replaces ``lrc`` in a run); ASS goes
through pysubs2, which every subtitle tool can read back.  Lines without word timings (word
alignment off) are written whole: one tag or one ``\\k`` for the line.
"""

from __future__ import annotations

from collections.abc import Sequence

from alt_cli.schema import LyricLine, Word

CENTI = 100  # \k and LRC times count centiseconds
ASS_STYLE = {"fontsize": 48.0, "marginv": 40}  # readable on a TV from a sofa
_ASS_SPECIAL = str.maketrans({"{": "(", "}": ")", "\\": "/"})


def lrc_time(seconds: float) -> str:
    """``mm:ss.xx``, the clock both LRC flavours use."""
    centis = int(round(max(0.0, seconds) * CENTI))
    minutes, centis = divmod(centis, 60 * CENTI)
    return f"{minutes:02d}:{centis // CENTI:02d}.{centis % CENTI:02d}"


def _timed_words(line: LyricLine) -> list[Word]:
    """The line's words with text, in time order, each starting no earlier than the last."""
    words, at = [], line.start
    for word in line.words:
        if word.text.strip():
            start = max(word.start, at)
            words.append(Word(word.text, start, max(word.end, start), word.probability))
            at = start
    return words


def elrc_line(line: LyricLine) -> str:
    """``[mm:ss.xx]<mm:ss.xx>Word <mm:ss.xx>word <mm:ss.xx>`` (the last tag: the line's end)."""
    words = _timed_words(line)
    if not words:
        return f"[{lrc_time(line.start)}]{line.text}"
    body = " ".join(f"<{lrc_time(w.start)}>{w.text.strip()}" for w in words)
    return f"[{lrc_time(line.start)}]{body} <{lrc_time(words[-1].end)}>"


def render_elrc(lines: Sequence[LyricLine], header: Sequence[str]) -> str:
    """Enhanced LRC: the LRC header, then one line per sung line with a tag per word."""
    return "\n".join([*header, *(elrc_line(line) for line in lines)]) + "\n"


def karaoke_text(line: LyricLine) -> str:
    """ASS text with a ``{\\kN}`` before each word, N its centiseconds; silences between words
    are ``{\\kN}`` with no text, so the highlight waits for the singer."""
    words = _timed_words(line)
    if not words:
        span = int(round((line.end - line.start) * CENTI))
        return f"{{\\k{max(span, 1)}}}" + line.text.translate(_ASS_SPECIAL)
    parts, clock = [], int(round(line.start * CENTI))  # rounded cumulatively: no drift
    for index, word in enumerate(words):
        start, end = int(round(word.start * CENTI)), int(round(word.end * CENTI))
        if start > clock:
            parts.append(f"{{\\k{start - clock}}}")
            clock = start
        text = word.text.strip().translate(_ASS_SPECIAL)
        parts.append(f"{{\\k{max(end - clock, 0)}}}{text}{' ' if index < len(words) - 1 else ''}")
        clock = max(end, clock)
    return "".join(parts)


def render_ass(lines: Sequence[LyricLine], *, title: str | None) -> str:
    """Advanced SubStation Alpha with one karaoke event per line."""
    import pysubs2

    subs = pysubs2.SSAFile()
    subs.info["Title"] = title or "lyrics"
    style = subs.styles["Default"]
    style.fontsize = ASS_STYLE["fontsize"]
    style.marginv = ASS_STYLE["marginv"]
    for line in lines:
        subs.append(pysubs2.SSAEvent(start=int(round(line.start * 1000)),
                                     end=int(round(line.end * 1000)), text=karaoke_text(line)))
    return subs.to_string("ass")
