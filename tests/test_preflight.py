"""Check everything before working: bad settings, models, folders and languages fail once, in
one line, before the first song; Ctrl-C ends with 130; `alt score` and `alt bench` refuse bad
input cleanly (issue: never touch a user's file, check everything before working)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alt_cli.separation import STEMS_SUBDIR


def alt(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "alt_cli.cli", *args], capture_output=True,
                          text=True, check=False, env=env, timeout=timeout)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("alt: error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert not any(word in errors[0] for word in ("Error:", "Errno", "Exception"))
    return errors[0]


@pytest.fixture()
def folder(tmp_path, example_wav) -> Path:
    music = tmp_path / "music"
    music.mkdir()
    for name in ("a.wav", "b.wav"):
        shutil.copy(example_wav, music / name)
    return music


def test_score_refuses_an_unknown_language_and_an_empty_reference(tmp_path):
    ref, hyp, empty = tmp_path / "r.txt", tmp_path / "h.txt", tmp_path / "e.txt"
    ref.write_text("Hello there\n", encoding="utf-8")
    hyp.write_text("hello\n", encoding="utf-8")
    empty.write_text("\n", encoding="utf-8")
    bad = alt("score", str(ref), str(hyp), "-l", "xx")
    assert bad.returncode == 2 and "not a language code" in one_error_line(bad)
    nothing = alt("score", str(empty), str(hyp))
    assert nothing.returncode == 1 and "nothing to score against" in one_error_line(nothing)
    strict = alt("score", str(ref), str(hyp), "--json")
    assert strict.returncode == 0 and "NaN" not in strict.stdout and "null" in strict.stdout


def test_bench_validates_the_data_folder_before_any_work(tmp_path, example_song):
    data = tmp_path / "data"
    (data / "audio").mkdir(parents=True)
    (data / "lyrics").mkdir()
    shutil.copy(example_song, data / "audio" / "song.mp3")
    (data / "lyrics" / "song.txt").write_text("It always seems\n", encoding="utf-8")
    (data / "metadata.csv").write_text("name,language\nsong,xx\n", encoding="utf-8")
    started = time.perf_counter()
    proc = alt("bench", "musdb-alt", "--data-dir", str(data), "--model", "tiny.en",
               "--separator", "spleeter", "-o", str(tmp_path / "out"),
               "--cache-dir", str(tmp_path / "cache"))
    assert proc.returncode == 1 and "unknown language for song ('xx')" in one_error_line(proc)
    assert time.perf_counter() - started < 60
    assert not (tmp_path / "cache" / STEMS_SUBDIR).exists()  # nothing was separated


@pytest.mark.parametrize(("args", "code", "words"), [
    (["--language", "zz"], 2, "not a language code Whisper knows"),
    (["--language", "fr"], 2, "transcribes English only"),
    (["--model", "tinyy.en"], 1, "tinyy.en"),
])
def test_bad_settings_fail_before_the_first_song(folder, tmp_path, session_cache, args, code,
                                                 words):
    cache = tmp_path / "cache"
    if (session_cache / "models").is_dir():
        shutil.copytree(session_cache / "models", cache / "models")
    base = ["--model", "tiny.en", "--separator", "spleeter", "--cache-dir", str(cache)]
    proc = alt("transcribe", str(folder), *base, *args)
    assert proc.returncode == code, proc.stderr
    assert words in one_error_line(proc)
    assert not (cache / STEMS_SUBDIR).exists()  # no song was separated
    assert not list(folder.glob("*.txt"))


def test_unusable_output_and_cache_folders_are_one_sentence(folder, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    out = alt("transcribe", str(folder), "-o", str(blocker / "sub"), "--model", "tiny.en")
    assert out.returncode == 1
    assert "output folder" in one_error_line(out) and "choose another -o" in out.stderr
    cache = alt("transcribe", str(folder), "--cache-dir", str(blocker), "--model", "tiny.en")
    assert cache.returncode == 1
    line = one_error_line(cache)
    assert "cache folder" in line and str(blocker) in line and "--cache-dir" in line
    proc_dir = alt("transcribe", str(folder), "--cache-dir", "/proc/alt-cache", "--model",
                   "tiny.en")
    assert proc_dir.returncode == 1 and "cache folder /proc/alt-cache" in one_error_line(proc_dir)


def _sigint_as_at_a_terminal() -> None:
    """A run started in the background by a non-interactive shell (``cmd &``, as a CI script
    may do) inherits SIGINT *ignored*, and Python then never raises KeyboardInterrupt: the run
    finished with exit 0 under such a CI launch.  Ctrl-C at a terminal is what is tested."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_exits_130_and_keeps_what_was_done(folder, session_cache, example_wav):
    for name in ("c.wav", "d.wav", "e.wav", "f.wav"):  # work left when the signal comes
        shutil.copy(example_wav, folder / name)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen([sys.executable, "-m", "alt_cli.cli", "transcribe", str(folder),
                             "--model", "tiny.en", "--separator", "spleeter", "--cache-dir",
                             str(session_cache), "--language", "en"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=_sigint_as_at_a_terminal)
    deadline = time.time() + 120
    while time.time() < deadline and not (folder / "a.txt").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("alt: interrupted")
    assert "Aborted" not in err and "Traceback" not in err
    assert "time stands still" in (folder / "a.txt").read_text(encoding="utf-8").lower()
    assert not list(folder.glob(".*.alt.lock")) and not list(folder.glob(".*.part"))


@pytest.mark.slow
def test_stale_stem_temporaries_are_cleaned(tmp_path, session_cache):
    from alt_cli.options import SeparatorOptions, TranscribeOptions
    from alt_cli.pipeline import Transcriber

    cache = tmp_path / "cache"
    shutil.copytree(session_cache / "models", cache / "models")
    stems = cache / STEMS_SUBDIR
    stems.mkdir(parents=True)
    old, fresh = stems / ".x-v1.npy.abc.part", stems / ".y-v1.npy.def.part"
    old.write_bytes(b"half a stem")
    fresh.write_bytes(b"a stem being written now")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    options = TranscribeOptions(model="tiny.en", cache_dir=cache,
                                separation=SeparatorOptions(separator="spleeter"))
    Transcriber(options).prepare()
    assert not old.exists() and fresh.exists()


def test_threads_follow_the_free_cores_and_the_jobs(monkeypatch, tmp_path):
    from alt_cli import runtime

    assert runtime.auto_threads(cores=8, busy=0) == 8
    assert runtime.auto_threads(cores=8, busy=6) == 2
    assert runtime.auto_threads(cores=2, busy=2) == 1  # never zero
    assert runtime.auto_threads(cores=8, busy=0, jobs=2) == 4
    fake = tmp_path / "loadavg"
    fake.write_text("2.00 1.50 1.00 3/300 4242\n")  # 3 running, this process among them
    monkeypatch.setattr(runtime, "LOADAVG", fake)
    monkeypatch.setattr(runtime, "RUNNABLE_GAP_S", 0.0)
    cores, busy = runtime.free_cores()
    assert busy == min(cores - 1, 2)


def test_progress_without_a_terminal_is_plain_lines(capsys):
    from alt_cli.progress import PlainProgress

    progress = PlainProgress("song.mp3: transcribing", 4, "win", every_s=0.0)
    for _ in range(4):
        progress.update(1)
    progress.close()
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == "song.mp3: transcribing: 1/4 win (25 %)"
    assert lines[-1] == "song.mp3: transcribing: 4/4 win (100 %)"
    assert all("\r" not in line for line in lines)
