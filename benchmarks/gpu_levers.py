"""Issue 11's GPU levers, each measured alone and all together, in one run on one GPU.

    python benchmarks/gpu_levers.py --plain --peer --json $OUT/levers.json   # on the GPU
    python benchmarks/gpu_levers.py --device cpu --model tiny --small --songs 2 --seconds 40
                                                                        # a smoke run anywhere

Random networks of the real shapes (Whisper large-v2, a bag of four hybrid Demucs like
``mdx_extra``; see ``gpu_pipeline.py``: real weights do not travel to the GPU machine), synthetic
songs, every window decoding exactly ``--tokens`` tokens, beam 5, word timings on, fallback off
(random weights would send every window through it).  Prints one table:

* separation alone: Demucs one segment per pass (``apply_model``'s arithmetic) / 8 per pass
  (the shipped default) / with cuDNN's autotuner / 16 per pass / under bf16 and fp16 autocast,
  each with the SDR of its vocals against the float32 ones;
* Whisper alone, on the windows the RMS-VAD finds in the separated vocals: openai-whisper's
  per-row bookkeeping / batched bookkeeping (with the tokens compared) / float16 weights kept /
  windows of all songs in shared batches (16, 32) / without word timings;
* the whole pipeline: as before these levers (per song, one segment per pass, per-row
  bookkeeping) and with them (``Transcriber.transcribe_songs``), with peak GPU memory.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_pipeline import random_demucs_repo, random_whisper, synthetic_song  # noqa: E402

import alt_cli.pipeline as pipeline_module  # noqa: E402
import alt_cli.transcription as transcription_module  # noqa: E402
from alt_cli.audio import stereo_to_mono16k  # noqa: E402
from alt_cli.options import AsrOptions, SeparatorOptions, TranscribeOptions  # noqa: E402
from alt_cli.pipeline import ModelStore, Transcriber  # noqa: E402
from alt_cli.segmentation import detect_vocal_activity  # noqa: E402
from alt_cli.transcription import WindowJob, WindowTranscriber  # noqa: E402


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(device: str, run):
    sync(device)
    started = time.perf_counter()
    out = run()
    sync(device)
    return out, time.perf_counter() - started


MIN_SDR_DB = 40.0  # a faster separation must keep its stems this close to float32's


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Signal-to-distortion ratio of `estimate` against `reference`, in dB."""
    error = float(np.sum((reference.astype(np.float64) - estimate) ** 2))
    return float("inf") if error == 0 else 10 * np.log10(float(np.sum(reference**2.0)) / error)


