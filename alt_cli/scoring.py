"""Scoring against reference lyrics with the official Jam-ALT metrics (the `alt-eval` package).

alt-eval implements the benchmark's own normalisation and tokenisation (case, punctuation,
parentheses, line and section breaks), so our numbers are comparable with published ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def score_lyrics(
    references: Sequence[str], hypotheses: Sequence[str], languages: Sequence[str] | str
) -> dict[str, Any]:
    """Corpus-level Jam-ALT metrics (WER, case-sensitive WER, P/R/F1 of punctuation, ...).

    Edit counts are pooled over all songs, as the benchmark and the paper do.
    """
    from alt_eval import compute_metrics

    if len(references) != len(hypotheses):
        raise ValueError("need one hypothesis per reference")
    langs = languages if isinstance(languages, str) else list(languages)
    return compute_metrics(list(references), list(hypotheses), languages=langs)
