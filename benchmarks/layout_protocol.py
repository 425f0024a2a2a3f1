"""Every layout step judged by one protocol, on every dev set: alone and left out.

    python benchmarks/layout_protocol.py [--shared ../shared] [--out results/layout-protocol]

Sets: the two audio sets decoded once each by alt's default (base + Spleeter, language given)
and by plain Whisper (``transcribe()``, greedy, its own segments as lines), whose layout inputs
(Whisper's lines and the cues) are kept in ``OUT/inputs/`` so that later runs only lay out
again; and the words-only sets of the layout bench (``alt bench --task layout``): the
reference's words at their human times, from ``jam-alt-text`` (49 songs) and from the two
audio sets' word timings.

Rows, per set: alt's default; the base (rests, sections at rests, capitals: what any layout
does); each step alone on the base; each step left out of the default; plain Whisper (audio
sets).  Columns: pooled line F1, section F1, case gap (case-sensitive WER minus WER, points),
WER, and the worst song (the largest drop in line F1 against the row it is compared with:
the base for "alone" rows, the default for "left out" rows).  Written to OUT/protocol.md and
OUT/protocol.csv; per-song line F1 of alt and plain Whisper to OUT/songs.md.
"""

from __future__ import annotations

import argparse
import csv
import math
import pickle
import sys
from dataclasses import replace
from pathlib import Path

from alt_cli.bench.datasets import DATASETS, load_dataset
from alt_cli.bench.layout_task import layout_from_words, song_reference_words
from alt_cli.bench.scoring import score_corpus
from alt_cli.formats import render_txt
from alt_cli.layout import lay_out
from alt_cli.options import LayoutOptions, TranscribeOptions, settings_key, with_settings

# Each step and the setting values that turn it off (the default turns each on).
STEPS: dict[str, dict[str, object]] = {
    "script filter": {"script_filter": False},
    "breaths": {"line_breath": None},
    "max words": {"max_line_words": None},
    "short lines": {"min_line_words": 1},
    "line period": {"line_period": False},
    "punctuation cue": {"line_punctuation": False},
    "repeats' layout": {"line_repeats": False},
    "pickups": {"line_pickups": False},
    "pickup joins": {"pickup_joins": False},
    "capitals": {"line_capitals": False},
    "music changes": {"section_changes": False},
    "changes at repeats": {"changes_at_repeats": False},
}
BASE_KEEPS = ("capitals",)  # what any layout does: a capital at each line start
PLAIN_LAYOUT = LayoutOptions(**{k: v for step in STEPS.values() for k, v in step.items()})
AUDIO_SETS = ("jam-alt-dev", "ultrastar-dev")
# The sets the verdict is taken on (the words versions of the audio sets are shown too).
JUDGED = ("jam-alt-dev", "ultrastar-dev", "jam-alt-text")
# Ties: one line break's worth of F1 (224 reference lines on jam-alt-dev) and about two words'
# case errors on the smaller audio set (0.1 point: 1.6 words of jam-alt-dev's 1616).
LINE_TIE = 0.005
CASE_TIE = 0.1
DATASET_OF = {"jam-alt-dev": "jam-alt", "ultrastar-dev": "ultrastar", "jam-alt-text": "jam-alt"}


def layout_rows() -> dict[str, tuple[str, LayoutOptions]]:
    """Row label -> (the row it is compared with, its layout settings)."""
    default = LayoutOptions()
    base_off = {k: v for name, step in STEPS.items() if name not in BASE_KEEPS
                for k, v in step.items()}
    base = replace(default, **base_off)
    rows = {"default": ("default", default), "base": ("base", base)}
    for name, off in STEPS.items():
        if name in BASE_KEEPS:
            continue
        on = {k: getattr(default, k) for k in off}
        if name == "changes at repeats":
            on["section_changes"] = True
        rows[f"+ {name} alone"] = ("base", replace(base, **on))
    for name, off in STEPS.items():
        rows[f"- {name}"] = ("default", replace(default, **off))
    no_capitals = replace(default, **STEPS["capitals"])
    for name, off in STEPS.items():  # a step's own effect on case, capitals aside
        if name != "capitals":
            rows[f"- capitals - {name}"] = ("- capitals", replace(no_capitals, **off))
    return rows


def decode_key(options: TranscribeOptions) -> str:
    """What decides Whisper's lines and the cues: every setting but the layout's (whose
    fields come and go as steps are judged), except the two layout settings the pipeline
    reads before the layout (the voiced-fraction filter, whether music changes are found)."""
    layout = options.layout
    return settings_key(replace(options, layout=None),
                        min_voiced_fraction=layout.min_voiced_fraction,
                        section_changes=layout.section_changes)


