"""The peer alt must beat on a GPU: the Hugging Face transformers batched-chunk Whisper recipe.

What the fastest popular Whisper runners do: cut the mix into 30-s chunks (no separation, no
VAD), compute log-mel features, and decode the chunks in batches with
``WhisperForConditionalGeneration`` in fp16.  With ``--random-weights`` the network has the real
shapes of ``--model`` and random weights (real weights do not travel to the GPU machine), and
every chunk decodes exactly ``--tokens`` tokens, like ``benchmarks/gpu_pipeline.py``, so the two
scripts time the same work.  Run both in the same session and compare their "x real time".

    python benchmarks/peer_transformers.py --seconds 720 --model large-v2 --batch-size 16 \
        --beams 1 5 --tokens 96          # on the GPU machine
    python benchmarks/peer_transformers.py --device cpu --model tiny --seconds 60 \
        --batch-size 2 --beams 2 --tokens 8   # a smoke run anywhere

Needs ``transformers`` (on the GPU machine's image; ``pip install transformers`` elsewhere): it
is a benchmark peer, not a dependency of alt.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

# (d_model, encoder/decoder layers, heads) of the released checkpoints; 80 mel bins, 51865 tokens.
DIMS = {"tiny": (384, 4, 6), "base": (512, 6, 8), "small": (768, 12, 12),
        "medium": (1024, 24, 16), "large-v2": (1280, 32, 20)}
SAMPLE_RATE = 16000
CHUNK_S = 30
PROMPT = [50258, 50259, 50359, 50363]  # <|startoftranscript|><|en|><|transcribe|><|notimestamps|>


def build_model(name: str, device: str):
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    width, layers, heads = DIMS[name]
    config = WhisperConfig(vocab_size=51865, num_mel_bins=80, d_model=width,
                           encoder_layers=layers, decoder_layers=layers,
                           encoder_attention_heads=heads, decoder_attention_heads=heads,
                           encoder_ffn_dim=4 * width, decoder_ffn_dim=4 * width,
                           max_source_positions=1500, max_target_positions=448,
                           decoder_start_token_id=PROMPT[0], eos_token_id=50257,
                           pad_token_id=50257)
    torch.manual_seed(0)
    with torch.device(device):  # initialised where it runs: 1.5 G parameters are slow on a CPU
        model = WhisperForConditionalGeneration(config).eval()
    return model.half() if device == "cuda" else model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="large-v2", choices=sorted(DIMS))
    parser.add_argument("--seconds", type=float, default=720.0, help="audio to transcribe")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--beams", type=int, nargs="+", default=[5],
                        help="beam sizes, each timed in turn (the model is built once)")
    parser.add_argument("--tokens", type=int, default=96, help="tokens decoded per chunk")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", type=Path, default=Path("results/peer_transformers.json"))
    args = parser.parse_args()

    from transformers import GenerationMixin, WhisperFeatureExtractor

    model = build_model(args.model, args.device)
    extractor = WhisperFeatureExtractor(feature_size=80)
    audio = (0.1 * np.random.default_rng(0).standard_normal(
        int(args.seconds * SAMPLE_RATE))).astype(np.float32)
    step = CHUNK_S * SAMPLE_RATE
    chunks = [audio[i:i + step] for i in range(0, len(audio), step)]
    dtype = next(model.parameters()).dtype

    def run(selected: list[np.ndarray], beams: int) -> None:
        for first in range(0, len(selected), args.batch_size):
            batch = selected[first:first + args.batch_size]
            features = extractor(batch, sampling_rate=SAMPLE_RATE, return_tensors="pt")
            inputs = features.input_features.to(args.device, dtype)
            prompt = torch.tensor([PROMPT] * len(batch), device=args.device)
            with torch.inference_mode():
                # GenerationMixin's own loop: Whisper's generate() adds long-form and language
                # logic the recipe does not use; tokens forced to exactly --tokens per chunk.
                GenerationMixin.generate(model, input_features=inputs, decoder_input_ids=prompt,
                                         num_beams=beams, do_sample=False,
                                         max_new_tokens=args.tokens,
                                         min_new_tokens=args.tokens)

    results = []
    for beams in args.beams:
        run(chunks[:1], beams)  # warm-up: kernels, allocator
        if args.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        run(chunks, beams)
        if args.device == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - started
        peak = torch.cuda.max_memory_allocated() / 2**30 if args.device == "cuda" else None
        results.append({"model": args.model, "device": args.device, "seconds": args.seconds,
                        "chunks": len(chunks), "batch_size": args.batch_size, "beams": beams,
                        "tokens": args.tokens, "wall_s": wall,
                        "x_real_time": args.seconds / wall, "peak_gpu_gib": peak})
        print(f"transformers batched chunks ({args.model}, beam {beams}, batch "
              f"{args.batch_size}, {args.tokens} tokens/chunk, {args.device}): {wall:.1f} s for "
              f"{args.seconds / 60:.1f} min = {args.seconds / wall:.1f}x real time"
              + (f", peak GPU memory {peak:.1f} GiB" if peak is not None else ""), flush=True)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