class Table:
    def __init__(self, audio_s: float, path: Path) -> None:
        self.audio_s, self.path, self.rows = audio_s, path, []

    def add(self, group: str, name: str, seconds: float, **extra) -> None:
        row = {"group": group, "lever": name, "seconds": seconds,
               "x_real_time": self.audio_s / seconds, **extra}
        self.rows.append(row)
        notes = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in extra.items())
        print(f"| {group} | {name} | {seconds:.2f} | {self.audio_s / seconds:.0f}x | {notes} |",
              flush=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"audio_s": self.audio_s, "rows": self.rows}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--model", default="large-v2")
    parser.add_argument("--tokens", type=int, default=96)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--small", action="store_true", help="small Demucs (CPU smoke runs)")
    parser.add_argument("--quick", action="store_true",
                        help="skip the baseline, autocast and per-row rows (a second run)")
    parser.add_argument("--plain", action="store_true",
                        help="also time plain whisper.transcribe() on the same songs")
    parser.add_argument("--plain-songs", type=int, default=None,
                        help="time plain Whisper on the first N songs only (it is slow)")
    parser.add_argument("--peer", action="store_true",
                        help="also run benchmarks/peer_transformers.py, greedy and beam 5")
    parser.add_argument("--pipeline-only", action="store_true",
                        help="only the whole-pipeline rows (and --peer / --plain), with "
                             "--demucs-batch and --whisper-batch as a full run found best")
    parser.add_argument("--demucs-batch", type=int, default=24)
    parser.add_argument("--whisper-batch", type=int, default=32)
    parser.add_argument("--json", type=Path, default=Path("results/gpu_levers.json"))
    args = parser.parse_args()
    device = args.device
    work = Path(tempfile.mkdtemp(prefix="alt-levers-"))
    songs = [synthetic_song(args.seconds, i) for i in range(args.songs)]
    audio_s = sum(song.duration for song in songs)
    table = Table(audio_s, args.json)
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(f"device {name}, torch {torch.__version__}, Whisper {args.model} and a 4-model hybrid "
          f"Demucs bag (random weights), {len(songs)} songs, {audio_s / 60:.1f} min, "
          f"{args.tokens} tokens/window, beam 5")
    print("| stage | lever | seconds | x real time | notes |\n|---|---|---|---|---|", flush=True)
    if args.peer:  # first: a fresh process, before this one holds the GPU's memory
        peer_rows(args, device, audio_s, table)

    fp16 = device == "cuda"
    model = random_whisper(args.model).to(device)
    repo = random_demucs_repo(work, small=args.small)
    asr = AsrOptions(language="en", batch_size=16, temperatures=(0.0,),
                     logprob_threshold=-float("inf"), compression_ratio_threshold=float("inf"),
                     no_speech_threshold=1.1, sample_len=args.tokens, fp16=fp16)
    store = ModelStore()  # one separator and one Whisper for every row
    store.add_whisper(args.model, device, model)

    def transcriber(cache: str, **asr_changes) -> Transcriber:
        options = TranscribeOptions(
            model=args.model, device=device, cache_dir=work / cache,
            asr=AsrOptions(**{**asr.__dict__, **asr_changes}),
            separation=SeparatorOptions(separator="demucs", demucs_model="random_mdx",
                                        demucs_repo=repo))
        return Transcriber(options, models=store)

    if args.plain:
        plain_rows(args, device, songs[: args.plain_songs or len(songs)], table, model)

    # -- separation alone ------------------------------------------------------------------
    base = transcriber("unused")
    separator = base.models.separator(base.options.separation, base.device)
    separator.separate(songs[0].stereo[:, : 50 * 44100])  # kernels, allocator
    warm = WindowJob(songs[0].mono16k(), detect_vocal_activity(
        songs[0].mono16k()).windows[:2], "en")
    WindowTranscriber(model, asr, batched_bookkeeping=False).transcribe_many([warm])

    def separate_all(batch: int, autocast=None) -> list[np.ndarray]:
        separator.batch_size, separator.autocast = batch, autocast
        return [separator.separate(song.stereo) for song in songs]

    def separate_together(batch: int, autocast=None) -> list[np.ndarray]:
        separator.batch_size, separator.autocast = batch, autocast
        return separator.separate_many([song.stereo for song in songs])

    if args.pipeline_only:
        torch.backends.cudnn.benchmark = True
        whole_pipeline(args, device, songs, table, transcriber, separator, args.demucs_batch,
                       args.whisper_batch, {})
        return
    if not args.quick:
        baseline(args, device, songs, table, transcriber, separator)
    reference, seconds = timed(device, lambda: separate_all(8))
    table.add("separation", "8 segments per pass, float32 (the reference stems)", seconds)
    torch.backends.cudnn.benchmark = True
    separate_all(8)  # the autotuner's first look at each shape
    _, seconds = timed(device, lambda: separate_all(8))
    table.add("separation", "8 per pass + cudnn.benchmark", seconds)
    fastest = {}  # autocast dtype -> best seconds, songs together
    best_batch, best_seconds = 8, float("inf")
    for batch in (8, 16, 24):
        try:
            separate_together(batch)  # the autotuner's look at the new batch shapes
            stems, seconds = timed(device, lambda batch=batch: separate_together(batch))
        except RuntimeError as error:  # out of memory
            print(f"| separation | songs together, {batch} per pass | failed: "
                  f"{str(error)[:80]} |")
            break
        table.add("separation", f"songs together, {batch} per pass + cudnn.benchmark", seconds,
                  sdr_db=worst_sdr(reference, stems))
        if seconds < best_seconds:
            best_batch, best_seconds = batch, seconds
    fastest[None] = best_seconds
    if not args.quick:
        fastest.update(precision_rows(device, table, separate_together, best_batch, reference))

    whisper_batch = whisper_rows(args, device, songs, table, model, asr, reference)

    whole_pipeline(args, device, songs, table, transcriber, separator, best_batch,
                   whisper_batch, fastest)


