"""Long files: signals spilled to disk and every stage working in blocks gives the same song as
the in-memory path (bit for bit where the arithmetic allows), and leaves no file behind."""

from __future__ import annotations

import os
import subprocess

import librosa
import numpy as np
import pytest
import soundfile

from alt_cli import audio as audio_module
from alt_cli.audio import load_song, stereo_to_mono16k, whisper_input
from alt_cli.options import SeparatorOptions, VadOptions
from alt_cli.segmentation import detect_vocal_activity, frame_rms
from alt_cli.separation import PassthroughSeparator, make_separator, separate_cached
from alt_cli.separation import demucs as demucs_module
from alt_cli.signals import DiskSignal, new_signal, read_padded
from tests.test_separation import save_tiny_demucs


def _signal(n: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    shape = (channels, n) if channels > 1 else (n,)
    return (0.1 * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def test_disk_signal_reads_and_writes_slices(tmp_path):
    data = _signal(10_000)
    disk = DiskSignal.temporary(tmp_path, data.shape, np.float32)
    assert list(tmp_path.iterdir()) == []  # unlinked at once: nothing to clean up, ever
    disk[:, :4000] = data[:, :4000]
    disk[:, 4000:] = data[:, 4000:]
    np.testing.assert_array_equal(disk[:, 123:9000], data[:, 123:9000])
    np.testing.assert_array_equal(disk[1, 5:50], data[1, 5:50])
    np.testing.assert_array_equal(disk[0], data[0])
    np.testing.assert_array_equal(np.asarray(disk), data)
    short = disk.truncated(500)
    assert short.shape == (2, 500)
    np.testing.assert_array_equal(short[:, :], data[:, :500])
    np.testing.assert_array_equal(read_padded(short, -3, 502)[:, 3:503], data[:, :500])
    assert not read_padded(short, -3, 502)[:, :3].any()
    with pytest.raises(TypeError):
        disk[:, ::2]


def test_npy_files_written_in_blocks_load_with_numpy(tmp_path):
    data = _signal(5000).astype(np.float16)
    path = tmp_path / "x.npy"
    out = DiskSignal.create_npy(path, data.shape, np.float16)
    for start in range(0, 5000, 1500):
        out[:, start:start + 1500] = data[:, start:start + 1500]
    out.sync()
    np.testing.assert_array_equal(np.load(path), data)
    back = DiskSignal.open_npy(path)
    assert back.dtype == np.float16 and back.shape == data.shape
    np.testing.assert_array_equal(back[:, 10:20], data[:, 10:20])
    with open(path, "ab") as handle:  # a torn or padded file is refused, not misread
        handle.write(b"xx")
    with pytest.raises(ValueError, match="size"):
        DiskSignal.open_npy(path)


@pytest.mark.parametrize("n", [100, 2047, 512 * 4096, 512 * 4096 + 1, 3 * 512 * 4096 + 77])
def test_frame_rms_in_blocks_equals_librosa(n):
    signal = _signal(n, channels=1, seed=n)
    expected = librosa.feature.rms(y=signal, frame_length=2048, hop_length=512, center=True)[0]
    np.testing.assert_array_equal(frame_rms(signal, VadOptions()), expected)


def test_vad_on_a_spilled_signal_equals_in_memory(tmp_path):
    vocals, mix = _signal(16000 * 200, 1, 1), _signal(16000 * 200, 1, 2)
    vocals[16000 * 50:16000 * 90] *= 0.01  # a rest to cut at
    disk_vocals = new_signal(vocals.shape, np.float32, tmp_path)
    disk_mix = new_signal(mix.shape, np.float32, tmp_path)
    disk_vocals[:], disk_mix[:] = vocals, mix
    expected = detect_vocal_activity(vocals, VadOptions(), mix)
    actual = detect_vocal_activity(disk_vocals, VadOptions(), disk_mix)
    assert actual.segments == expected.segments and actual.windows == expected.windows
    assert actual.vocal_level_db == expected.vocal_level_db
    np.testing.assert_array_equal(actual.envelope, expected.envelope)


@pytest.fixture
def spill_everything(monkeypatch):
    """Make every file "long", so the short real songs take the spilled path."""
    monkeypatch.setattr(audio_module, "SPILL_AFTER_SECONDS", 0.0)


@pytest.mark.parametrize("fmt", ["wav", "m4a"])
def test_spilled_decode_equals_in_memory(example_song, tmp_path, spill_everything, fmt):
    source = example_song
    if fmt == "m4a":
        if not _has_ffmpeg():
            pytest.skip("ffmpeg is not installed")
        source = tmp_path / "example.m4a"
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(example_song), "-c:a", "aac",
                        str(source)], check=True)
    else:
        data, rate = soundfile.read(str(example_song), dtype="float32", always_2d=True)
        source = tmp_path / "example.wav"
        soundfile.write(str(source), data[::-1].copy(), 48000)  # a rate that must be resampled
    spill = tmp_path / "work"
    in_memory = load_song(source)
    spilled = load_song(source, spill_dir=spill)
    assert isinstance(spilled.stereo, DiskSignal) and isinstance(in_memory.stereo, np.ndarray)
    np.testing.assert_array_equal(np.asarray(spilled.stereo), in_memory.stereo)
    assert spilled.spill_dir == spill and in_memory.spill_dir is None
    np.testing.assert_array_equal(np.asarray(spilled.mono16k()), in_memory.mono16k())
    assert list(spill.iterdir()) == []  # every spilled file is already unlinked


