"""Batch over a messy music tree: real songs, bad files, resume after SIGKILL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alt_cli.batch import discover
from tests.conftest import write_tone

pytestmark = pytest.mark.slow
REAL = ["a/song.mp3", "b/Song Upper.MP3", "b/ünïcødé 名.wav", "locked.mp3"]
UNDECODABLE = "not a decodable audio file"
BAD = {"zero.mp3": "empty file", "text.wav": UNDECODABLE, "trunc.mp3": UNDECODABLE}
AS_ROOT = os.geteuid() == 0


@pytest.fixture()
def tree(tmp_path, example_song, example_wav) -> Path:
    music = tmp_path / "music"
    for name in REAL:
        target = music / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(example_wav if name.endswith(".wav") else example_song, target)
    (music / "zero.mp3").write_bytes(b"")
    (music / "text.wav").write_text("not audio at all\n" * 100)
    (music / "trunc.mp3").write_bytes(example_song.read_bytes()[:600])
    write_tone(music / "silent.wav", 3.0)
    (music / "notes.txt").write_text("liner notes")
    (music / ".hidden").mkdir()
    shutil.copy(example_song, music / ".hidden" / "song.mp3")
    (music / "locked.mp3").chmod(0)
    yield music
    (music / "locked.mp3").chmod(0o644)


def alt(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "alt_cli.cli", *args], capture_output=True,
                          text=True, check=False, **kwargs)


def common(cache: Path) -> list[str]:
    return ["--model", "tiny.en", "--separator", "spleeter", "--cache-dir", str(cache),
            "--language", "en"]


def test_discovery_order_filters_and_mirroring(tree, tmp_path):
    jobs = discover([tree], ["txt", "lrc"], tmp_path / "out")
    names = [job.source.relative_to(tree).as_posix() for job in jobs]
    # Sorted walk: entries of a folder in name order, sub-folders where they sort.
    assert names == ["a/song.mp3", "b/Song Upper.MP3", "b/ünïcødé 名.wav", "locked.mp3",
                     "silent.wav", "text.wav", "trunc.mp3", "zero.mp3"]
    assert discover([tree], ["txt", "lrc"], tmp_path / "out") == jobs  # stable
    assert ".hidden/song.mp3" not in names and "notes.txt" not in names
    assert set(names) == set(REAL) | set(BAD) | {"silent.wav"}
    upper = next(job for job in jobs if job.source.name == "Song Upper.MP3")
    assert upper.outputs["lrc"] == tmp_path / "out" / "b" / "Song Upper.lrc"
    assert discover([tree], ["txt"], None, recursive=False)[0].source.parent == tree
    assert [j.source.name for j in discover([tree], ["txt"], extensions=[".WAV"])] == [
        "ünïcødé 名.wav", "silent.wav", "text.wav"]


def test_same_output_name_is_a_collision_not_an_overwrite(tmp_path, example_song):
    shutil.copy(example_song, tmp_path / "x.mp3")
    shutil.copy(example_song, tmp_path / "x.flac")
    jobs = discover([tmp_path], ["txt"])
    assert [j.problem is None for j in jobs] == [True, False]
    assert "x.flac" in jobs[1].problem or "x.mp3" in jobs[1].problem


def test_batch_outputs_failures_report_skip_and_overwrite(tree, tmp_path, session_cache):
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    first = alt("transcribe", str(tree), "-o", str(out), "--report", str(report),
                *common(session_cache))
    assert first.returncode == 3, first.stderr
    for name in REAL:
        if name == "locked.mp3" and not AS_ROOT:
            continue
        stem = Path(name).with_suffix("")
        for ext in ("txt", "lrc", "json"):
            assert (out / f"{stem}.{ext}").is_file(), (name, ext)
        assert "time stands still" in (out / f"{stem}.txt").read_text(encoding="utf-8").lower()
    assert (out / "silent.txt").read_text(encoding="utf-8") == ""
    for name, reason in BAD.items():
        assert f"{name}: " in first.stderr and reason in first.stderr.split(name, 1)[1]
        assert not list(out.glob(f"{Path(name).stem}.*"))
    summary = first.stderr.strip().splitlines()
    assert any(line.startswith(f"done {len(REAL) + 1 - (0 if AS_ROOT else 1)}, skipped 0, "
                               f"failed {len(BAD) + (0 if AS_ROOT else 1)}") for line in summary)
    rows = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    assert {r["status"] for r in rows} == {"done", "failed"} and len(rows) == len(REAL) + 4
    hidden = {p.name for p in out.rglob(".*")}
    assert hidden and all(name.endswith(".alt.json") for name in hidden)  # records only

    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.json")}
    started = time.perf_counter()
    second = alt("transcribe", str(tree), "-o", str(out), *common(session_cache))
    print(f"\nsecond (all skipped) run: {time.perf_counter() - started:.1f} s")
    assert second.returncode == 3  # the bad files are still bad
    done_before = len(REAL) + 1 - (0 if AS_ROOT else 1)
    assert f"done 0, skipped {done_before}, failed" in second.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.json")} == mtimes

    redo = alt("transcribe", str(tree / "a"), "-o", str(out / "a"), "--overwrite",
               *common(session_cache))
    assert redo.returncode == 0, redo.stderr
    assert (out / "a" / "song.json").stat().st_mtime_ns != mtimes[out / "a" / "song.json"]


def test_sigkill_mid_batch_leaves_no_partial_file_and_resumes(tree, tmp_path, session_cache):
    for name in BAD:
        (tree / name).unlink()
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "alt_cli.cli", "transcribe", str(tree), "-o", str(out),
               *common(session_cache)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.rglob("*.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    produced = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert produced, "the run was killed before writing anything"
    for path in produced:
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))  # complete, parseable
    resumed = alt("transcribe", str(tree), "-o", str(out), *common(session_cache))
    assert resumed.returncode == 0, resumed.stderr
    fresh = tmp_path / "fresh"
    clean = alt("transcribe", str(tree), "-o", str(fresh), *common(session_cache))
    assert clean.returncode == 0, clean.stderr
    finals = sorted(p.relative_to(out) for p in out.rglob("*.txt"))
    assert finals == sorted(p.relative_to(fresh) for p in fresh.rglob("*.txt"))
    for rel in finals:
        assert (out / rel).read_text(encoding="utf-8") == (fresh / rel).read_text(
            encoding="utf-8")
    assert not [p for p in out.rglob(".*.part")]


def test_songs_together_write_what_songs_alone_write(tree, tmp_path, session_cache):
    """--songs-together 3: the real songs share the models' batches, the bad files still fail
    alone with their reasons, and every output equals the one-at-a-time run's."""
    runs = {}
    for together in ("1", "3"):
        out, report = tmp_path / f"out{together}", tmp_path / f"report{together}.jsonl"
        runs[together] = alt("transcribe", str(tree), "-o", str(out), "--report", str(report),
                             "--songs-together", together, "-f", "txt,lrc",
                             *common(session_cache))
        assert runs[together].returncode == 3, runs[together].stderr
    alone, shared = tmp_path / "out1", tmp_path / "out3"
    texts = sorted(p.relative_to(alone) for p in alone.rglob("*") if p.suffix in (".txt", ".lrc"))
    assert len(texts) >= 2 * (len(REAL) - 1)
    assert texts == sorted(p.relative_to(shared) for p in shared.rglob("*")
                           if p.suffix in (".txt", ".lrc"))
    for rel in texts:
        assert (alone / rel).read_bytes() == (shared / rel).read_bytes(), rel
    for name, reason in BAD.items():
        assert reason in runs["3"].stderr.split(name, 1)[1]
    rows = [json.loads(line) for line in (tmp_path / "report3.jsonl").read_text().splitlines()]
    assert sorted((Path(r["file"]).name, r["status"]) for r in rows) == sorted(
        (Path(r["file"]).name, r["status"])
        for r in map(json.loads, (tmp_path / "report1.jsonl").read_text().splitlines()))


