"""Demucs with many segments per forward pass: what ``demucs.apply.apply_model`` computes, batched.

``apply_model`` cuts a song into overlapping segments and runs the network on them one at a
time; on a GPU the network then sees a batch of one and the device idles between small kernels
(measured on an H200: 24 s for 12 min of audio with a four-model bag, against 5 s when 8
segments go through each forward pass).  This module keeps ``apply_model``'s arithmetic (the same
segments, the same context padding from the neighbouring audio, the same triangular
cross-fade, bag weights applied per source) and only stacks segments of equal padded length
into one batch.  With ``shifts=0`` (alt's setting) the result equals ``apply_model``'s up to the
floating-point order of a batched convolution (tested on the CPU).
"""

from __future__ import annotations

import torch
from demucs.apply import BagOfModels, TensorChunk
from demucs.htdemucs import HTDemucs
from demucs.utils import center_trim

DEFAULT_BATCH = 8  # segments per forward pass


def _valid_length(model, length: int, segment: float | None) -> int:
    """The padded input length ``apply_model`` gives a segment of ``length`` samples."""
    if isinstance(model, HTDemucs) and segment is not None:
        return int(segment * model.samplerate)
    if hasattr(model, "valid_length"):
        return int(model.valid_length(length))
    return length


@torch.inference_mode()
def apply_batched(model, mix: torch.Tensor, overlap: float = 0.25,
                  batch_size: int = DEFAULT_BATCH, device: str | torch.device | None = None,
                  segment: float | None = None, autocast: torch.dtype | None = None
                  ) -> torch.Tensor:
    """``(1, channels, n)`` mix -> ``(1, sources, channels, n)``, as ``apply_model(model, mix,
    shifts=0, split=True, overlap=overlap)`` computes it, ``batch_size`` segments at a time.

    The overlap-add runs where `mix` is (give it on the GPU to keep the segments there).
    `autocast` (torch.float16 / torch.bfloat16) runs the networks in that precision on a GPU
    (benchmarks/gpu_levers.py measures what it costs in accuracy); None: float32."""
    return apply_batched_many(model, [mix], overlap, batch_size, device, segment, autocast)[0]


@torch.inference_mode()
def apply_batched_many(model, mixes: list[torch.Tensor], overlap: float = 0.25,
                       batch_size: int = DEFAULT_BATCH, device: str | torch.device | None = None,
                       segment: float | None = None, autocast: torch.dtype | None = None
                       ) -> list[torch.Tensor]:
    """:func:`apply_batched` over several songs at once: segments of different songs share
    forward passes (a 3-min song has ~6 segments, a GPU pass takes 8 or more), and each song
    gets its own overlap-add.  Each result is what the song gets alone, up to the
    floating-point order of a convolution over another batch."""
    if not mixes:
        return []
    device = torch.device(device) if device is not None else mixes[0].device
    if isinstance(model, BagOfModels):
        totals = [0.0] * len(model.sources)
        estimates: list[torch.Tensor] | None = None
        for sub_model, weights in zip(model.models, model.weights, strict=True):
            outs = apply_batched_many(sub_model, mixes, overlap, batch_size, device, segment,
                                      autocast)
            for out in outs:
                for k, weight in enumerate(weights):
                    out[:, k] *= weight
            for k, weight in enumerate(weights):
                totals[k] += weight
            estimates = outs if estimates is None else [
                total + out for total, out in zip(estimates, outs, strict=True)]
        assert estimates is not None
        for estimate in estimates:
            for k in range(estimate.shape[1]):
                estimate[:, k] /= totals[k]
        return estimates
    model.to(device).eval()
    segment_length = int(model.samplerate * (segment or model.segment))
    stride = int((1 - overlap) * segment_length)
    weight = torch.cat([torch.arange(1, segment_length // 2 + 1, device=device),
                        torch.arange(segment_length - segment_length // 2, 0, -1, device=device)])
    weight = weight / weight.max()
    outs, sums = [], []
    # Segments grouped by padded length (only each song's last ones differ), in song order.
    groups: dict[int, list[tuple[int, int, int]]] = {}
    for song, mix in enumerate(mixes):
        batch, channels, length = mix.shape
        if batch != 1:
            raise ValueError("each mix is one song: shape (1, channels, n)")
        outs.append(torch.zeros(1, len(model.sources), channels, length, device=mix.device))
        sums.append(torch.zeros(length, device=mix.device))
        for offset in range(0, length, stride):
            chunk_length = min(segment_length, length - offset)
            groups.setdefault(_valid_length(model, chunk_length, segment), []).append(
                (song, offset, chunk_length))
    for valid, items in groups.items():
        for first in range(0, len(items), batch_size):
            part = items[first:first + batch_size]
            inputs = torch.cat([TensorChunk(mixes[song], offset, size).padded(valid)
                                for song, offset, size in part]).to(device)
            with torch.autocast(device.type, dtype=autocast or torch.float32,
                                enabled=autocast is not None):
                results = model(inputs).float()
            for (song, offset, size), result in zip(part, results, strict=True):
                chunk_out = center_trim(result[None], size)
                target = outs[song].device
                outs[song][..., offset:offset + segment_length] += (
                    weight[:size] * chunk_out).to(target)
                sums[song][offset:offset + segment_length] += weight[:size].to(target)
    for out, total in zip(outs, sums, strict=True):
        out /= total
    return outs