def _has_ffmpeg() -> bool:
    from shutil import which

    return which("ffmpeg") is not None


def test_hot_and_antiphase_files_are_corrected_in_blocks(tmp_path, spill_everything):
    t = np.arange(3 * 44100) / 44100
    tone = (40.0 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)  # +32 dBFS, float wav
    path = tmp_path / "hot.wav"
    soundfile.write(str(path), np.stack([tone, -tone], axis=1), 44100, subtype="FLOAT")
    song = load_song(path, spill_dir=tmp_path / "work")
    stereo = np.asarray(song.stereo)
    assert np.abs(stereo).max() == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(stereo[0], stereo[1])  # the right channel was inverted
    assert len(song.notes) == 2


@pytest.mark.slow
def test_spilled_separation_equals_in_memory_and_caches_on_disk(example_song, tmp_path,
                                                                 spill_everything):
    spleeter = make_separator(SeparatorOptions(separator="spleeter"))
    song = load_song(example_song)
    expected = separate_cached(spleeter, song.stereo, "memory", tmp_path / "a")
    spilled_song = load_song(example_song, spill_dir=tmp_path / "work")
    first = separate_cached(spleeter, spilled_song.stereo, "disk", tmp_path / "b",
                            spill_dir=tmp_path / "work")
    assert isinstance(first.vocals, DiskSignal) and not first.cached
    np.testing.assert_array_equal(np.asarray(first.vocals, dtype=np.float32), expected.vocals)
    (stem,) = (tmp_path / "b" / "stems").iterdir()  # no temporary left beside it
    np.testing.assert_array_equal(np.load(stem), expected.vocals.astype(np.float16))
    again = separate_cached(spleeter, spilled_song.stereo, "disk", tmp_path / "b",
                            spill_dir=tmp_path / "work")
    assert again.cached and isinstance(again.vocals, DiskSignal)
    mixes = [stereo_to_mono16k(r.vocals, d) for r, d in ((expected, None),
                                                           (again, tmp_path / "work"))]
    np.testing.assert_array_equal(np.asarray(mixes[1]), mixes[0])
    blend = whisper_input(spilled_song.mono16k(), mixes[1], "blend", tmp_path / "work")
    np.testing.assert_array_equal(np.asarray(blend),
                                  whisper_input(song.mono16k(), mixes[0], "blend"))


def test_a_cache_that_cannot_be_written_still_separates(tmp_path, spill_everything):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    warnings: list[str] = []
    mix = _signal(44100)
    result = separate_cached(PassthroughSeparator(), mix, "h", blocked, warn=warnings.append,
                             spill_dir=tmp_path / "work")
    np.testing.assert_allclose(np.asarray(result.vocals, dtype=np.float32), mix, atol=1e-3)
    assert any("could not write" in warning for warning in warnings)


@pytest.mark.slow
def test_long_demucs_input_is_separated_in_crossfaded_blocks(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    save_tiny_demucs(repo / "tiny.th")
    separator = make_separator(SeparatorOptions(separator="demucs", demucs_model="tiny",
                                                demucs_repo=repo))
    mix = _signal(44100 * 30, seed=3)
    whole = separator.separate(mix)
    monkeypatch.setattr(demucs_module, "WHOLE_SONG_SECONDS", 10.0)
    monkeypatch.setattr(demucs_module, "BLOCK_SECONDS", 8.0)
    monkeypatch.setattr(demucs_module, "BLOCK_OVERLAP_SECONDS", 1.0)
    pieces: list[tuple[int, int]] = []
    blocked = np.zeros_like(mix)

    def write(start: int, block: np.ndarray) -> None:
        pieces.append((start, block.shape[-1]))
        blocked[:, start:start + block.shape[-1]] = block

    disk = new_signal(mix.shape, np.float32, tmp_path)
    disk[:, :] = mix
    separator.separate_into(disk, write)
    assert len(pieces) == 5 and pieces[0] == (0, 7 * 44100)  # in order, nothing overlapping
    assert sum(length for _, length in pieces) == mix.shape[1]
    sdr = 10 * np.log10(np.sum(whole**2) / np.sum((whole - blocked) ** 2))
    assert sdr > 30, f"blocked separation drifts from the whole-song one: SDR {sdr:.1f} dB"


def test_spill_folder_is_not_needed_for_ordinary_songs(example_song, tmp_path):
    song = load_song(example_song, spill_dir=tmp_path / "work")
    assert isinstance(song.stereo, np.ndarray) and song.spill_dir is None
    assert not (tmp_path / "work").exists()
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_a_spilled_song_transcribes_exactly_like_an_in_memory_one(example_song, session_cache,
                                                                   tmp_path, monkeypatch):
    """The real models on real singing: the same lines, words and times either way."""
    from alt_cli.options import TranscribeOptions
    from alt_cli.pipeline import WORK_SUBDIR, Transcriber

    options = TranscribeOptions(model="tiny.en", device="cpu", cache_dir=session_cache,
                                separation=SeparatorOptions(separator="spleeter"))
    transcriber = Transcriber(options)
    expected = transcriber.transcribe(example_song)
    monkeypatch.setattr(audio_module, "SPILL_AFTER_SECONDS", 0.0)
    song = transcriber.load(example_song)
    assert isinstance(song.stereo, DiskSignal)
    spilled = transcriber.transcribe(song)
    assert spilled.lines == expected.lines and spilled.lines
    assert spilled.segments == expected.segments and spilled.verdict == expected.verdict
    assert list((session_cache / WORK_SUBDIR).iterdir()) == []