def audio_inputs(set_name: str, shared: Path, out: Path, plain: bool) -> dict[str, tuple]:
    """Song -> (Whisper's lines, cues, language, reference) for an audio set, decoded once
    (kept in OUT/inputs/ by the settings that decide Whisper's output)."""
    from alt_cli.pipeline import ModelStore, Transcriber
    from alt_cli.progress import Reporter

    selection = load_dataset(DATASET_OF[set_name], shared / set_name)
    reporter = Reporter(quiet=True)
    models = ModelStore(reporter)
    models.layout_inputs = {}
    result = {}
    for song in selection.songs:
        settings = {"model": "base", "separation.separator": "spleeter", "device": "cpu",
                    "asr.language": song.language}
        if plain:
            settings.update({"separation.separator": "none", "segmenter": "native",
                             "asr.beam_size": 1, "asr_input": "mix"})
        options = with_settings(TranscribeOptions(), settings)
        key = decode_key(options)
        cache = out / "inputs" / set_name / f"{song.name}.{'plain' if plain else 'alt'}.pkl"
        if cache.is_file():
            saved = pickle.loads(cache.read_bytes())
            if saved["key"] == key:
                result[song.name] = (*saved["input"], song.language, song.lyrics)
                continue
        print(f"  decoding {set_name}/{song.name} ({'plain' if plain else 'alt'})",
              file=sys.stderr, flush=True)
        Transcriber(options, reporter, models).transcribe(song.audio)
        raw, cues = models.layout_inputs.pop(str(song.audio))
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps({"key": key, "input": (raw, cues)}))
        result[song.name] = (raw, cues, song.language, song.lyrics)
    return result


def word_inputs(set_name: str, shared: Path) -> dict[str, tuple]:
    selection = load_dataset(DATASET_OF[set_name], shared / set_name, task="layout")
    return {song.name: (song_reference_words(song), song.language, song.lyrics)
            for song in selection.songs}


def score(hypotheses: dict[str, str], references: dict[str, str], languages: dict[str, str],
          sections: bool) -> tuple[dict[str, float], dict[str, float]]:
    """Pooled metrics and per-song line F1 (``sections``: the set's references mark them)."""
    names = sorted(hypotheses)
    per_song, pooled = score_corpus([references[n] for n in names],
                                    [hypotheses[n] for n in names],
                                    [languages[n] for n in names], sections=sections)
    lines = {n: s.metrics["F1_line"] for n, s in zip(names, per_song, strict=True)}
    return pooled.metrics, lines


