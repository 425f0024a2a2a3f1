"""`alt bench` end to end: select songs, run configurations, score, write the results folder.

Results folder::

    songs.csv      one row per song x configuration (x level in short mode)
    summary.csv    pooled metrics per configuration, overall and per language
    summary.md     the table printed at the end
    run.json       settings, versions, model and data hashes, time per stage, real-time factor
    hypotheses/    every transcript
    errors/        an HTML alignment view per song (alt-eval's)
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alt_cli.audio import SEPARATION_SAMPLE_RATE, file_sha256
from alt_cli.bench.configs import (
    BenchRequest,
    check_configs,
    config_options,
    expand_configs,
    parse_variant,
)
from alt_cli.bench.datasets import DatasetSelection, load_dataset
from alt_cli.bench.runner import BenchPlan, BenchRunner, SongRun
from alt_cli.bench.scoring import language_code, score_by_language, score_corpus, score_song
from alt_cli.bench.timing import timing_metrics
from alt_cli.errors import AltError
from alt_cli.fileio import atomic_write_text
from alt_cli.formats import render_json
from alt_cli.options import TranscribeOptions, settings_key, with_settings
from alt_cli.pipeline import check_language, default_model
from alt_cli.progress import Reporter
from alt_cli.runtime import resolve_device, versions
from alt_cli.separation import resolve_separator

# Columns of the metric tables: (metric key, header, scale)
METRIC_COLUMNS = [
    ("WER", "WER %", 100), ("WER_case", "WER case %", 100), ("sub_rate", "sub %", 100),
    ("del_rate", "del %", 100), ("ins_rate", "ins %", 100), ("IR_hal", "IR_hal %", 100),
    ("DR_NL", "DR_NL %", 100), ("F1_punc", "F1 punc", 1), ("F1_pare", "F1 paren", 1),
    ("F1_line", "F1 line", 1), ("F1_sect", "F1 sect", 1),
    ("inst_words", "instr. words", 0), ("inst_per_min", "per instr. min", 0),
]  # fmt: skip
STAGES = ("decode", "separation", "vad", "asr", "total")
TIMING_COLUMNS = [
    ("onset_mae", "onset MAE s", 1), ("onset_median", "median s", 1),
    ("onset_0.3", "≤0.3 s %", 100), ("onset_1.0", "≤1 s %", 100),
    ("line_mae", "line MAE s", 1), ("line_0.3", "line ≤0.3 s %", 100),
    ("paired", "words paired %", 100),
]  # fmt: skip


def format_metric(value: Any, scale: float) -> str:
    """A percentage with one decimal (scale 100), an F1 with three (1), a count or rate with
    at most one (0); a missing value as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if scale == 0:
        return f"{value:.1f}".removesuffix(".0")
    return f"{value * scale:.1f}" if scale == 100 else f"{value:.3f}"