def test_a_group_that_fails_together_is_redone_song_by_song(tmp_path, example_song,
                                                            session_cache):
    """If the shared pass raises, each song is redone alone: the good ones are written."""
    from alt_cli.batch import BatchRunner
    from alt_cli.options import SeparatorOptions, TranscribeOptions
    from alt_cli.pipeline import Transcriber
    from alt_cli.progress import Reporter

    class FailsTogether(Transcriber):
        def transcribe_songs(self, sources):
            raise RuntimeError("CUDA out of memory")

    for name in ("one.mp3", "two.mp3"):
        shutil.copy(example_song, tmp_path / name)
    (tmp_path / "bad.mp3").write_bytes(b"")
    options = TranscribeOptions(model="tiny.en", device="cpu", cache_dir=session_cache,
                                separation=SeparatorOptions(separator="spleeter"))
    runner = BatchRunner(FailsTogether(options), Reporter(quiet=True), songs_together=3)
    summary = runner.run(discover([tmp_path], ["txt"]))
    assert sorted(p.name for p in summary.done) == ["one.mp3", "two.mp3"]
    assert [p.name for p, _ in summary.failed] == ["bad.mp3"]
    assert "time stands still" in (tmp_path / "one.txt").read_text().lower()


def test_system_errors_read_as_sentences_not_exception_classes():
    import errno as errno_codes

    from alt_cli.batch import _one_line

    full = OSError(errno_codes.ENOSPC, "No space left on device", "/cache/work")
    line = _one_line(full, Path("song.mp3"))
    assert line.startswith("no space left on device (/cache/work); free some space")
    assert "--cache-dir" in line and "Errno" not in line and "OSError" not in line
    denied = _one_line(PermissionError(errno_codes.EACCES, "Permission denied", "/x"),
                       Path("song.mp3"))
    assert denied == "permission denied (/x)"
