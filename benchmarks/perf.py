"""alt vs plain Whisper, per-stage times and batch sizes, measured in one run on this machine.

    python benchmarks/perf.py ../shared/jam-alt-dev --model base --separator spleeter

For every song of DATA/audio (language from DATA/metadata.csv when present):
  plain   openai-whisper ``transcribe()`` on the mix, same model and language, defaults otherwise
  cold    the alt pipeline, empty stem cache (separation included, outputs written)
  warm    the same with the stems already cached
Then the per-stage split (decode, separation, VAD, ASR encoder / decoder, outputs), ASR time for
one song's windows at several batch sizes, and the peak resident memory of this process.
(Memory against file length: `benchmarks/memory.py`.)  Prints tables, writes JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

import torch
import whisper

from alt_cli.audio import load_song, stereo_to_mono16k
from alt_cli.formats import transcript_document, write_outputs
from alt_cli.models import load_whisper
from alt_cli.options import AsrOptions, SeparatorOptions, TranscribeOptions
from alt_cli.pipeline import ModelStore, Transcriber
from alt_cli.segmentation import detect_vocal_activity
from alt_cli.transcription import WindowTranscriber


class ModuleTimer:
    """Wall time spent inside a module's forward (the encoder, the decoder)."""

    def __init__(self, module: torch.nn.Module):
        self.seconds = 0.0
        self._start = 0.0
        module.register_forward_pre_hook(self._before)
        module.register_forward_hook(self._after)

    def _before(self, *_):
        self._start = time.perf_counter()

    def _after(self, *_):
        self.seconds += time.perf_counter() - self._start


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def languages(data: Path) -> dict[str, str]:
    meta = data / "metadata.csv"
    if not meta.is_file():
        return {}
    with open(meta, encoding="utf-8") as handle:
        return {row["name"]: row.get("language", "") for row in csv.DictReader(handle)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder with audio/ (and metadata.csv)")
    parser.add_argument("--model", default="base")
    parser.add_argument("--separator", default="spleeter")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-sizes", default="1,2,4,8,16")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", type=Path, default=Path("results/perf.json"))
    args = parser.parse_args()

    songs = sorted(p for p in (args.data / "audio").iterdir() if not p.name.startswith("."))
    songs = songs[: args.limit] if args.limit else songs
    langs = languages(args.data)
    work = Path(tempfile.mkdtemp(prefix="alt-perf-"))
    models_cache = Path(tempfile.mkdtemp(prefix="alt-perf-models-"))
    model, _ = load_whisper(args.model, args.device, models_cache)  # converted once, not timed
    encoder, decoder = ModuleTimer(model.encoder), ModuleTimer(model.decoder)
    fp16 = args.device == "cuda"

    def transcriber(cache: Path, language: str | None) -> Transcriber:
        options = TranscribeOptions(
            model=args.model, device=args.device,
            separation=SeparatorOptions(separator=args.separator),
            asr=AsrOptions(language=language), cache_dir=cache,
        )  # fmt: skip
        store = ModelStore()
        store.add_whisper(args.model, args.device, model)  # the same loaded model for every run
        return Transcriber(options, models=store)

    rows, stages = [], {}
    stem_cache = work / "cache"
    for song in songs:
        language = langs.get(song.stem) or None
        row = {"song": song.stem}
        for phase in ("cold", "warm"):
            t = transcriber(stem_cache, language)
            t.models.separator(t.options.separation, t.device)  # loaded outside the timing
            enc0, dec0 = encoder.seconds, decoder.seconds
            started = time.perf_counter()
            result = t.transcribe(song)
            out_started = time.perf_counter()
            paths = {f: work / "out" / f"{song.stem}.{f}" for f in ("txt", "lrc", "json")}
            write_outputs(result, paths, transcript_document(result, t.options, args.model, "cpu"))
            row[f"{phase}_s"] = time.perf_counter() - started
            if phase == "cold":
                row["duration"] = result.duration
                for key, value in result.timings.items():
                    stages[key] = stages.get(key, 0.0) + value
                stages["output"] = stages.get("output", 0.0) + time.perf_counter() - out_started
                stages["asr_encoder"] = stages.get("asr_encoder", 0.0) + encoder.seconds - enc0
                stages["asr_decoder"] = stages.get("asr_decoder", 0.0) + decoder.seconds - dec0
        mix = load_song(song).mono16k()
        started = time.perf_counter()
        with torch.inference_mode():
            whisper.transcribe(model, mix, language=language, fp16=fp16, verbose=None)
        row["plain_s"] = time.perf_counter() - started
        row["cold_ratio"] = row["cold_s"] / row["plain_s"]
        row["warm_ratio"] = row["warm_s"] / row["plain_s"]
        rows.append(row)
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}),
              flush=True)

    audio = sum(r["duration"] for r in rows)
    totals = {k: sum(r[f"{k}_s"] for r in rows) for k in ("plain", "cold", "warm")}
    print(f"\nmachine: {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} torch threads, device {args.device}, model {args.model}, "
          f"separator {args.separator}, {len(rows)} songs, {audio / 60:.1f} min of audio\n")
    print("| song | audio s | plain s | alt cold s | alt warm s | cold / plain | warm / plain |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['song']} | {r['duration']:.0f} | {r['plain_s']:.1f} | {r['cold_s']:.1f} | "
              f"{r['warm_s']:.1f} | {r['cold_ratio']:.2f} | {r['warm_ratio']:.2f} |")
    print(f"| ALL | {audio:.0f} | {totals['plain']:.1f} | {totals['cold']:.1f} | "
          f"{totals['warm']:.1f} | {totals['cold'] / totals['plain']:.2f} | "
          f"{totals['warm'] / totals['plain']:.2f} |")

    print("\n| stage (cold run) | seconds | real-time factor |\n|---|---|---|")
    for key in ("decode", "separation", "vad", "asr", "asr_encoder", "asr_decoder", "output",
                "total"):
        print(f"| {key} | {stages.get(key, 0.0):.1f} | {stages.get(key, 0.0) / audio:.4f} |")
    print(f"| plain whisper | {totals['plain']:.1f} | {totals['plain'] / audio:.4f} |")

    # Batch sizes: the first song's windows, transcribed again at each size.
    first = load_song(songs[0])
    t = transcriber(stem_cache, langs.get(songs[0].stem) or None)
    separated = t.separate(first)
    windows = detect_vocal_activity(stereo_to_mono16k(separated.vocals)).windows
    audio16k = first.mono16k()
    language = langs.get(songs[0].stem) or "en"
    batch_rows = []
    print(f"\n| batch size | ASR s ({songs[0].stem}, {len(windows)} windows) | vs batch 1 |")
    print("|---|---|---|")
    for size in [int(s) for s in args.batch_sizes.split(",")]:
        decoder_asr = WindowTranscriber(model, AsrOptions(language=language, batch_size=size,
                                                          fp16=fp16))
        started = time.perf_counter()
        decoder_asr.transcribe(audio16k, windows, language)
        seconds = time.perf_counter() - started
        batch_rows.append({"batch_size": size, "seconds": seconds})
        print(f"| {size} | {seconds:.1f} | {seconds / batch_rows[0]['seconds']:.2f} |")
    print(f"\npeak resident memory of this process (alt and plain Whisper, every song): "
          f"{peak_rss_mb():.0f} MB")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "machine": platform.platform(), "threads": torch.get_num_threads(),
        "device": args.device, "model": args.model, "separator": args.separator,
        "songs": rows, "stages": stages, "audio_s": audio, "totals": totals,
        "batching": batch_rows, "peak_rss_mb": peak_rss_mb(),
    }, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