def fmt(value: float, scale: float = 1.0, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else (
        f"{value * scale:.{digits}f}")


def verdicts(csv_rows: list[dict]) -> str:
    """Each step's effect (default minus the default without it) on the judged sets, pooled
    and on the song where it costs most line F1, and whether it keeps its place: it may not
    lower line F1 or raise the case gap on any of them by more than a tie; a step that fails
    on case only is also shown with capitals off."""
    got = {(row["set"], row["row"]): row for row in csv_rows}
    sets = [name for name in JUDGED if (name, "default") in got]
    lines = ["\n### Verdicts (Δ = with the step − without it; line F1, case gap in points)\n",
             "| step | " + " | ".join(sets) + " | F1 sect, jam-alt-dev | verdict |",
             "|---|" + "---|" * (len(sets) + 2)]
    for name in STEPS:
        cells, fails, case_only = [], [], True
        for set_name in sets:
            with_it, without = got[(set_name, "default")], got[(set_name, f"- {name}")]
            line = with_it["F1_line"] - without["F1_line"]
            case = with_it["case_gap"] - without["case_gap"]
            note = ""
            if line < -LINE_TIE:
                fails.append(set_name)
                case_only = False
            elif case > CASE_TIE:
                fails.append(set_name)
                bare = got.get((set_name, f"- capitals - {name}"))
                if bare is not None:
                    own = got[(set_name, "- capitals")]["case_gap"] - bare["case_gap"]
                    note = f" (capitals off: {own:+.2f})"
            song = without["step_worst_song"].split("_-_")[-1].replace("_", " ")[:18]
            cells.append(f"{line:+.3f} / {case:+.2f}{note}; worst song {song} "
                         f"{without['step_worst']:+.3f}")
        verdict = "keeps" if not fails else f"fails on {', '.join(fails)}"
        sections = "–"
        if ("jam-alt-dev", "default") in got:  # the one set with audio and sections
            delta = (got[("jam-alt-dev", "default")]["F1_sect"]
                     - got[("jam-alt-dev", f"- {name}")]["F1_sect"])
            sections = f"{delta:+.3f}"
        if fails and case_only and name != "capitals":
            verdict += " (case only)"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {sections} | {verdict} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--out", type=Path, default=Path("results/layout-protocol"))
    parser.add_argument("--sets", default="jam-alt-dev,ultrastar-dev,jam-alt-text,"
                        "jam-alt-dev:words,ultrastar-dev:words")
    args = parser.parse_args()
    rows = layout_rows()
    table, song_table, csv_rows = [], [], []
    for set_spec in args.sets.split(","):
        set_name, _, kind = set_spec.partition(":")
        words = kind == "words" or set_name not in AUDIO_SETS
        print(f"{set_spec}", file=sys.stderr, flush=True)
        if words:
            inputs = word_inputs(set_name, args.shared)
            lay = {label: {n: render_txt(layout_from_words(w, lang, options))
                           for n, (w, lang, _) in inputs.items()}
                   for label, (_, options) in rows.items()}
            references = {n: v[2] for n, v in inputs.items()}
            languages = {n: v[1] for n, v in inputs.items()}
        else:
            inputs = audio_inputs(set_name, args.shared, args.out, plain=False)
            lay = {label: {n: render_txt(lay_out(raw, replace(cues, options=options)))
                           for n, (raw, cues, _, _) in inputs.items()}
                   for label, (_, options) in rows.items()}
            plain = audio_inputs(set_name, args.shared, args.out, plain=True)
            lay["plain Whisper"] = {n: render_txt(lay_out(raw, replace(cues,
                                                                       options=PLAIN_LAYOUT)))
                                    for n, (raw, cues, _, _) in plain.items()}
            references = {n: v[3] for n, v in inputs.items()}
            languages = {n: v[2] for n, v in inputs.items()}
        sections = DATASETS[DATASET_OF[set_name]].sections
        scored = {label: score(h, references, languages, sections) for label, h in lay.items()}
        table.append(f"\n### {set_spec} ({len(inputs)} songs)\n")
        table.append("| row | F1 line | F1 sect | case gap | WER % | worst song (Δ line F1) |")
        table.append("|---|---|---|---|---|---|")
        for label, (metrics, per_song) in scored.items():
            against = rows[label][0] if label in rows else "default"
            base_lines = scored[against][1]
            drops = {n: per_song[n] - base_lines[n] for n in per_song
                     if not math.isnan(per_song[n] - base_lines[n])} or {"(none)": 0.0}
            worst = min(drops, key=drops.get)
            helped = max(drops, key=drops.get)  # for a left-out row: where the step costs most
            gap = 100 * (metrics["WER_case"] - metrics["WER"])
            worst_text = "" if label == against else f"{worst[:28]} ({drops[worst]:+.3f})"
            table.append(f"| {label} | {fmt(metrics['F1_line'])} | {fmt(metrics['F1_sect'])} "
                         f"| {gap:.2f} | {fmt(metrics['WER'], 100, 1)} | {worst_text} |")
            csv_rows.append({"set": set_spec, "row": label, "against": against,
                             "F1_line": metrics["F1_line"], "P_line": metrics["P_line"],
                             "R_line": metrics["R_line"], "F1_sect": metrics["F1_sect"],
                             "case_gap": gap, "WER": metrics["WER"],
                             "worst_song": worst, "worst_drop": drops[worst],
                             "step_worst_song": helped, "step_worst": -drops[helped]})
        if not words:
            song_table.append(f"\n### {set_spec}\n\n| song | plain Whisper | alt default |")
            song_table.append("|---|---|---|")
            for n in sorted(inputs):
                song_table.append(f"| {n} | {scored['plain Whisper'][1][n]:.3f} | "
                                  f"{scored['default'][1][n]:.3f} |")
    table.append(verdicts(csv_rows))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "protocol.md").write_text("\n".join(table) + "\n", encoding="utf-8")
    (args.out / "songs.md").write_text("\n".join(song_table) + "\n", encoding="utf-8")
    with open(args.out / "protocol.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, list(csv_rows[0]))
        writer.writeheader()
        writer.writerows(csv_rows)
    print("\n".join(table))
    print("\n".join(song_table))


if __name__ == "__main__":
    main()
