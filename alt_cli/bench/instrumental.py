"""Words hypothesised where nobody sings: the hallucination a lyrics user notices first.

The reference line timings say where the lyrics are sung; a hypothesis word more than
``MARGIN_S`` seconds away from every reference line lies in an instrumental passage (an intro,
a solo, an outro) and is invented.  Counted per song and per minute of instrumental time, next
to WER, because WER hides it: an invented caption over a guitar solo costs a few insertions.
"""

from __future__ import annotations

from collections.abc import Sequence

from alt_cli.schema import LyricLine

MARGIN_S = 1.0  # a word this close to a sung line may be a timing error, not an invention


def instrumental_seconds(line_spans: Sequence[tuple[float, float]], duration: float,
                         margin: float = MARGIN_S) -> float:
    """Seconds of the song farther than ``margin`` from every reference line."""
    covered, reach = 0.0, 0.0
    for start, end in sorted((max(0.0, s - margin), min(duration, e + margin))
                             for s, e in line_spans):
        start = max(start, reach)
        if end > start:
            covered += end - start
            reach = end
    return max(0.0, duration - covered)


def instrumental_words(lines: Sequence[LyricLine], line_spans: Sequence[tuple[float, float]],
                       margin: float = MARGIN_S) -> int:
    """Hypothesis words lying entirely farther than ``margin`` from every reference line.

    Lines without word timings count each of their words at the line's span.
    """
    def far(start: float, end: float) -> bool:
        return all(end < s - margin or start > e + margin for s, e in line_spans)

    count = 0
    for line in lines:
        if line.words:
            count += sum(far(w.start, w.end) for w in line.words if w.text.strip())
        elif far(line.start, line.end):
            count += len(line.text.split())
    return count