def whole_pipeline(args, device, songs, table, transcriber, separator, demucs_batch: int,
                   whisper_batch: int, fastest: dict) -> None:
    """Whole-pipeline rows: all songs through ``Transcriber.transcribe_songs`` with the CPU's
    share after the GPU's (``cpu_workers`` 0) and beside it (the default on a GPU); then the
    fastest Demucs precision if one beat float32 (`fastest`: dtype -> separation seconds)."""
    separator.batch_size = demucs_batch
    levers = f"{demucs_batch} Demucs segments/pass, Whisper batches of {whisper_batch}"

    def pipeline_row(label: str, cache: str, workers: int, autocast=None) -> None:
        separator.autocast = autocast

        def run(t: Transcriber):
            t.cpu_workers = workers
            return t.transcribe_songs(songs)

        run(transcriber(cache + "-warm", batch_size=whisper_batch))  # cuDNN's shapes
        after = transcriber(cache, batch_size=whisper_batch)
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        results, seconds = timed(device, lambda: run(after))
        stages = {key: sum(r.timings.get(key, 0.0) for r in results)
                  for key in ("separation", "structure", "vad", "asr")}
        peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else 0.0
        table.add("pipeline", label, seconds, **{f"{k}_s": v for k, v in stages.items()},
                  peak_gpu_gib=peak, windows=sum(len(r.windows) for r in results))

    pipeline_row(f"all songs together ({levers}), float32, CPU share after the GPU's",
                 "serial", 0)
    pipeline_row(f"all songs together ({levers}), float32, CPU share beside the GPU's",
                 "beside", 4)
    best = min(fastest, key=fastest.get) if fastest else None
    if best is not None:
        pipeline_row(f"all songs together ({levers}), {best} Demucs, CPU share beside",
                     "beside-fast", 4, best)


def worst_sdr(reference: list[np.ndarray], stems: list[np.ndarray]) -> float:
    """The lowest SDR (dB) of the songs' stems against their reference stems."""
    return min(sdr(r, s) for r, s in zip(reference, stems, strict=True))


def plain_rows(args, device, songs, table, model) -> None:
    """openai-whisper's own long-form transcribe() on the mixes, same model and token budget
    (its x real time is over the songs it ran on)."""
    import whisper

    def run() -> None:
        for song in songs:
            with torch.inference_mode():
                whisper.transcribe(model, song.mono16k(), language="en", fp16=device == "cuda",
                                   verbose=None, temperature=0.0, logprob_threshold=None,
                                   no_speech_threshold=None, compression_ratio_threshold=None,
                                   sample_len=args.tokens, beam_size=5)

    _, seconds = timed(device, run)
    audio_s = sum(song.duration for song in songs)
    table.add("peer", f"plain whisper.transcribe(), beam 5, no separation, on "
              f"{audio_s / 60:.1f} min", seconds * table.audio_s / audio_s,
              measured_s=seconds)


def peer_rows(args, device, audio_s, table) -> None:
    """The transformers batched-chunk recipe (benchmarks/peer_transformers.py), greedy and
    beam 5, in a fresh process on the same machine."""
    import subprocess

    script = Path(__file__).resolve().parent / "peer_transformers.py"
    out = args.json.parent / "peer_transformers.json"
    done = subprocess.run([sys.executable, str(script), "--seconds", str(audio_s),
                           "--model", args.model, "--batch-size", "16", "--beams", "1", "5",
                           "--tokens", str(args.tokens), "--device", device,
                           "--json", str(out)], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"| peer | transformers | failed: {done.stderr[-300:]} |", flush=True)
        return
    for result in json.loads(out.read_text()):
        table.add("peer", f"transformers batched chunks, beam {result['beams']}, batch 16",
                  result["wall_s"], peak_gpu_gib=result["peak_gpu_gib"] or 0.0)


def baseline(args, device, songs, table, transcriber, separator) -> None:
    """The whole pipeline as before these levers, while Whisper's weights are still float32
    and cuDNN untuned."""
    before = transcriber("before")
    separator.batch_size, separator.autocast = 1, None
    real_class = pipeline_module.WindowTranscriber
    pipeline_module.WindowTranscriber = lambda m, o: real_class(m, o, batched_bookkeeping=False)
    try:
        results, seconds = timed(device, lambda: [before.transcribe(song) for song in songs])
    finally:
        pipeline_module.WindowTranscriber = real_class
    stages = {key: sum(r.timings.get(key, 0.0) for r in results)
              for key in ("separation", "vad", "asr")}
    table.add("pipeline", "before: per song, 1 segment/pass, per-row bookkeeping", seconds,
              separation_s=stages["separation"], asr_s=stages["asr"])
    table.add("separation", "one segment per pass (apply_model's way; from the row above)",
              stages["separation"])


