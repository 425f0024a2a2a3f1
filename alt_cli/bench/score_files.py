"""`alt score REF HYP`: Jam-ALT metrics for your own transcripts.

REF and HYP are two files, or two folders of ``.txt`` files matched by name (a reference
without a hypothesis counts as an empty hypothesis: a missing transcript is all deletions).
"""

from __future__ import annotations

import json
from pathlib import Path

from alt_cli.bench.report import METRIC_COLUMNS, metrics_table
from alt_cli.bench.scoring import score_corpus
from alt_cli.errors import AltError

# No tagged references here, so no non-lexical deletion rate.
SHOWN = [column for column in METRIC_COLUMNS if column[0] != "DR_NL"]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AltError(f"{path}: cannot read as UTF-8 text ({exc})") from exc


def pair_files(reference: Path, hypothesis: Path) -> list[tuple[str, str, str]]:
    """(name, reference text, hypothesis text) for two files or two folders."""
    if reference.is_file() and hypothesis.is_file():
        return [(reference.stem, _read(reference), _read(hypothesis))]
    if reference.is_dir() and hypothesis.is_dir():
        refs = sorted(reference.glob("*.txt"))
        if not refs:
            raise AltError(f"{reference}: no .txt references")
        pairs = []
        for ref in refs:
            hyp = hypothesis / ref.name
            pairs.append((ref.stem, _read(ref), _read(hyp) if hyp.is_file() else ""))
        if all(not (hypothesis / ref.name).is_file() for ref in refs):
            raise AltError(f"{hypothesis}: no .txt file matches a reference name")
        return pairs
    raise AltError("REFERENCE and HYPOTHESIS must both be files or both be folders")


def score_command(reference: Path, hypothesis: Path, language: str, as_json: bool) -> str:
    """Score and render as a Markdown table (per file, then pooled) or JSON."""
    pairs = pair_files(reference, hypothesis)
    songs, pooled = score_corpus([p[1] for p in pairs], [p[2] for p in pairs],
                                 [language] * len(pairs))
    if as_json:
        return json.dumps({"files": {name: s.metrics for (name, _, _), s in zip(pairs, songs,
                                                                              strict=True)},
                           "pooled": pooled.metrics}, indent=2, default=float)
    rows = [([name], s.metrics) for (name, _, _), s in zip(pairs, songs, strict=True)]
    if len(pairs) > 1:
        rows.append((["ALL (pooled)"], pooled.metrics))
    return metrics_table(rows, ["file"], SHOWN).rstrip("\n")
