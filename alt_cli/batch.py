"""Batch transcription over files and folders that never loses work.

- Discovery: folders are walked recursively in a stable (sorted) order; hidden entries, alt's
  own outputs and the output folder itself are skipped; audio is recognised by extension.
- Resume: a song whose outputs alt wrote, from this audio with these settings, is skipped.
  Outputs are written atomically, so an existing file is a complete one, and a killed run re-run
  does only what is left.
- Safety: a file alt did not write, or outputs of another audio file, are never replaced
  without ``overwrite`` (see :mod:`alt_cli.ownership`); a per-song lock keeps two runs on one
  folder from doing the same song.
- Isolation: any failure of one song (corrupt, unreadable, out of memory...) is recorded with a
  one-line reason and the batch goes on.
- Throughput: models load once; with ``jobs >= 2`` the next song is decoded and separated in a
  background thread while the current one is transcribed; with ``songs_together >= 2`` (the
  default on a GPU) a few songs go through the models together, sharing their batches (a song
  that fails there is redone alone, so the failure is its own).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from alt_cli.audio import SongAudio
from alt_cli.errors import AltError
from alt_cli.fileio import atomic_write_text, remove_stale_temporaries
from alt_cli.formats import render_outputs, transcript_document
from alt_cli.options import AUDIO_EXTENSIONS, FORMAT_EXTENSIONS
from alt_cli.ownership import (
    DONE,
    REDO,
    TODO,
    SongLock,
    Verdict,
    inspect,
    record_path,
    write_record,
)
from alt_cli.progress import Reporter
from alt_cli.schema import SeparationResult

if TYPE_CHECKING:  # the pipeline imports torch; the CLI imports this module for --dry-run too
    from alt_cli.pipeline import Transcriber


@dataclass(frozen=True)
class Job:
    """One input song and the files it should produce."""

    source: Path
    outputs: dict[str, Path]
    problem: str | None = None  # known before starting (e.g. an output-name collision)
    name: str = ""  # the song's path below the input it was found in: what shards split on


@dataclass
class BatchSummary:
    """What a batch did, for the closing summary and the exit code."""

    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    vocals: dict[str, list[Path]] = field(default_factory=dict)  # verdict -> songs

    def render(self) -> str:
        lines = [
            f"done {len(self.done)}, skipped {len(self.skipped)}, failed {len(self.failed)}; "
            f"{self.audio_seconds / 60:.1f} min of audio in {self.wall_seconds:.1f} s"
            + (f" ({self.wall_seconds / self.audio_seconds:.2f}x real time)"
               if self.audio_seconds else "")
        ]
        if self.vocals:
            parts = []
            for verdict in ("yes", "uncertain", "no"):
                songs = self.vocals.get(verdict, [])
                if songs:
                    named = "" if verdict == "yes" else " (" + ", ".join(
                        p.name for p in songs[:5]) + (" ..." if len(songs) > 5 else "") + ")"
                    parts.append(f"{verdict} {len(songs)}{named}")
            lines.append("vocals: " + ", ".join(parts))
        lines += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _walk(folder: Path, recursive: bool, extensions: set[str], skip: Path | None
          ) -> Iterator[Path]:
    """Audio files under `folder`, sorted, skipping hidden entries and the output folder."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if _is_hidden(entry.name):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            if recursive and (skip is None or path.resolve() != skip):
                yield from _walk(path, recursive, extensions, skip)
        elif path.suffix.lower().lstrip(".") in extensions:
            yield path


def _outputs_for(source: Path, base: Path, formats: Sequence[str], output_dir: Path | None
                 ) -> dict[str, Path]:
    """Beside the song, or mirrored under `output_dir` relative to the input folder `base`."""
    if output_dir is None:
        folder = source.parent
    else:
        relative = source.parent.relative_to(base) if source.is_relative_to(base) else Path()
        folder = output_dir / relative
    return {fmt: folder / f"{source.stem}.{FORMAT_EXTENSIONS.get(fmt, fmt)}" for fmt in formats}


