"""Batched Demucs equals ``demucs.apply.apply_model`` (shifts=0, split=True) on the CPU: a single
model, a weighted bag, and a hybrid (HDemucs, the family of the paper's mdx_extra)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from demucs.apply import BagOfModels, apply_model
from demucs.hdemucs import HDemucs
from demucs.states import load_model

from alt_cli.separation.batched import apply_batched
from tests.test_separation import save_tiny_demucs

SOURCES = ["drums", "bass", "other", "vocals"]


def _mix(seconds: float, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(1, 2, int(seconds * 44100) + 17, generator=generator)


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_batched_demucs_equals_apply_model(tmp_path, batch_size):
    model = load_model(save_tiny_demucs(tmp_path / "tiny.th")).eval()
    mix = _mix(23)
    expected = apply_model(model, mix, shifts=0, split=True, overlap=0.25, progress=False)
    actual = apply_batched(model, mix, overlap=0.25, batch_size=batch_size)
    assert actual.shape == expected.shape
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-7)


def test_batched_weighted_bag_equals_apply_model(tmp_path):
    models = [load_model(save_tiny_demucs(tmp_path / f"m{seed}.th", seed=seed)).eval()
              for seed in (0, 1)]
    bag = BagOfModels(models, weights=[[1, 2, 1, 1], [1, 1, 1, 3]], segment=10)
    mix = _mix(21, seed=1)
    expected = apply_model(bag, mix, shifts=0, split=True, overlap=0.25, progress=False)
    torch.testing.assert_close(apply_batched(bag, mix, batch_size=4), expected,
                               rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_batched_hybrid_demucs_equals_apply_model():
    torch.manual_seed(0)
    model = HDemucs(sources=SOURCES, audio_channels=2, samplerate=44100, segment=8,
                    channels=4).eval()
    mix = _mix(20, seed=2)
    expected = apply_model(model, mix, shifts=0, split=True, overlap=0.25, progress=False)
    torch.testing.assert_close(apply_batched(model, mix, batch_size=4), expected,
                               rtol=1e-5, atol=1e-6)


def test_songs_separated_together_equal_songs_alone(tmp_path):
    """Segments of three songs of different lengths share forward passes; each song's result
    is its own (its own normalisation and overlap-add)."""
    from alt_cli.separation import separate_cached, separate_cached_many
    from alt_cli.separation.batched import apply_batched_many
    from alt_cli.separation.demucs import DemucsSeparator

    models = [load_model(save_tiny_demucs(tmp_path / f"m{seed}.th", seed=seed)).eval()
              for seed in (0, 1)]
    bag = BagOfModels(models, weights=[[1, 2, 1, 1], [1, 1, 1, 3]], segment=10)
    mixes = [_mix(21, seed=1), _mix(4, seed=2), 3 * _mix(13, seed=3)]
    together = apply_batched_many(bag, mixes, batch_size=5)
    for mix, out in zip(mixes, together, strict=True):
        torch.testing.assert_close(out, apply_batched(bag, mix, batch_size=1),
                                   rtol=1e-5, atol=1e-7)

    repo = tmp_path / "repo"
    save_tiny_demucs(repo / "tiny.th")
    separator = DemucsSeparator("tiny", repo)
    separator.batch_size = 4
    stereos = [m[0].numpy() for m in mixes]
    songs = [(stereo, f"song{k}") for k, stereo in enumerate(stereos)]
    shared = separate_cached_many(separator, songs, tmp_path / "cache")
    alone = [separate_cached(separator, s, h, tmp_path / "cache-alone") for s, h in songs]
    for mine, theirs in zip(shared, alone, strict=True):
        assert not mine.cached and mine.seconds > 0
        np.testing.assert_allclose(mine.vocals, theirs.vocals, rtol=0, atol=2e-3)  # float16
    again = separate_cached_many(separator, songs, tmp_path / "cache")
    assert all(r.cached for r in again)
    assert all(np.array_equal(a.vocals, b.vocals) for a, b in zip(again, shared, strict=True))
