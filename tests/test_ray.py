"""`alt transcribe FOLDER --ray` on a local Ray (2 CPUs, real tiny.en + Spleeter): the batch
mode's outputs, report and exit code; a worker killed mid-run; a song that kills its worker."""

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

pytest.importorskip("ray.data", reason="the ray extra: pip install -e '.[ray]'")
pytestmark = [pytest.mark.slow, pytest.mark.ray]
GOOD = ["a/one.mp3", "a/two.wav", "b/three.mp3", "four.mp3"]
BAD = {"empty.mp3": "empty file", "text.wav": "not a decodable audio file"}


@pytest.fixture()
def folder(tmp_path, example_song, example_wav) -> Path:
    music = tmp_path / "music"
    for name in GOOD:
        (music / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(example_wav if name.endswith(".wav") else example_song, music / name)
    (music / "empty.mp3").write_bytes(b"")
    (music / "text.wav").write_text("not audio\n" * 50)
    return music


def alt(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "alt_cli.cli", "transcribe", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def common(cache: Path, out: Path, report: Path) -> list[str]:
    return ["-o", str(out), "--report", str(report), "--model", "tiny.en", "--separator",
            "spleeter", "--cache-dir", str(cache), "--language", "en", "-f", "txt,lrc"]


def rows(report: Path) -> list[dict]:
    return [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]


def outputs(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def test_ray_run_writes_what_the_batch_run_writes(folder, tmp_path, session_cache):
    plain = alt(str(folder), *common(session_cache, tmp_path / "plain", tmp_path / "p.jsonl"))
    _, plain_err = plain.communicate(timeout=600)
    # Songs two at a time in each worker (shared batches), against one at a time in one process.
    ray = alt(str(folder), "--ray", "--ray-workers", "2", "--songs-together", "2",
              *common(session_cache, tmp_path / "ray", tmp_path / "r.jsonl"))
    _, ray_err = ray.communicate(timeout=900)
    assert plain.returncode == ray.returncode == 3, ray_err  # the bad files failed, the rest done
    assert outputs(tmp_path / "ray") == outputs(tmp_path / "plain")
    assert len(outputs(tmp_path / "ray")) == 2 * len(GOOD)
    statuses = sorted((Path(r["file"]).name, r["status"]) for r in rows(tmp_path / "r.jsonl"))
    assert statuses == sorted((Path(r["file"]).name, r["status"])
                              for r in rows(tmp_path / "p.jsonl"))
    for name, reason in BAD.items():
        assert reason in ray_err.split(name, 1)[1]
    assert "ray: 2 worker(s)" in ray_err and "2 together" in ray_err
    assert f"done {len(GOOD)}, skipped 0, failed 2" in ray_err

    again = alt(str(folder), "--ray", *common(session_cache, tmp_path / "ray",
                                              tmp_path / "r2.jsonl"))
    _, again_err = again.communicate(timeout=600)
    assert again.returncode == 3 and f"done 0, skipped {len(GOOD)}, failed 2" in again_err


def _ray_workers() -> list[int]:
    """PIDs of Ray Data's map workers (their process title names the operator)."""
    found = subprocess.run(["pgrep", "-f", "MapWorker"], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def test_a_killed_worker_loses_nothing_and_writes_nothing_twice(folder, tmp_path,
                                                                  session_cache):
    for name in BAD:
        (folder / name).unlink()
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    run = alt(str(folder), "--ray", "--ray-workers", "2", *common(session_cache, out, report))
    deadline, killed = time.time() + 300, None
    while time.time() < deadline and killed is None and run.poll() is None:
        workers = _ray_workers()
        if workers and list(out.rglob("*.txt")):  # a worker mid-way through the songs
            killed = workers[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.2)
    _, err = run.communicate(timeout=600)
    assert killed is not None, "no Ray worker was seen running"
    assert run.returncode == 0, err
    assert sorted(outputs(out)) == sorted(
        f"{Path(n).with_suffix(ext).as_posix()}" for n in GOOD for ext in (".lrc", ".txt"))
    done = [Path(r["file"]).name for r in rows(report) if r["status"] == "done"]
    assert len(done) == len(set(done))  # none written twice
    assert len(done) + sum(r["status"] == "skipped" for r in rows(report)) == len(GOOD)
    assert not [p for p in out.rglob(".*") if not p.name.endswith(".alt.json")]  # no partials


def test_a_song_that_kills_its_worker_twice_is_reported_and_the_rest_finish(
        folder, tmp_path, session_cache):
    for name in BAD:
        (folder / name).unlink()
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    run = alt(str(folder), "--ray", "--ray-workers", "2", *common(session_cache, out, report),
              env={"ALT_RAY_TEST_CRASH": "three.mp3"})
    _, err = run.communicate(timeout=900)
    assert run.returncode == 3, err
    assert "three.mp3: crashed its worker 2 times" in err
    assert sorted(n for n in outputs(out) if n.endswith(".txt")) == [
        "a/one.txt", "a/two.txt", "four.txt"]
    failed = [r for r in rows(report) if r["status"] == "failed"]
    assert [Path(r["file"]).name for r in failed] == ["three.mp3"]