def discover(inputs: Sequence[Path], formats: Sequence[str], output_dir: Path | None = None,
             recursive: bool = True, extensions: Sequence[str] = AUDIO_EXTENSIONS) -> list[Job]:
    """Jobs for files (taken as given) and folders (walked), in a stable order.

    Two songs that would write the same output (``a.mp3`` and ``a.wav`` side by side) are a
    collision: the first keeps the name, the second is reported, never silently overwritten.
    """
    wanted = {ext.lower().lstrip(".") for ext in extensions}
    skip = output_dir.resolve() if output_dir is not None and output_dir.exists() else None
    jobs: list[Job] = []
    claimed: dict[Path, Path] = {}
    seen: set[Path] = set()
    for item in inputs:
        if item.is_dir():
            found = [(p, item) for p in _walk(item, recursive, wanted, skip)]
        else:
            found = [(item, item.parent)]  # explicit files are taken whatever their extension
        for source, base in found:
            key = source.resolve() if source.exists() else source.absolute()
            if key in seen:
                continue
            seen.add(key)
            outputs = _outputs_for(source, base, formats, output_dir)
            first = next(iter(outputs.values()))
            owner = claimed.setdefault(first.resolve() if first.parent.exists() else first,
                                       source)
            problem = None if owner == source else f"same output name as {owner}"
            name = (source.relative_to(base) if source.is_relative_to(base) else source).as_posix()
            jobs.append(Job(source, outputs, problem, f"{base.name}/{name}"))
    return jobs


