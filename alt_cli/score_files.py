"""`alt score REF HYP`: Jam-ALT metrics for your own transcripts.

REF and HYP are two files, or two folders of ``.txt`` files matched by name (a reference
without a hypothesis counts as an empty hypothesis: a missing transcript is all deletions).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from alt_cli.errors import AltError
from alt_cli.scoring import score_corpus

SHOWN = [("WER", 100), ("WER_case", 100), ("sub_rate", 100), ("del_rate", 100),
         ("ins_rate", 100), ("IR_hal", 100), ("F1_punc", 1), ("F1_pare", 1), ("F1_line", 1),
         ("F1_sect", 1)]  # fmt: skip


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


def _cell(value: float, scale: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * scale:.1f}" if scale == 100 else f"{value:.3f}"


def score_command(reference: Path, hypothesis: Path, language: str, as_json: bool) -> str:
    """Score and render as a Markdown table (per file, then pooled) or JSON."""
    pairs = pair_files(reference, hypothesis)
    songs, pooled = score_corpus([p[1] for p in pairs], [p[2] for p in pairs],
                                 [language] * len(pairs))
    if as_json:
        return json.dumps({"files": {name: s.metrics for (name, _, _), s in zip(pairs, songs,
                                                                              strict=True)},
                           "pooled": pooled.metrics}, indent=2, default=float)
    header = ["file"] + [key for key, _ in SHOWN]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    rows = [(name, s.metrics) for (name, _, _), s in zip(pairs, songs, strict=True)]
    if len(pairs) > 1:
        rows.append(("ALL (pooled)", pooled.metrics))
    for name, metrics in rows:
        lines.append("| " + " | ".join([name] + [_cell(metrics.get(k), f) for k, f in SHOWN])
                     + " |")
    return "\n".join(lines)
