"""Never touch a user's file: ownership records, collisions between albums, per-song locks.

The end-to-end cases run the real tiny.en and Spleeter on the real example song."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile

from alt_cli.ownership import (
    DONE,
    FOREIGN,
    OTHER_AUDIO,
    REDO,
    TODO,
    SongLock,
    inspect,
    write_record,
)


def alt(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "alt_cli.cli", *args], capture_output=True,
                          text=True, check=False, env=env)


def common(cache: Path) -> list[str]:
    return ["--model", "tiny.en", "--separator", "spleeter", "--cache-dir", str(cache),
            "--language", "en"]


def _outputs(folder: Path, stem: str = "song") -> dict[str, Path]:
    return {fmt: folder / f"{stem}.{fmt}" for fmt in ("txt", "lrc")}


def test_verdicts_from_records(tmp_path):
    source = tmp_path / "song.wav"
    source.write_bytes(b"RIFF fake audio")
    outputs = _outputs(tmp_path)
    assert inspect(outputs, source, "s1").state == TODO
    texts = {"txt": "la la\n", "lrc": "[00:01.00]la la\n"}
    write_record(outputs, source, "a" * 64, "s1", texts)
    for fmt, text in texts.items():
        outputs[fmt].write_text(text, encoding="utf-8")
    assert inspect(outputs, source, "s1", audio_sha256="a" * 64).state == DONE
    assert inspect(outputs, source, "s2", audio_sha256="a" * 64).state == REDO
    changed = inspect(outputs, source, "s1", audio_sha256="b" * 64)
    assert changed.state == REDO and "audio file changed" in changed.reason
    other = inspect(outputs, tmp_path / "elsewhere.wav", "s1", audio_sha256="b" * 64)
    assert other.state == OTHER_AUDIO and "another audio file" in other.reason
    outputs["txt"].write_text("my own edit\n", encoding="utf-8")
    edited = inspect(outputs, source, "s1", audio_sha256="a" * 64)
    assert edited.state == FOREIGN and "changed since alt wrote it" in edited.reason
    stranger = _outputs(tmp_path, "other")
    stranger["lrc"].write_text("[00:01.00]downloaded\n", encoding="utf-8")
    assert "not written by alt" in inspect(stranger, source, "s1").reason


def test_a_live_lock_is_respected_and_a_stale_one_taken_over(tmp_path):
    outputs = _outputs(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        SongLock(outputs).path.write_text(f"{holder.pid}@{socket.gethostname()}\n")
        assert SongLock(outputs).acquire() == f"pid {holder.pid}"
    finally:
        holder.kill()
        holder.wait()
    lock = SongLock(outputs)
    assert lock.acquire() is None and lock.held  # its process is gone: stale
    assert SongLock(outputs).acquire() is not None  # now ours
    lock.release()
    assert not lock.path.exists()


@pytest.mark.slow
def test_a_users_own_lyrics_file_is_never_replaced(tmp_path, example_wav, session_cache):
    music = tmp_path / "music"
    music.mkdir()
    shutil.copy(example_wav, music / "mysong.wav")
    shutil.copy(example_wav, music / "track01.wav")
    mine = music / "mysong.txt"
    mine.write_text("my own lyrics\n", encoding="utf-8")
    downloaded = music / "track01.lrc"
    downloaded.write_text("[00:01.00]downloaded\n", encoding="utf-8")
    (music / "other.wav").write_bytes(example_wav.read_bytes())

    dry = alt("transcribe", str(music), "--dry-run", *common(session_cache))
    assert dry.returncode == 0, dry.stderr
    assert "leave (" in dry.stdout and "mysong.txt exists and was not written by alt" in dry.stdout
    assert "transcribe: " in dry.stdout  # other.wav

    run = alt("transcribe", str(music), "-q", *common(session_cache))
    assert run.returncode == 3, run.stderr  # two songs left alone, one done
    assert mine.read_text(encoding="utf-8") == "my own lyrics\n"
    assert downloaded.read_text(encoding="utf-8") == "[00:01.00]downloaded\n"
    assert "mysong.txt exists and was not written by alt" in run.stderr
    assert "track01.lrc exists and was not written by alt" in run.stderr
    assert "time stands still" in (music / "other.txt").read_text(encoding="utf-8").lower()

    (music / "other.txt").write_text("my correction\n", encoding="utf-8")
    again = alt("transcribe", str(music / "other.wav"), *common(session_cache))
    assert again.returncode == 1 and "changed since alt wrote it" in again.stderr
    assert (music / "other.txt").read_text(encoding="utf-8") == "my correction\n"

    forced = alt("transcribe", str(music / "mysong.wav"), "--overwrite", *common(session_cache))
    assert forced.returncode == 0, forced.stderr
    assert "time stands still" in mine.read_text(encoding="utf-8").lower()


@pytest.mark.slow
def test_same_name_in_two_albums_is_a_collision(tmp_path, example_wav, session_cache):
    album_a, album_b, lyrics = tmp_path / "AlbumA", tmp_path / "AlbumB", tmp_path / "Lyrics"
    album_a.mkdir()
    album_b.mkdir()
    shutil.copy(example_wav, album_a / "01.wav")
    data, rate = soundfile.read(str(example_wav))
    soundfile.write(str(album_b / "01.wav"), data[: 6 * rate], rate)  # another song, same name

    first = alt("transcribe", str(album_a), "-o", str(lyrics), *common(session_cache))
    assert first.returncode == 0, first.stderr
    kept = (lyrics / "01.txt").read_text(encoding="utf-8")
    second = alt("transcribe", str(album_b), "-o", str(lyrics), *common(session_cache))
    assert second.returncode == 1, second.stderr
    assert "holds the lyrics of another audio file" in second.stderr
    assert str((album_a / "01.wav").resolve()) in second.stderr
    assert (lyrics / "01.txt").read_text(encoding="utf-8") == kept

    same = alt("transcribe", str(album_a), "-o", str(lyrics), *common(session_cache))
    assert same.returncode == 0 and "skipped, done with these settings" in same.stderr
    other = alt("transcribe", str(album_a), "-o", str(lyrics), "--beam-size", "1",
                *common(session_cache))
    assert other.returncode == 0 and "redo (made with other settings)" in other.stderr


@pytest.mark.slow
def test_two_runs_on_one_folder_do_each_song_once(tmp_path, example_wav, session_cache):
    music = tmp_path / "music"
    music.mkdir()
    for index in range(3):
        shutil.copy(example_wav, music / f"s{index}.wav")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    runs = [subprocess.Popen([sys.executable, "-m", "alt_cli.cli", "transcribe", str(music),
                              "--report", str(tmp_path / f"r{i}.jsonl"), *common(session_cache)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for i in range(2)]
    for proc in runs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    rows = [json.loads(line) for i in range(2)
            for line in (tmp_path / f"r{i}.jsonl").read_text(encoding="utf-8").splitlines()]
    done = sorted(Path(r["file"]).name for r in rows if r["status"] == "done")
    assert done == ["s0.wav", "s1.wav", "s2.wav"]  # each song once, by one run or the other
    assert not list(music.glob(".*.alt.lock"))
