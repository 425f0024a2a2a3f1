"""Whole-pipeline speed on a GPU: Demucs + RMS-VAD + batched Whisper vs plain Whisper.

    python benchmarks/gpu_pipeline.py song1.mp3 song2.mp3 --model large-v2 --device cuda
    python benchmarks/gpu_pipeline.py --synthetic 10 --random-weights --device cuda

Prints the real-time factor of each stage and "x real time" (audio seconds per wall second) for
alt and for plain ``whisper.transcribe()`` with the same model, fp16 on cuda.

``--random-weights`` builds randomly initialised networks of the real shapes (Whisper large-v2,
a bag of four hybrid Demucs like mdx_extra) for machines without the weights: compute per
window is the real one, but random weights never stop decoding by themselves, so every window
decodes exactly ``--tokens`` tokens (about what 30 s of sung lyrics take) and fallback is off on
both sides.  The figures are then throughput estimates, not measurements of the shipped models.
Also runs on a CPU (``--device cpu``) so the script is known to work anywhere.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import whisper
from whisper.model import ModelDimensions, Whisper

from alt_cli.audio import SEPARATION_SAMPLE_RATE, SongAudio, load_song
from alt_cli.models import load_whisper
from alt_cli.options import AsrOptions, SeparatorOptions, TranscribeOptions
from alt_cli.pipeline import ModelStore, Transcriber

SHAPES = {  # (state, heads, layers) of the random stand-ins
    "large-v2": (1280, 20, 32),
    "tiny": (384, 6, 4),  # for a quick check that the script runs on a CPU
}


def random_whisper(name: str) -> Whisper:
    state, heads, layers = SHAPES[name]
    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=state, n_audio_head=heads,
                           n_audio_layer=layers, n_vocab=51865, n_text_ctx=448,
                           n_text_state=state, n_text_head=heads, n_text_layer=layers)
    torch.manual_seed(0)
    model = Whisper(dims)
    with torch.no_grad():  # left uninitialised by whisper (a checkpoint fills it): avoid NaNs
        model.decoder.positional_embedding.normal_(std=0.02)
    model.set_alignment_heads(whisper._ALIGNMENT_HEADS[name])
    return model
SOURCES = ["drums", "bass", "other", "vocals"]


def synthetic_song(seconds: float, seed: int) -> SongAudio:
    """A stand-in song: a steady backing plus 'vocal' bursts (sung phrases with rests)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SEPARATION_SAMPLE_RATE)
    t = np.arange(n) / SEPARATION_SAMPLE_RATE
    backing = 0.05 * rng.standard_normal(n)
    phrase = ((t % 12.0) < 9.0) & (t > 15.0)  # 9 s phrases, 3 s rests, 15 s intro
    voice = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 5 * t)) * phrase
    mono = (backing + voice).astype(np.float32)
    stereo = np.stack([mono, mono])
    return SongAudio(Path(f"synthetic-{seed}.wav"), stereo, f"synthetic{seed:04d}")