def shard_of(name: str, count: int) -> int:
    """Which of ``count`` shards (1-based) a song belongs to: a hash of its name below its
    input folder, so every machine of a job array agrees (whatever the mount point) and a song
    added to the folder later does not move the others."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def select_shard(jobs: Sequence[Job], shard: tuple[int, int] | None) -> list[Job]:
    """The jobs of shard ``(index, count)``; all of them without a shard."""
    if shard is None:
        return list(jobs)
    index, count = shard
    return [job for job in jobs if shard_of(job.name, count) == index]


def _remove_stale_temporaries(outputs: dict[str, Path]) -> None:
    """Temporary files of a run that was killed mid-write (complete outputs are never touched).

    Safe at any age: the song is locked, so no other run is writing these names."""
    for path in outputs.values():
        remove_stale_temporaries(path.parent, pattern=f".{path.name}.*")


def _one_line(exc: BaseException, source: Path) -> str:
    """The reason of a failure on one line, without the file name (the caller adds it)."""
    if isinstance(exc, AltError):
        return str(exc).removeprefix(f"{source}: ")
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        hint = ("; free some space, or point --cache-dir (long files' signals and stems) or "
                "-o somewhere with room" if exc.errno == errno.ENOSPC else "")
        return f"{exc.strerror.lower()}{where}{hint}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@dataclass
class Prepared:
    """A song decoded (and separated) ahead of its transcription, or why that failed."""

    audio: SongAudio | None = None
    separated: SeparationResult | None = None
    error: BaseException | None = None


class BatchRunner:
    """Runs jobs through one :class:`Transcriber`, writing outputs and a JSON-lines report."""

    def __init__(self, transcriber: Transcriber, reporter: Reporter, *, overwrite: bool = False,
                 jobs: int = 1, report: IO[str] | None = None, songs_together: int = 1):
        self.transcriber = transcriber
        self.reporter = reporter
        self.overwrite = overwrite
        self.jobs = jobs
        self.report = report
        # an aligner places known lyrics song by song: only a transcriber shares batches
        shares = hasattr(transcriber, "transcribe_songs")
        self.songs_together = songs_together if shares else 1

    def _prepare(self, job: Job) -> Prepared:
        """The song decoded and separated (the separation runs ahead with ``jobs >= 2``)."""
        loaded = self._load(job)
        if loaded.audio is None:
            return loaded
        try:
            return Prepared(loaded.audio, self.transcriber.separate(loaded.audio))
        except Exception as exc:  # noqa: BLE001 - recorded against this song only
            return Prepared(error=exc)

    def _record(self, job: Job, status: str, **extra: Any) -> None:
        if self.report is not None:
            row = {"file": str(job.source), "status": status, **extra}
            self.report.write(json.dumps(row, ensure_ascii=False) + "\n")
            self.report.flush()

    def plan(self, job: Job) -> str:
        """What a run would do with this job, in words (for --dry-run)."""
        if job.problem:
            return f"fail ({job.problem})"
        verdict = self.verdict(job)
        if verdict.blocks:
            return f"leave ({verdict.reason})"
        if verdict.state == DONE:
            return "skip (done with these settings)"
        return f"redo ({verdict.reason})" if verdict.state == REDO else "transcribe"

    def verdict(self, job: Job) -> Verdict:
        """What the files already there mean for this job (see :mod:`alt_cli.ownership`)."""
        if self.overwrite:
            return Verdict(TODO)
        try:
            return inspect(job.outputs, job.source, self.transcriber.result_key(job.source))
        except OSError:  # the song cannot be read: transcribing it will say why
            return Verdict(TODO)

    def triage(self, job: Job, summary: BatchSummary, quiet_skip: bool) -> bool:
        """Whether the job is to be done; records it as failed or skipped otherwise."""
        problem = job.problem or self.transcriber.problem(job.source)
        verdict = Verdict(TODO) if problem else self.verdict(job)
        problem = problem or (verdict.reason if verdict.blocks else None)
        if problem:
            summary.failed.append((job.source, problem))
            self.reporter.error(f"{job.source}: {problem}")
            self._record(job, "failed", reason=problem)
            return False
        if verdict.state == DONE:
            summary.skipped.append(job.source)
            say = self.reporter.debug if quiet_skip else self.reporter.info
            say(f"{job.source}: skipped, done with these settings (--overwrite redoes it)")
            self._record(job, "skipped")
            return False
        if verdict.state == REDO:
            self.reporter.info(f"{job.source}: redo ({verdict.reason})")
        return True

    def _claim(self, job: Job, summary: BatchSummary) -> SongLock | None:
        """Lock the song for this run, or record it as skipped if another run has it."""
        lock = SongLock(job.outputs)
        try:
            holder = lock.acquire()
        except OSError as exc:
            holder = None
            self.reporter.debug(f"{job.source}: no lock ({exc}); going on without one")
            return lock
        if holder is None and self.verdict(job).state == DONE:  # done while we waited
            holder = "an earlier run, just now"
            lock.release()
        if holder is not None:
            summary.skipped.append(job.source)
            self.reporter.info(f"{job.source}: skipped, being transcribed by {holder}")
            self._record(job, "skipped", reason=f"locked by {holder}")
            return None
        return lock

    def run(self, jobs: Sequence[Job]) -> BatchSummary:
        summary = BatchSummary()
        started = time.perf_counter()
        todo = [job for job in jobs if self.triage(job, summary, quiet_skip=len(jobs) > 1)]
        if self.songs_together > 1:
            self._run_together(todo, summary)
            summary.wall_seconds = time.perf_counter() - started
            return summary
        queue = iter(todo)
        current: tuple[Job, SongLock] | None = None

        def next_claimed() -> tuple[Job, SongLock] | None:
            for job in queue:
                lock = self._claim(job, summary)
                if lock is not None:
                    return job, lock
                bar.update(1)
            return None

        pool = ThreadPoolExecutor(max_workers=1) if self.jobs > 1 else None
        try:
            with self.reporter.bar("songs", len(todo), "song") as bar:
                current = next_claimed()
                ahead: Future[Prepared] | None = None
                while current is not None:
                    job, lock = current
                    try:
                        prepared = ahead.result() if ahead is not None else self._prepare(job)
                        current = next_claimed()
                        ahead = (pool.submit(self._prepare, current[0])
                                 if pool is not None and current is not None else None)
                        self._finish(job, prepared, summary)
                    finally:
                        lock.release()
                    bar.update(1)
                    bar.set_postfix_str(f"{summary.audio_seconds / 60:.1f} min audio")
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            if current is not None:
                current[1].release()
        summary.wall_seconds = time.perf_counter() - started
        return summary

    def _run_together(self, todo: Sequence[Job], summary: BatchSummary) -> None:
        """Groups of ``songs_together`` songs through ``Transcriber.transcribe_songs``.

        Songs that cannot be decoded fail alone; if the group's shared pass fails (a song that
        crashes the separator, memory), each song of it is redone alone, so that only the song
        at fault is reported and the others are done."""
        queue = iter(todo)
        with self.reporter.bar("songs", len(todo), "song") as bar:
            while True:
                group: list[tuple[Job, SongLock]] = []
                for job in queue:
                    lock = self._claim(job, summary)
                    if lock is None:
                        bar.update(1)
                        continue
                    group.append((job, lock))
                    if len(group) == self.songs_together:
                        break
                if not group:
                    return
                try:
                    loaded = [self._load(job) for job, _ in group]
                    ready = [k for k, item in enumerate(loaded) if item.error is None]
                    results: dict[int, Any] = {}
                    if len(ready) > 1:
                        try:
                            shared = self.transcriber.transcribe_songs(
                                [loaded[k].audio for k in ready])
                            results = dict(zip(ready, shared, strict=True))
                        except Exception as exc:  # noqa: BLE001 - redone song by song below
                            self.reporter.debug(f"songs together failed ({_one_line(exc, Path())})"
                                                "; doing them one at a time")
                    for k, (job, _) in enumerate(group):
                        self._finish(job, loaded[k], summary, results.get(k))
                        bar.update(1)
                finally:
                    for _, lock in group:
                        lock.release()
                bar.set_postfix_str(f"{summary.audio_seconds / 60:.1f} min audio")

    def _load(self, job: Job) -> Prepared:
        try:
            return Prepared(self.transcriber.load(job.source))
        except Exception as exc:  # noqa: BLE001 - recorded against this song only
            return Prepared(error=exc)

    def _finish(self, job: Job, prepared: Prepared, summary: BatchSummary,
                result: Any = None) -> None:
        """Transcribe (unless `result` is given: done together with other songs) and write."""
        song_started = time.perf_counter()
        shared = result is not None
        try:
            if prepared.error is not None:
                raise prepared.error
            assert prepared.audio is not None
            if result is None:
                result = self.transcriber.transcribe(prepared.audio,
                                                     separated=prepared.separated)
            document = transcript_document(result, self.transcriber.options,
                                           self.transcriber.model_name, self.transcriber.device)
            texts = render_outputs(result, job.outputs, document)
            _remove_stale_temporaries({**job.outputs, "record": record_path(job.outputs)})
            write_record(job.outputs, job.source, prepared.audio.content_hash,
                         self.transcriber.result_key(job.source), texts)
            for fmt, path in job.outputs.items():
                atomic_write_text(path, texts[fmt])
            written = list(job.outputs.values())
        except Exception as exc:  # noqa: BLE001 - one broken song must not take the batch down
            reason = _one_line(exc, job.source)
            if self.reporter.verbose and not isinstance(exc, AltError):
                self.reporter.traceback(exc)
            summary.failed.append((job.source, reason))
            self.reporter.error(f"{job.source}: {reason}")
            self._record(job, "failed", reason=reason)
            return
        elapsed = time.perf_counter() - song_started
        if shared:  # its share of the group's work, done before this call
            elapsed += result.timings.get("total", 0.0) + result.timings.get("separation", 0.0)
        summary.done.append(job.source)
        summary.audio_seconds += result.duration
        vocals = result.verdict.vocals if result.verdict else "uncertain"
        summary.vocals.setdefault(vocals, []).append(job.source)
        for note in result.notes:
            self.reporter.info(f"{job.source}: note: {note}")
        self.reporter.info(
            f"{job.source}: {len(result.lines)} lines, language {result.language or '?'}, "
            f"vocals {vocals}, {elapsed:.1f} s -> {', '.join(str(p) for p in written)}"
        )
        self._record(job, "done", duration=round(result.duration, 2), seconds=round(elapsed, 2),
                     language=result.language, lines=len(result.lines), vocals=vocals,
                     outputs=[str(p) for p in written])

