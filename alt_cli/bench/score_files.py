"""`alt score REF HYP`: Jam-ALT metrics for your own transcripts.

REF and HYP are two files, or two folders of ``.txt`` files matched by name (a reference
without a hypothesis counts as an empty hypothesis: a missing transcript is all deletions).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from alt_cli.bench.report import METRIC_COLUMNS, metrics_table
from alt_cli.bench.scoring import language_code, score_corpus
from alt_cli.errors import AltError
from alt_cli.options import OptionError

# No tagged references or line timings here: no non-lexical or instrumental columns.
SHOWN = [column for column in METRIC_COLUMNS
         if column[0] != "DR_NL" and not column[0].startswith("inst_")]


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


def check_language(language: str) -> str:
    """The ISO code of ``language`` as the scorer reads it, or an :class:`OptionError`."""
    try:
        return language_code(language)
    except Exception:  # noqa: BLE001 - iso639 raises its own kinds; the user needs one line
        raise OptionError(f"--language {language!r} is not a language code (such as en, fr, "
                          f"es, de)") from None


def _strict_json(value: Any) -> Any:
    """JSON has no NaN: an undefined metric (an F1 with nothing to find) is null."""
    if isinstance(value, dict):
        return {key: _strict_json(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def score_command(reference: Path, hypothesis: Path, language: str, as_json: bool) -> str:
    """Score and render as a Markdown table (per file, then pooled) or JSON."""
    check_language(language)
    pairs = pair_files(reference, hypothesis)
    empty = [name for name, ref, _ in pairs if not ref.split()]
    if len(empty) == len(pairs):
        raise AltError(f"the reference{'s are' if len(pairs) > 1 else ' is'} empty: there is "
                       f"nothing to score against ({reference})")
    if empty:
        raise AltError(f"empty reference for {', '.join(empty)}: remove it or fill it in")
    songs, pooled = score_corpus([p[1] for p in pairs], [p[2] for p in pairs],
                                 [language] * len(pairs))
    if as_json:
        files = {name: s.metrics for (name, _, _), s in zip(pairs, songs, strict=True)}
        document = _strict_json({"files": files, "pooled": pooled.metrics})
        return json.dumps(document, indent=2, default=float, allow_nan=False)
    rows = [([name], s.metrics) for (name, _, _), s in zip(pairs, songs, strict=True)]
    if len(pairs) > 1:
        rows.append((["ALL (pooled)"], pooled.metrics))
    return metrics_table(rows, ["file"], SHOWN).rstrip("\n")
