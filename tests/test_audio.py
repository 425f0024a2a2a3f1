"""Audio in: formats, channel counts, sample rates and every kind of bad input."""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from alt_cli.audio import SEPARATION_SAMPLE_RATE, load_song, to_stereo
from alt_cli.errors import AudioError
from tests.conftest import write_tone


def test_mp3_decodes_to_44k_stereo_with_tags(example_song):
    song = load_song(example_song)
    assert song.stereo.shape[0] == 2 and song.stereo.dtype == np.float32
    assert song.duration == pytest.approx(10.9, abs=0.2)
    assert song.title and song.artist == "Steven M Bryant"
    assert len(song.content_hash) == 64
    mono = song.mono16k()
    assert mono.ndim == 1 and len(mono) == pytest.approx(song.duration * 16000, abs=2)


def test_wav_and_mp3_of_same_song_agree(example_song, example_wav):
    a, b = load_song(example_song), load_song(example_wav)
    n = min(a.stereo.shape[1], b.stereo.shape[1])
    # 16-bit wav clips the mp3 decoder's few overshoots past full scale: compare energies.
    diff = a.stereo[:, :n] - b.stereo[:, :n]
    assert np.sqrt(np.mean(diff**2)) < 1e-2 * np.sqrt(np.mean(a.stereo**2))
    assert a.content_hash != b.content_hash


@pytest.mark.parametrize("rate, channels", [(8000, 1), (22050, 2), (48000, 6)])
def test_any_rate_and_channel_count(tmp_path, rate, channels):
    path = write_tone(tmp_path / "tone.flac", 2.0, rate=rate, channels=channels, amplitude=0.5)
    song = load_song(path)
    assert song.stereo.shape == (2, pytest.approx(2.0 * SEPARATION_SAMPLE_RATE, abs=2))
    assert np.abs(song.stereo).max() == pytest.approx(0.5, abs=0.02)


def test_surround_folds_onto_both_sides():
    channels = np.zeros((6, 10), dtype=np.float32)
    channels[2] = 1.0  # centre (index 2) goes left, LFE (3) right
    stereo = to_stereo(channels)
    assert stereo.shape == (2, 10) and stereo[0].max() > 0 and stereo[1].max() == 0


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_m4a_through_ffmpeg(example_wav, tmp_path):
    m4a = tmp_path / "example.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(example_wav), "-c:a", "aac", str(m4a)],
                   check=True)
    song = load_song(m4a)
    assert song.duration == pytest.approx(10.9, abs=0.2)


def _bad_inputs(tmp_path, example_song):
    (tmp_path / "empty.mp3").write_bytes(b"")
    (tmp_path / "text.wav").write_text("this is not audio\n" * 50)
    data = example_song.read_bytes()
    (tmp_path / "truncated.mp3").write_bytes(data[:600])
    write_tone(tmp_path / "short.wav", 0.5, amplitude=0.3)
    return {
        "missing.mp3": "no such file",
        "empty.mp3": "empty file",
        "text.wav": "not a decodable audio file",
        "truncated.mp3": "",
        "short.wav": "too short",
    }


def test_bad_inputs_raise_one_line_audio_errors(tmp_path, example_song):
    for name, reason in _bad_inputs(tmp_path, example_song).items():
        with pytest.raises(AudioError) as info:
            load_song(tmp_path / name)
        message = str(info.value)
        assert "\n" not in message and name in message and reason in message


def test_folder_is_not_a_song(tmp_path):
    with pytest.raises(AudioError, match="is a folder"):
        load_song(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read permission")
def test_unreadable_file(tmp_path):
    locked = write_tone(tmp_path / "locked.wav", 2.0)
    locked.chmod(0)
    try:
        with pytest.raises(AudioError, match="permission denied"):
            load_song(locked)
    finally:
        locked.chmod(0o644)


def test_decoder_failures_name_the_decoder_and_its_reason(tmp_path, monkeypatch):
    from alt_cli import audio

    text = tmp_path / "text.wav"
    text.write_text("this is not audio\n" * 50)
    with pytest.raises(AudioError) as info:
        load_song(text)
    assert "not a decodable audio file (" in str(info.value)
    assert "Invalid argument" not in str(info.value)
    monkeypatch.setattr(audio.shutil, "which", lambda _: None)
    with pytest.raises(AudioError, match=r"libsndfile: .*ffmpeg.*not installed"):
        load_song(text)
    noisy = "[mp3 @ 0x55d0c0] Failed to read frame size\nx.mp3: Invalid argument\n"
    assert audio._ffmpeg_reason(noisy, Path("x.mp3")) == "mp3 decoder: Failed to read frame size"
    assert audio._ffmpeg_reason("Error marking filters as finished\n", Path("x")) == ""


def test_hot_float_files_are_scaled_and_antiphase_stereo_is_folded(tmp_path, example_wav):
    data, rate = soundfile.read(str(example_wav), dtype="float32", always_2d=True)
    hot = tmp_path / "hot.wav"
    soundfile.write(str(hot), data * 50.0, rate, subtype="FLOAT")  # +34 dBFS
    song = load_song(hot)
    assert np.abs(song.stereo).max() == pytest.approx(1.0, abs=1e-3)
    assert any("scaled down" in note for note in song.notes)
    flipped = tmp_path / "antiphase.wav"
    mono = data.mean(axis=1)
    soundfile.write(str(flipped), np.stack([mono, -mono], axis=1), rate, subtype="FLOAT")
    song = load_song(flipped)
    assert np.abs(song.mono16k()).max() > 0.1  # would be silence without the fold
    assert any("opposite phase" in note for note in song.notes)
    assert load_song(example_wav).notes == ()