def metrics_table(rows: Sequence[tuple[Sequence[str], dict[str, Any]]], leading: Sequence[str],
                  columns: Sequence[tuple[str, str, float]] = METRIC_COLUMNS,
                  trailing: Sequence[tuple[str, str, float]] = ()) -> str:
    """One Markdown table of metrics: the leading cells of each row, then its metrics.

    Serves `alt bench` (configurations) and `alt score` (files) alike.
    """
    shown = [*columns, *trailing]
    header = [*leading, *(title for _, title, _ in shown)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for cells, metrics in rows:
        values = [format_metric(metrics.get(key), scale) for key, _, scale in shown]
        lines.append("| " + " | ".join([*cells, *values]) + " |")
    return "\n".join(lines) + "\n"


def _default_out(dataset: str, mode: str) -> Path:
    return Path("results") / f"{dataset}-{mode}"


def _config_key(run: SongRun) -> tuple[str, str]:
    return run.config.label, run.level


def render_table(summary: list[dict[str, Any]], task: str = "transcribe") -> str:
    """Markdown table of the pooled ('all' languages) rows; the word-timing table too where
    the songs have human word timings (the only table of the align task)."""
    rows = [([row["configuration"], row["level"], str(row["songs"])], row)
            for row in summary if row["language"] == "all"]
    leading = ["configuration", "level", "songs"]
    tables = []
    if task != "align":
        tables.append(metrics_table(rows, leading, trailing=[("rtf", "RTF", 1)]))
    if any("onset_mae" in row for _, row in rows):
        tables.append(metrics_table(rows, leading, TIMING_COLUMNS, trailing=[("rtf", "RTF", 1)]))
    return "\n".join(tables)


def _csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _instrumental(runs: list[SongRun]) -> dict[str, float | None]:
    """Words in instrumental passages, pooled: their total and per instrumental minute."""
    known = [run.instrumental for run in runs if run.instrumental]
    if not known or len(known) < len(runs):
        return {}
    words, minutes = sum(k["words"] for k in known), sum(k["minutes"] for k in known)
    return {"inst_words": words, "inst_per_min": words / minutes if minutes else None}


def _timing(runs: list[SongRun]) -> dict[str, float | None]:
    """Word-onset errors pooled over the runs' paired words (none without word timings)."""
    records = [run.timing for run in runs if run.timing]
    return timing_metrics(records) if records and len(records) == len(runs) else {}


def score_runs(runs: list[SongRun], out_dir: Path) -> tuple[list[dict], list[dict]]:
    """Per-song rows (and their HTML error views) plus pooled rows per config and language."""
    song_rows = []
    groups: dict[tuple[str, str], list[SongRun]] = defaultdict(list)
    for run in runs:
        groups[_config_key(run)].append(run)
        result = score_song(run.reference, run.hypothesis, run.song.language,
                            sections=run.song.sections,
                            tagged_reference=run.tagged_reference, html=True)
        html_dir = out_dir / "errors" / run.config.label
        if run.level != "song":
            html_dir = html_dir / run.level
        if result.errors_html:
            atomic_write_text(html_dir / f"{run.song.name}.html",
                              f"<meta charset='utf-8'><h3>{run.song.name}</h3>\n"
                              + result.errors_html)
        song_rows.append({
            "song": run.song.name, "language": run.song.language,
            "configuration": run.config.label, "level": run.level, "model": run.config.model,
            "separator": run.config.separator, "segmenter": run.config.segmenter,
            "asr_input": run.config.asr_input, "variant": run.config.variant,
            "duration": round(run.duration, 2),
            **{f"time_{k}": round(v, 2) for k, v in run.timings.items()},
            **result.metrics, **_instrumental([run]), **_timing([run]),
        })  # fmt: skip
    summary = []
    for (label, level), members in groups.items():
        args = ([r.reference for r in members], [r.hypothesis for r in members],
                [r.song.language for r in members])
        tagged = [r.tagged_reference for r in members]
        tagged_arg = tagged if all(t is not None for t in tagged) else None
        kinds = [r.song.sections for r in members]
        _, pooled = score_corpus(*args, tagged_references=tagged_arg, sections=kinds)
        audio = sum(r.duration for r in members)
        wall = sum(r.timings.get("total", 0.0) for r in members)
        base = {"configuration": label, "level": level, "rtf": wall / audio if audio else None}
        summary.append({**base, "language": "all", "songs": len(members), **pooled.metrics,
                        **_instrumental(members), **_timing(members)})
        by_language = score_by_language(*args, tagged_references=tagged_arg, sections=kinds)
        for language, scored in sorted(by_language.items()):
            count = sum(r.song.language == language for r in members)
            summary.append({**base, "language": language, "songs": count, **scored.metrics})
    return song_rows, summary


def stage_times(runs: list[SongRun]) -> dict[str, dict[str, float]]:
    """Seconds and real-time factor per stage, per configuration."""
    out: dict[str, dict[str, float]] = {}
    seen: set[tuple[str, str]] = set()
    for run in runs:
        if (run.config.label, run.song.name) in seen:
            continue  # short mode: the two levels share one timing record
        seen.add((run.config.label, run.song.name))
        entry = out.setdefault(run.config.label, {"audio_s": 0.0})
        entry["audio_s"] += run.duration
        for stage in STAGES:
            entry[f"{stage}_s"] = entry.get(f"{stage}_s", 0.0) + run.timings.get(stage, 0.0)
    for entry in out.values():
        for stage in STAGES:
            entry[f"{stage}_rtf"] = entry[f"{stage}_s"] / entry["audio_s"]
    return out


def check_song_languages(selection: DatasetSelection) -> None:
    """Every selected song's language is one the scorer and Whisper know, before any work."""
    bad = []
    for song in selection.songs:
        try:
            check_language(song.language)
            language_code(song.language)
        except Exception:  # noqa: BLE001 - iso639 and ours raise different kinds
            bad.append(f"{song.name} ({song.language!r})")
    if bad:
        raise AltError(f"{selection.data_dir}/metadata.csv: unknown language for "
                       f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}; use ISO codes "
                       f"such as en, fr, es, de")


