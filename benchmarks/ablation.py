"""Accuracy ablation: alt's pipeline with one lever changed at a time, against plain Whisper.

    python benchmarks/ablation.py ../shared/jam-alt-dev --model base --separator spleeter

Runs `alt bench jam-alt` once with every lever as a variant (so all rows share one run, one
model load and the stem cache), then prints one row per lever: pooled WER and its change
against alt's default, insertions, IR_hal, line/section F1, the worst single-song change in
WER against plain Whisper (the issue's "no song worse by more than 5 points"), and the
real-time factor.  The full bench results (per-song table, error views) stay in --out.

Levers are written as `alt bench --variant` specs; pass --lever NAME:KEY=VALUE to add more,
or --only NAME,NAME to run a subset.  Language is given from the metadata on both sides.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

from alt_cli.bench.configs import BenchConfig, config_options, expand_configs, parse_variant
from alt_cli.bench.datasets import load_dataset
from alt_cli.bench.report import run_bench
from alt_cli.bench.runner import BenchPlan
from alt_cli.options import TranscribeOptions
from alt_cli.progress import Reporter

# Each lever is one change against alt's defaults (see the README's Accuracy section), written
# with `alt transcribe`'s flag names, as `alt bench --variant` takes them.
LEVERS = (
    "greedy:beam-size=1",
    "bestof5:best-of=5",
    "pick-best:fallback-pick=best",
    "word-rate:max-words-per-second=5",
    "quiet-gaps:quiet-gaps=true",
    "pack:pack-gap=0.5",
    "voice-gate:min-voiced-fraction=0.5",
    "no-script:script-filter=false",
    "conventions:lyrics-conventions=true",
)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _pct(value: str) -> str:
    return f"{float(value) * 100:.1f}" if value not in ("", "nan") else "–"


def _f1(value: str) -> str:
    return f"{float(value):.3f}" if value not in ("", "nan") else "–"


def ablation_table(out: Path, default: str, native: str) -> str:
    """Markdown table from a bench results folder: one row per configuration."""
    summary = {r["configuration"]: r for r in _rows(out / "summary.csv") if r["language"] == "all"}
    per_song: dict[str, dict[str, float]] = defaultdict(dict)
    for row in _rows(out / "songs.csv"):
        per_song[row["configuration"]][row["song"]] = float(row["WER"])
    base_wer = float(summary[default]["WER"])
    header = ("| configuration | WER % | vs default | vs plain (rel.) | ins % | IR_hal % "
              "| F1 line | F1 sect | worst song vs plain | RTF |")
    lines = [header, "|" + "---|" * 10]
    for label, row in summary.items():
        wer = float(row["WER"])
        worst = max(per_song[label][s] - per_song[native][s] for s in per_song[native])
        rel = (wer - float(summary[native]["WER"])) / float(summary[native]["WER"]) * 100
        lines.append(
            f"| {label} | {wer * 100:.1f} | {(wer - base_wer) * 100:+.1f} | {rel:+.1f} % "
            f"| {_pct(row['ins_rate'])} | {_pct(row['IR_hal'])} | {_f1(row['F1_line'])} "
            f"| {_f1(row['F1_sect'])} | {worst * 100:+.1f} | {float(row['rtf']):.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--model", default="base")
    parser.add_argument("--separator", default="spleeter")
    parser.add_argument("--asr-inputs", default="auto,mix,vocals",
                        help="comma list; the first is the default's (auto: alt's default)")
    parser.add_argument("--lever", action="append", default=[], help="extra NAME:KEY=VALUE")
    parser.add_argument("--only", default=None, help="comma list of lever names to run")
    parser.add_argument("--out", type=Path, default=Path("results/ablation"))
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()

    specs = list(LEVERS) + args.lever
    if args.only:
        keep = set(args.only.split(","))
        specs = [spec for spec in specs if spec.split(":")[0] in keep]
    variants = tuple(parse_variant(spec) for spec in specs)
    inputs = args.asr_inputs.split(",")
    model, separator = args.model, args.separator
    names = [variant.name for variant in variants]
    configs = [
        BenchConfig(model, "none", "native", "mix"),  # Whisper long-form, same decoding options
        *expand_configs([model], [separator], ["rmsvad"], inputs),
        *expand_configs([model], [separator], ["rmsvad"], inputs[:1], variants=names),
    ]
    if "greedy" in names:  # plain transcribe() as called from Python: greedy
        configs.insert(1, BenchConfig(model, "none", "native", "mix", "greedy"))
    configs = list(dict.fromkeys(configs))
    base = TranscribeOptions(device="cpu", cache_dir=args.cache_dir)
    plan = BenchPlan(configs=tuple(configs), out_dir=args.out, base=base, variants=variants)
    for config in configs:  # a bad combination fails now, not after the first song
        config_options(config, base, variants, "en")
    selection = load_dataset("jam-alt", args.data)
    print(run_bench(selection, plan, Reporter(quiet=False)))
    default = next(c for c in configs if c.segmenter == "rmsvad")
    print(ablation_table(args.out, default.label, configs[0].label))

if __name__ == "__main__":
    main()
