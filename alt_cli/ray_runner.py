"""A folder of songs on a Ray cluster (the optional extra ``alt-cli[ray]``).

Why Ray Data: a catalogue of 10^5 songs needs many GPUs on many machines, work that survives a
lost worker, and a run that can be stopped and resumed.  ``alt transcribe FOLDER --ray`` starts
Ray on this machine (nothing to set up); ``--ray auto`` or ``--ray ADDRESS`` joins a cluster.
Inputs, outputs and the cache folder must be on a filesystem every node sees.

How: the driver does what the batch mode does before any work (discovery, ``--shard``, the
skip/refuse checks against files already there) and hands the remaining songs, as paths, to two
Ray Data operators, each an actor pool that keeps its model loaded:

1. :class:`SeparationWorker` decodes the song and separates its vocals into the stem cache
   (the cache folder is on the shared filesystem, so the stem waits there, not in the object
   store);
2. :class:`SongWorker` keeps Whisper loaded and runs the batch mode's own code on the song --
   lock, decode, the stem from the cache, VAD, transcription, layout, atomic writes, ownership
   record -- so every promise of the batch mode holds unchanged.

Only paths and status rows travel between them.  Layout and writing stay in the second
operator rather than in CPU tasks of their own: the song's lock and its ownership record must be
held by one process from transcription to the last write, and both cost milliseconds.  Decoding
runs in each operator (the separator needs 44.1 kHz stereo, Whisper 16 kHz mono; passing either
through the object store would cost more than decoding again).  The driver writes the JSON-lines
report and the summary, and exits as the batch mode does.

Faults: an actor that dies (a killed process, a lost node) is restarted by Ray and its song is
retried.  Every start of a song in each operator is counted in the run's attempts folder, so a
song that keeps killing its worker is reported as failed after :data:`MAX_CRASHES` crashes
instead of being retried forever (a song the separator gave up on passes the second operator
untouched).  A killed driver loses nothing written: re-running the same command does
only what is left.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from alt_cli.batch import BatchRunner, BatchSummary, Job
from alt_cli.errors import AltError
from alt_cli.fileio import atomic_write_text
from alt_cli.options import BatchOptions, TranscribeOptions
from alt_cli.progress import Reporter

MAX_CRASHES = 2  # a song that has killed its worker this often is reported, not retried
ATTEMPTS_SUBDIR = "ray-attempts"
CRASH_FOR_TESTS = "ALT_RAY_TEST_CRASH"  # fault tests: a worker dies on songs with this name


def ray_available() -> bool:
    try:
        import ray.data  # noqa: F401
    except ImportError:
        return False
    return True


class _StageWorker:
    """What both operators' actors share: threads, and counting each song's starts so that a
    song that keeps killing its worker is reported instead of retried forever."""

    stage = "song"

    def __init__(self, options: TranscribeOptions, overwrite: bool, attempts_dir: str,
                 threads: int | None = None) -> None:
        from alt_cli.pipeline import Transcriber
        from alt_cli.runtime import set_threads

        self.threads = threads
        if threads:
            set_threads(threads)
        self.transcriber = Transcriber(options, Reporter(quiet=True))
        self.overwrite = overwrite
        self.attempts_dir = Path(attempts_dir)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        if self.threads:
            # Ray Data calls this from another thread than the constructor's, and OpenMP's
            # thread count is per calling thread: unset here, each worker ran one thread per
            # core, and 2 workers on 2 cores took 1.5x the time of 1.
            from alt_cli.runtime import set_threads

            set_threads(self.threads)
        results = list(batch["result"])
        # a song an earlier operator gave up on (its result is set) passes through as it is
        todo = [k for k, result in enumerate(results) if not result]
        jobs = [Job(Path(batch["source"][k]),
                    {fmt: Path(path) for fmt, path in json.loads(batch["outputs"][k]).items()},
                    name=batch["name"][k]) for k in todo]
        for k, outcome in zip(todo, self._work(jobs), strict=True):
            results[k] = json.dumps(outcome) if outcome else ""
        return {"source": list(batch["source"]), "outputs": list(batch["outputs"]),
                "name": list(batch["name"]), "result": results}

    def _work(self, jobs: list[Job]) -> list[dict[str, Any] | None]:
        """Each job's result row (None: nothing to report yet, the next operator will)."""
        return [self._run_counted(job, self._one) for job in jobs]

    def _one(self, job: Job) -> dict[str, Any] | None:
        raise NotImplementedError

    def _run_counted(self, job: Job, work) -> dict[str, Any] | None:
        """``work(job)``, unless this song has crashed this operator's workers too often."""
        crashes = self._count_start(job)
        if crashes >= MAX_CRASHES:
            return _given_up(job, crashes)
        _crash_for_tests([job])
        result = work(job)
        self._count_start(job, finished=True)
        return result

    def _count_start(self, job: Job, finished: bool = False) -> int:
        """Crashes so far of this song in this operator in this run, counting this start (or,
        `finished`, clearing the count)."""
        path = self.attempts_dir / f"{self.stage}-{job.name.replace('/', '%')}.json"
        try:
            if finished:
                path.unlink(missing_ok=True)
                return 0
            try:
                starts = json.loads(path.read_text(encoding="utf-8"))["starts"]
            except (OSError, ValueError, KeyError):
                starts = 0
            path.parent.mkdir(parents=True, exist_ok=True)  # a node that does not share it
            atomic_write_text(path, json.dumps({"starts": starts + 1}))
        except OSError:  # counting is a safeguard, never a reason to fail the song
            return 0
        return starts  # each earlier start that never finished was a crash