def bench_command(dataset: str, request: BenchRequest, base: TranscribeOptions,
                  reporter: Reporter) -> str:
    """Run the benchmark the CLI describes; returns the summary table."""
    # Songs the task cannot score (align: no word timings) are left out here, with a note.
    selection = load_dataset(dataset, request.data_dir, songs=request.songs,
                             languages=request.languages, limit=request.limit,
                             task=request.task)
    check_song_languages(selection)
    for note in selection.notes:
        reporter.info(f"note: {note}")
    if selection.missing:
        reporter.info(f"{len(selection.missing)} songs of the {dataset} list are not in "
                      f"{selection.data_dir}: {', '.join(selection.missing[:5])}"
                      + (" ..." if len(selection.missing) > 5 else ""))
    if request.task == "layout":  # no audio, no models: the layout alone
        from alt_cli.bench.layout_task import run_layout_bench

        return run_layout_bench(selection, request, base, reporter)
    if request.task == "align" and request.mode != "long":
        raise AltError("--task align scores whole songs: use --mode long")
    variants = tuple(parse_variant(spec) for spec in request.variants)
    separators = [  # "auto" named as what it is on this machine, in labels and results
        resolve_separator(with_settings(base.separation, {"separator": name}))
        for name in request.separators
    ]
    models = request.models or [default_model(resolve_device(base.device))]
    configs = expand_configs(models, separators, request.segmenters, request.asr_inputs,
                             request.mode, ("",) + tuple(v.name for v in variants))
    check_configs(configs)
    if dataset == "musdb-alt" and any(c.separator == "demucs" and
                                      base.separation.demucs_model == "mdx_extra"
                                      for c in configs):
        reporter.info("warning: mdx_extra was trained on data that includes the MUSDB18 test "
                      "set: its MUSDB-ALT numbers are optimistic")
    out_dir = request.out or _default_out(dataset, request.mode)
    plan = BenchPlan(configs=tuple(configs), out_dir=out_dir, base=base, mode=request.mode,
                     variants=variants, task=request.task)
    for config in configs:  # a bad combination fails now, not after the first song
        config_options(config, base, variants, "en")
    return run_bench(selection, plan, reporter)


def run_settings(selection: DatasetSelection, plan: BenchPlan) -> dict[str, Any]:
    """What the run was: data, configurations, the base settings, versions."""
    return {
        "dataset": selection.dataset,
        "data_dir": str(selection.data_dir),
        "songs": [s.name for s in selection.songs],
        "missing": selection.missing,
        "mode": plan.mode,
        "configs": [c.label for c in plan.configs],
        "variants": {v.name: dict(v.changes) for v in plan.variants},
        "settings": settings_key(plan.base),
        "versions": versions(),
        "sample_rate": SEPARATION_SAMPLE_RATE,
    }


def run_bench(selection: DatasetSelection, plan: BenchPlan, reporter: Reporter) -> str:
    """Every song x configuration of `plan`, scored; writes the results folder."""
    configs, out_dir = list(plan.configs), plan.out_dir
    reporter.info(f"{len(selection.songs)} songs x {len(configs)} configurations -> {out_dir}")
    runner = BenchRunner(plan, reporter)
    runs: list[SongRun] = []
    started = time.perf_counter()
    with reporter.bar("songs", len(selection.songs), "song") as bar:
        for song in selection.songs:
            reporter.info(f"{song.name} ({song.language})")
            runs.extend(runner.run_song(song, configs))
            bar.update(1)
    song_rows, summary = score_runs(runs, out_dir)
    table = render_table(summary, plan.task)
    atomic_write_text(out_dir / "songs.csv", _csv(song_rows))
    atomic_write_text(out_dir / "summary.csv", _csv(summary))
    atomic_write_text(out_dir / "summary.md", table)
    info = run_settings(selection, plan)
    info["models"] = runner.model_hashes()
    info["data"] = {song.name: {"audio_sha256": file_sha256(song.audio),
                                "lyrics_sha256": hashlib.sha256(song.lyrics.encode()).hexdigest()}
                    for song in selection.songs}
    info["stages"] = stage_times(runs)
    info["wall_s"] = time.perf_counter() - started
    atomic_write_text(out_dir / "run.json", render_json(info))
    return table
