"""Word-timing accuracy against human timings (the MIREX lyrics-alignment metrics).

Reference: JamendoLyrics' word onsets (``word_timings/<name>.csv``: word, start, end, line_end).
A hypothesis word is paired with a reference word by the edit-distance alignment of the two word
sequences (equal words only), so the same function scores ``alt align`` (same text, nearly every
word pairs) and ``alt transcribe``'s own word times (only correctly recognised words pair).
Errors are absolute onset differences in seconds; line onsets are each reference line's first
word against the hypothesis word paired with it.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alt_cli.errors import AltError
from alt_cli.schema import LyricLine
from alt_cli.word_matching import match_words, normalise

CLOSE_S = 0.3  # the strict tolerance of the MIREX task
NEAR_S = 1.0  # the loose one


@dataclass(frozen=True)
class TimedWord:
    text: str
    start: float
    line_start: bool  # the first word of a reference line
    end: float = 0.0  # the word's offset (the layout bench lays words out by both times)


def read_word_timings(path: Path) -> list[TimedWord]:
    """JamendoLyrics word timings; a line starts after each row that has ``line_end``."""
    words, new_line = [], True
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                words.append(TimedWord(row["word"], float(row["start"]), new_line,
                                       float(row["end"])))
                new_line = bool((row.get("line_end") or "").strip())
    except (OSError, KeyError, ValueError) as exc:
        raise AltError(f"{path}: not a word,start,end,line_end timing file ({exc})") from None
    return words


def onset_errors(hypothesis: Sequence[LyricLine], reference: Sequence[TimedWord]
                 ) -> dict[str, list[float] | int]:
    """Absolute onset errors of paired words and of line onsets, and the pairing counts."""
    hyp = [word for line in hypothesis for word in line.words if word.text.strip()]
    pairs, _ = match_words([w.text for w in reference], [w.text.strip() for w in hyp])
    words, lines = [], []
    for ref, index in zip(reference, pairs, strict=True):
        if index is None or _plain(ref.text) != _plain(hyp[index].text):
            continue
        error = abs(hyp[index].start - ref.start)
        words.append(error)
        if ref.line_start:
            lines.append(error)
    return {"word_errors": words, "line_errors": lines, "reference_words": len(reference),
            "reference_lines": sum(w.line_start for w in reference)}


def _plain(text: str) -> str:
    return normalise(text.strip())


def summarise(errors: Sequence[float], prefix: str) -> dict[str, float | None]:
    """Mean and median absolute error, share within 0.3 s and 1 s."""
    if not errors:
        return {f"{prefix}_mae": None, f"{prefix}_median": None, f"{prefix}_0.3": None,
                f"{prefix}_1.0": None}
    return {
        f"{prefix}_mae": statistics.fmean(errors),
        f"{prefix}_median": statistics.median(errors),
        f"{prefix}_0.3": sum(e <= CLOSE_S for e in errors) / len(errors),
        f"{prefix}_1.0": sum(e <= NEAR_S for e in errors) / len(errors),
    }


def timing_metrics(records: Sequence[dict]) -> dict[str, float | None]:
    """Pooled over songs: every paired word counts once (as MIREX pools onsets)."""
    words = [e for r in records for e in r["word_errors"]]
    lines = [e for r in records for e in r["line_errors"]]
    total = sum(r["reference_words"] for r in records)
    return {**summarise(words, "onset"), **summarise(lines, "line"),
            "paired": len(words) / total if total else None}
