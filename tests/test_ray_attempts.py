"""The Ray workers' crash count: each start of a song that never finished was a crash."""

from __future__ import annotations

from pathlib import Path

from alt_cli.batch import Job
from alt_cli.ray_runner import SeparationWorker, SongWorker


def _worker(folder: Path) -> SongWorker:
    worker = object.__new__(SongWorker)  # the counting alone, without loading models
    worker.attempts_dir = folder
    return worker


def test_starts_that_never_finished_count_as_crashes(tmp_path):
    worker = _worker(tmp_path / "run")
    job, other = Job(Path("a.mp3"), {}, name="in/a.mp3"), Job(Path("b.mp3"), {}, name="in/b.mp3")
    assert [worker._count_start(job) for _ in range(3)] == [0, 1, 2]  # two crashes so far
    assert worker._count_start(other) == 0  # songs are counted apart
    worker._count_start(job, finished=True)
    assert worker._count_start(job) == 0  # a finished song starts afresh


def test_an_unusable_attempts_folder_never_fails_a_song(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    worker = _worker(blocker / "run")
    job = Job(Path("a.mp3"), {}, name="a.mp3")
    assert worker._count_start(job) == 0 and worker._count_start(job) == 0
    assert worker._count_start(job, finished=True) == 0


def test_each_operator_counts_its_own_crashes(tmp_path):
    transcription, separation = _worker(tmp_path), object.__new__(SeparationWorker)
    separation.attempts_dir = tmp_path
    job = Job(Path("a.mp3"), {}, name="a.mp3")
    assert [separation._count_start(job) for _ in range(2)] == [0, 1]
    assert transcription._count_start(job) == 0  # separated after one crash: a fresh count


def test_a_batch_the_separator_gave_up_on_entirely_passes_the_transcriber(tmp_path):
    # Its rows already carry their results: nothing to transcribe, nothing to report again.
    assert _worker(tmp_path)._work([]) == []