def precision_rows(device, table, separate_together, batch, reference) -> dict:
    """Demucs under bf16 / fp16 autocast (songs together): time and SDR against the float32
    stems; returns {dtype: seconds} for those that ran within MIN_SDR_DB."""
    seconds_by_dtype = {}
    for label, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        if device != "cuda":
            break
        try:
            separate_together(batch, dtype)
            stems, seconds = timed(device, lambda dtype=dtype: separate_together(batch, dtype))
        except RuntimeError as error:
            print(f"| separation | {label} autocast | failed: {str(error)[:80]} |")
            continue
        quality = worst_sdr(reference, stems)
        table.add("separation", f"songs together, {batch} per pass + {label} autocast", seconds,
                  sdr_db=quality)
        if quality >= MIN_SDR_DB:  # only a precision that keeps the stems counts as a lever
            seconds_by_dtype[dtype] = seconds
    return seconds_by_dtype


def whisper_rows(args, device, songs, table, model, asr, reference) -> int:
    """Whisper alone on the windows the RMS-VAD finds in the float32 vocals; returns the
    faster shared batch size."""
    vad = TranscribeOptions().vad
    jobs = []
    for song, vocals in zip(songs, reference, strict=True):
        activity = detect_vocal_activity(stereo_to_mono16k(vocals), vad, song.mono16k())
        jobs.append(WindowJob(song.mono16k(), activity.windows, "en"))
    if not any(job.windows for job in jobs):  # a tiny random Demucs hears nothing (smoke runs)
        jobs = [WindowJob(song.mono16k(), detect_vocal_activity(song.mono16k()).windows, "en")
                for song in songs]
    count = sum(len(job.windows) for job in jobs)
    print(f"windows: {count} ({sum(w.duration for j in jobs for w in j.windows):.0f} s)")

    def per_song(decoder: WindowTranscriber):
        return [decoder.transcribe(job.audio16k, job.windows, job.language) for job in jobs]

    if not args.quick:
        per_row_rows(device, table, model, asr, jobs, per_song, count)
    best_size, best_seconds = 16, float("inf")
    for size in (16, 32):
        shared = WindowTranscriber(model, AsrOptions(**{**asr.__dict__, "batch_size": size}))
        shared.transcribe_many(jobs[:2])  # warm: the shapes of a full batch
        _, seconds = timed(device, lambda shared=shared: shared.transcribe_many(jobs))
        table.add("whisper", f"+ songs in shared batches of {size}", seconds)
        if seconds < best_seconds:
            best_size, best_seconds = size, seconds
    no_words = WindowTranscriber(model, AsrOptions(**{**asr.__dict__, "batch_size": best_size,
                                                      "word_timestamps": False}))
    _, seconds = timed(device, lambda: no_words.transcribe_many(jobs))
    table.add("whisper", f"(shared batches of {best_size} without word timings)", seconds)
    return best_size


def per_row_rows(device, table, model, asr, jobs, per_song, count) -> None:
    """openai-whisper's bookkeeping, then each of ours alone (texts compared)."""
    stock = WindowTranscriber(model, asr, batched_bookkeeping=False)
    stock_out, seconds = timed(device, lambda: per_song(stock))
    table.add("whisper", "openai-whisper's per-row bookkeeping, per song", seconds, windows=count)
    real_half = transcription_module.store_half_weights
    transcription_module.store_half_weights = lambda m: None  # this lever alone first
    fast = WindowTranscriber(model, asr)
    fast_out, seconds = timed(device, lambda: per_song(fast))
    transcription_module.store_half_weights = real_half
    same = sum(a.text == b.text for s, t in zip(stock_out, fast_out, strict=True)
               for a, b in zip(s, t, strict=True))
    table.add("whisper", "batched bookkeeping, per song", seconds,
              same_text_as_per_row=f"{same}/{count}")
    fast = WindowTranscriber(model, asr)  # now keeps float16 weights
    half_out, seconds = timed(device, lambda: per_song(fast))
    same = sum(a.text == b.text for s, t in zip(fast_out, half_out, strict=True)
               for a, b in zip(s, t, strict=True))
    table.add("whisper", "+ float16 weights kept", seconds, same_text=f"{same}/{count}")


if __name__ == "__main__":
    main()