class SeparationWorker(_StageWorker):
    """The first operator: decodes a song and separates its vocals into the shared stem cache,
    keeping the separator loaded.  Only the song's row travels on; the stem waits in the cache
    (on a filesystem every node sees) for the transcription operator, so the object store never
    carries audio.  A song it cannot decode or separate is left to the next operator, whose
    batch-mode code reports it exactly as ``alt transcribe`` would."""

    stage = "separate"

    def _one(self, job: Job) -> None:
        try:
            self.transcriber.separate(self.transcriber.load(job.source))
        except Exception:  # noqa: BLE001, S110 - the next operator says why, in the report
            pass


class SongWorker(_StageWorker):
    """The second operator: Whisper kept loaded; each song goes through the batch mode's own
    code (lock, transcription with the stem from the cache, layout, atomic writes, ownership
    record), so every promise of the batch mode holds unchanged; a status row travels back."""

    stage = "transcribe"

    def __init__(self, *args: Any, songs_together: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.songs_together = songs_together
        self.transcriber.prepare()

    def _batch(self, jobs: list[Job]) -> dict[str, Any]:
        report = io.StringIO()
        runner = BatchRunner(self.transcriber, Reporter(quiet=True), overwrite=self.overwrite,
                             report=report, songs_together=min(len(jobs), self.songs_together))
        summary = runner.run(jobs)
        return {"summary": json.loads(json.dumps(asdict(summary), default=str)),
                "report": report.getvalue()}

    def _work(self, jobs: list[Job]) -> list[dict[str, Any] | None]:
        """Several songs share Whisper's (and the separator's) batches, as
        ``--songs-together`` does in one process; the group's summary and report travel on its
        first row.  A song retried after a crash goes alone, so that only the song at fault
        reaches :data:`MAX_CRASHES`."""
        if not jobs:  # every song of this batch was given up by the separation operator
            return []
        crashes = [self._count_start(job) for job in jobs]  # this start counted once
        if len(jobs) == 1 or any(crashes):
            results: list[dict[str, Any] | None] = []
            for job, count in zip(jobs, crashes, strict=True):
                if count >= MAX_CRASHES:
                    results.append(_given_up(job, count))
                    continue
                _crash_for_tests([job])
                results.append(self._batch([job]))
                self._count_start(job, finished=True)
            return results
        _crash_for_tests(jobs)
        group = self._batch(jobs)
        for job in jobs:
            self._count_start(job, finished=True)
        empty = {"summary": json.loads(json.dumps(asdict(BatchSummary()), default=str)),
                 "report": ""}
        return [group] + [empty] * (len(jobs) - 1)


def _given_up(job: Job, crashes: int) -> dict[str, Any]:
    """The result row of a song that crashed its worker too often."""
    reason = f"crashed its worker {crashes} times (killed, or out of memory); not retried"
    return {"summary": json.loads(json.dumps(asdict(BatchSummary(
                failed=[(job.source, reason)])), default=str)),
            "report": json.dumps({"file": str(job.source), "status": "failed",
                                  "reason": reason}) + "\n"}


def _crash_for_tests(jobs: list[Job]) -> None:
    """The fault tests' switch: die as a segfault or the OOM killer would, on a named song."""
    name = os.environ.get(CRASH_FOR_TESTS)
    if name and any(job.source.name == name for job in jobs):
        os._exit(137)


def _merge(total: BatchSummary, part: dict[str, Any]) -> None:
    total.done += [Path(p) for p in part["done"]]
    total.skipped += [Path(p) for p in part["skipped"]]
    total.failed += [(Path(p), reason) for p, reason in part["failed"]]
    total.audio_seconds += part["audio_seconds"]
    for verdict, songs in part["vocals"].items():
        total.vocals.setdefault(verdict, []).extend(Path(p) for p in songs)


def connect(address: str, verbose: bool = False) -> dict[str, float]:
    """Start or join Ray; the cluster's resources.  'local' starts one on this machine."""
    import ray
    import ray.data

    if ray.is_initialized():
        return ray.cluster_resources()
    kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False,
                              "logging_level": logging.WARNING}
    if os.environ.get(CRASH_FOR_TESTS):  # the fault tests' switch reaches every worker
        kwargs["runtime_env"] = {"env_vars": {CRASH_FOR_TESTS: os.environ[CRASH_FOR_TESTS]}}
    try:
        if address == "local":
            ray.init(**kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AltError(f"--ray {address}: cannot reach a Ray cluster ({first})") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # alt's own bar and summary say it
    # A failing worker's traceback is Ray's to print only with -v: alt says the cause in a line.
    logging.getLogger("ray.data").setLevel(logging.WARNING if verbose else logging.CRITICAL)
    return ray.cluster_resources()


def run_on_ray(jobs: list[Job], options: TranscribeOptions, runner: BatchRunner,
               reporter: Reporter, batch: BatchOptions) -> BatchSummary:
    """The batch mode's run over a Ray cluster (see the module).  `runner` is the driver's
    batch runner: it triages and reports; the songs are done by the workers."""
    import time

    import ray
    import ray.data

    summary = BatchSummary()
    started = time.perf_counter()
    todo = [job for job in jobs if runner.triage(job, summary, quiet_skip=len(jobs) > 1)]
    if not todo:
        summary.wall_seconds = time.perf_counter() - started
        return summary
    resources = connect(batch.ray or "local", reporter.verbose)
    gpus = int(resources.get("GPU", 0))
    cpus = max(1, int(resources.get("CPU", 1)))
    use_gpu = gpus > 0 and options.device in ("auto", "cuda")
    # no more workers than songs: idle model copies only cost memory
    count = min(batch.ray_workers or (gpus if use_gpu else cpus), len(todo))
    threads = None if use_gpu else max(1, cpus // count)
    cache = runner.transcriber.cache_dir
    attempts = cache / ATTEMPTS_SUBDIR / uuid.uuid4().hex
    attempts.mkdir(parents=True, exist_ok=True)
    together = batch.songs_at_once(use_gpu)
    reporter.info(f"ray: {count} worker(s) on {cpus} CPU(s) and {gpus} GPU(s); "
                  f"{len(todo)} song(s)" + (f", {together} together" if together > 1 else ""))
    items = [{"source": str(job.source), "name": job.name, "result": "",
              "outputs": json.dumps({k: str(v) for k, v in job.outputs.items()})}
             for job in todo]
    settings = {"options": options, "overwrite": runner.overwrite,
                "attempts_dir": str(attempts), "threads": threads}

    class Separation(SeparationWorker):  # the settings travel inside the class, not as refs
        def __init__(self) -> None:
            super().__init__(**settings)

    class Transcription(SongWorker):
        def __init__(self) -> None:
            super().__init__(**settings, songs_together=together)

    # Ray Data restarts a dead actor and retries its song (max_restarts and max_task_retries
    # default to -1 for actor pools); the workers stop a song that keeps killing them.  One
    # song in flight per worker: queued songs would wait behind a busy worker while another
    # idles (2 workers here: 391 s with Ray's default queueing).
    def pool(size: int) -> Any:
        return ray.data.ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=1)

    try:
        dataset = ray.data.from_items(items, override_num_blocks=len(items))
        if runner.transcriber.needs_separation():
            # The separator runs ahead of Whisper.  On GPUs each operator takes half a GPU per
            # actor; on CPUs one separation actor is enough (Spleeter is ~10x faster than
            # Whisper there) and it claims no CPU of its own, so Whisper keeps every core.
            dataset = dataset.map_batches(
                Separation, batch_size=1, compute=pool(count if use_gpu else 1),
                num_gpus=0.5 if use_gpu else 0, num_cpus=1 if use_gpu else 0)
        results = dataset.map_batches(
            Transcription, batch_size=together, compute=pool(count),
            num_gpus=0.5 if use_gpu else 0, num_cpus=1 if use_gpu else threads)
        with reporter.bar("songs", len(todo), "song") as bar:
            for row in results.iter_rows():
                part = json.loads(row["result"])
                _merge(summary, part["summary"])
                if runner.report is not None and part["report"]:
                    runner.report.write(part["report"])
                    runner.report.flush()
                for path, reason in part["summary"]["failed"]:
                    reporter.error(f"{path}: {reason}")
                bar.update(1)
    finally:
        shutil.rmtree(attempts, ignore_errors=True)
    summary.wall_seconds = time.perf_counter() - started
    return summary
