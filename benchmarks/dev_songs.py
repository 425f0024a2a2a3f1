"""Transcribe a folder of songs with references (Jam-ALT layout) under two segmenters; print WER
and wall time per song, measured in the same run.

    python benchmarks/dev_songs.py ../shared/jam-alt-dev --model base --separator spleeter

Layout: DATA/audio/<name>.mp3, DATA/lyrics/<name>.txt, DATA/metadata.csv (name, language).
Writes the hypotheses and a JSON summary to --out.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

from alt_cli.formats import render_txt
from alt_cli.pipeline import TranscribeOptions, Transcriber
from alt_cli.scoring import score_lyrics
from alt_cli.separation import SeparatorOptions
from alt_cli.transcription import AsrOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--model", default="base")
    parser.add_argument("--separator", default="spleeter")
    parser.add_argument("--segmenters", default="rmsvad,native")
    parser.add_argument("--given-language", action="store_true",
                        help="pass the reference language instead of detecting it")
    parser.add_argument("--out", type=Path, default=Path("results/dev_songs"))
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="stem/model cache; a fresh folder measures cold separation")
    args = parser.parse_args()

    with open(args.data / "metadata.csv", encoding="utf-8") as handle:
        meta = {row["name"]: row for row in csv.DictReader(handle)}
    songs = sorted(p for p in (args.data / "audio").iterdir() if p.stem in meta)
    rows = []
    for segmenter in args.segmenters.split(","):
        hyps, refs, langs = [], [], []
        transcribers: dict[str | None, Transcriber] = {}
        for song in songs:
            language = meta[song.stem]["language"]
            key = language if args.given_language else None
            if key not in transcribers:  # models load once, outside the timed region
                transcribers[key] = Transcriber(TranscribeOptions(
                    model=args.model, segmenter=segmenter,
                    separation=SeparatorOptions(separator=args.separator),
                    asr=AsrOptions(language=key), cache_dir=args.cache_dir,
                ))  # fmt: skip
                transcribers[key].whisper_model  # noqa: B018 - load now
            started = time.perf_counter()
            result = transcribers[key].transcribe(song)
            wall = time.perf_counter() - started
            hyp = render_txt(result.lines)
            ref = (args.data / "lyrics" / f"{song.stem}.txt").read_text(encoding="utf-8")
            out = args.out / segmenter / f"{song.stem}.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(hyp, encoding="utf-8")
            wer = score_lyrics([ref], [hyp], language)["WER"]
            rows.append({"segmenter": segmenter, "song": song.stem, "language": language,
                         "detected": result.language, "duration": round(result.duration, 1),
                         "wall_s": round(wall, 1), "wer": round(100 * wer, 1)})
            print(json.dumps(rows[-1]), flush=True)
            hyps.append(hyp)
            refs.append(ref)
            langs.append(language)
        pooled = score_lyrics(refs, hyps, langs)
        rows.append({"segmenter": segmenter, "song": "ALL (pooled)",
                     "wall_s": round(sum(r["wall_s"] for r in rows
                                         if r["segmenter"] == segmenter), 1),
                     "wer": round(100 * pooled["WER"], 1),
                     "line_f1": round(pooled["F1_line"], 3),
                     "section_f1": round(pooled["F1_sect"], 3)})
        print(json.dumps(rows[-1]), flush=True)
    (args.out / "summary.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