def random_demucs_repo(folder: Path, small: bool = False) -> Path:
    """Four random hybrid Demucs (mdx_extra's architecture family) saved as a local repo."""
    from demucs.hdemucs import HDemucs
    from demucs.states import get_state, save_with_checksum

    names = []
    for index in range(4):
        torch.manual_seed(index)
        model = HDemucs(sources=SOURCES, audio_channels=2, samplerate=SEPARATION_SAMPLE_RATE,
                        **({"channels": 8} if small else {}))
        args, kwargs = model._init_args_kwargs
        save_with_checksum({"klass": HDemucs, "args": args, "kwargs": kwargs,
                            "state": get_state(model, None, half=False)}, folder / f"r{index}.th")
        names.append(f"r{index}")
    (folder / "random_mdx.yaml").write_text(f"models: {names}\nsegment: 44\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio", nargs="*", type=Path)
    parser.add_argument("--synthetic", type=int, default=0, help="add N synthetic songs")
    parser.add_argument("--seconds", type=float, default=180.0, help="synthetic song length")
    parser.add_argument("--model", default="large-v2")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--tokens", type=int, default=96, help="decode length, random weights")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--demucs-repo", type=Path, default=None)
    parser.add_argument("--demucs-model", default="mdx_extra")
    parser.add_argument("--json", type=Path, default=Path("results/gpu_pipeline.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="alt-gpu-"))
    songs = [load_song(p) for p in args.audio]
    songs += [synthetic_song(args.seconds, i) for i in range(args.synthetic)]
    if not songs:
        parser.error("give audio files or --synthetic N")
    fp16 = args.device == "cuda"
    if args.random_weights:
        model = random_whisper(args.model).to(args.device)
        demucs_repo = random_demucs_repo(work, small=args.model != "large-v2")
        demucs_model = "random_mdx"
        asr = AsrOptions(language="en", batch_size=args.batch_size, temperatures=(0.0,),
                         logprob_threshold=-float("inf"), compression_ratio_threshold=float("inf"),
                         no_speech_threshold=1.1, sample_len=args.tokens, fp16=fp16)
        plain_kwargs = dict(temperature=0.0, logprob_threshold=None, no_speech_threshold=None,
                            compression_ratio_threshold=None, sample_len=args.tokens)
    else:
        model, _ = load_whisper(args.model, args.device, work)
        demucs_repo, demucs_model = args.demucs_repo, args.demucs_model
        asr = AsrOptions(batch_size=args.batch_size, fp16=fp16)
        plain_kwargs = {}
    options = TranscribeOptions(
        model=args.model, device=args.device, asr=asr, cache_dir=work,
        separation=SeparatorOptions(separator="demucs", demucs_model=demucs_model,
                                    demucs_repo=demucs_repo),
    )  # fmt: skip
    store = ModelStore()
    store.add_whisper(args.model, args.device, model)
    transcriber = Transcriber(options, models=store)
    store.separator(options.separation, transcriber.device)  # load outside the timing

    warm = songs[0]  # CUDA kernels and cuDNN plans are chosen on the first call: warm up once
    transcriber.transcribe(SongAudio(warm.path, warm.stereo[:, : 40 * SEPARATION_SAMPLE_RATE],
                                     "warmup"))
    stages: dict[str, float] = {}
    audio_s = sum(song.duration for song in songs)
    if args.device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for song in songs:
        result = transcriber.transcribe(song)
        for key, value in result.timings.items():
            stages[key] = stages.get(key, 0.0) + value
    if args.device == "cuda":
        torch.cuda.synchronize()
    alt_wall = time.perf_counter() - started

    started = time.perf_counter()
    for song in songs:
        with torch.inference_mode():
            whisper.transcribe(model, song.mono16k(), language="en", fp16=fp16, verbose=None,
                               **plain_kwargs)
    if args.device == "cuda":
        torch.cuda.synchronize()
    plain_wall = time.perf_counter() - started

    device_name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    weights = f" (random weights, {args.tokens} tokens/window)" if args.random_weights else ""
    print(f"device {device_name}, model {args.model}{weights}, {len(songs)} songs, "
          f"{audio_s / 60:.1f} min of audio, batch {args.batch_size}")
    print("| stage | seconds | real-time factor |\n|---|---|---|")
    for key in ("decode", "separation", "vad", "asr", "total"):
        value = stages.get(key, 0.0)
        print(f"| {key} | {value:.2f} | {value / audio_s:.4f} |")
    print(f"\nalt whole pipeline: {alt_wall:.1f} s = {audio_s / alt_wall:.0f}x real time")
    print(f"plain whisper transcribe(): {plain_wall:.1f} s = {audio_s / plain_wall:.0f}x real time")
    print(f"alt / plain wall time: {alt_wall / plain_wall:.2f}")
    if args.device == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "device": device_name, "model": args.model, "random_weights": args.random_weights,
        "tokens": args.tokens, "songs": len(songs), "audio_s": audio_s, "stages": stages,
        "alt_wall_s": alt_wall, "plain_wall_s": plain_wall,
    }, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
