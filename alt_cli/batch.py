"""Batch transcription over files and folders that never loses work.

- Discovery: folders are walked recursively in a stable (sorted) order; hidden entries, alt's
  own outputs and the output folder itself are skipped; audio is recognised by extension.
- Resume: a song whose requested outputs all exist is skipped.  Outputs are written atomically,
  so an existing file is a complete one, and a killed run re-run does only what is left.
- Isolation: any failure of one song (corrupt, unreadable, out of memory...) is recorded with a
  one-line reason and the batch goes on.
- Throughput: models load once; with ``jobs >= 2`` the next song is decoded and separated in a
  background thread while the current one is transcribed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from alt_cli.audio import SongAudio, load_song
from alt_cli.errors import AltError
from alt_cli.formats import transcript_document, write_outputs
from alt_cli.options import AUDIO_EXTENSIONS
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


@dataclass
class BatchSummary:
    """What a batch did, for the closing summary and the exit code."""

    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0

    def render(self) -> str:
        lines = [
            f"done {len(self.done)}, skipped {len(self.skipped)}, failed {len(self.failed)}; "
            f"{self.audio_seconds / 60:.1f} min of audio in {self.wall_seconds:.1f} s"
            + (f" ({self.wall_seconds / self.audio_seconds:.2f}x real time)"
               if self.audio_seconds else "")
        ]
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
    return {fmt: folder / f"{source.stem}.{fmt}" for fmt in formats}


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
            jobs.append(Job(source, outputs, problem))
    return jobs


def outputs_complete(paths: dict[str, Path]) -> bool:
    """All requested files exist (atomic writes mean an existing file is a complete one)."""
    return all(path.is_file() for path in paths.values())


def _remove_stale_temporaries(outputs: dict[str, Path]) -> None:
    """Temporary files of a run that was killed mid-write (complete outputs are never touched)."""
    for path in outputs.values():
        if path.parent.is_dir():
            for stale in path.parent.glob(f".{path.name}.*.part"):
                stale.unlink(missing_ok=True)


def _one_line(exc: BaseException, source: Path) -> str:
    """The reason of a failure on one line, without the file name (the caller adds it)."""
    if isinstance(exc, AltError):
        return str(exc).removeprefix(f"{source}: ")
    if isinstance(exc, MemoryError):
        return "out of memory"
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
                 jobs: int = 1, report: IO[str] | None = None):
        self.transcriber = transcriber
        self.reporter = reporter
        self.overwrite = overwrite
        self.jobs = jobs
        self.report = report

    def _prepare(self, job: Job) -> Prepared:
        try:
            audio = load_song(job.source)
            return Prepared(audio, self.transcriber.separate(audio))
        except Exception as exc:  # noqa: BLE001 - recorded against this song only
            return Prepared(error=exc)

    def _record(self, job: Job, status: str, **extra: Any) -> None:
        if self.report is not None:
            row = {"file": str(job.source), "status": status, **extra}
            self.report.write(json.dumps(row, ensure_ascii=False) + "\n")
            self.report.flush()

    def run(self, jobs: Sequence[Job]) -> BatchSummary:
        summary = BatchSummary()
        started = time.perf_counter()
        todo = []
        for job in jobs:
            if job.problem:
                summary.failed.append((job.source, job.problem))
                self.reporter.error(f"{job.source}: {job.problem}")
                self._record(job, "failed", reason=job.problem)
            elif not self.overwrite and outputs_complete(job.outputs):
                summary.skipped.append(job.source)
                say = self.reporter.info if len(jobs) == 1 else self.reporter.debug
                say(f"{job.source}: skipped, outputs exist (use --overwrite to redo)")
                self._record(job, "skipped")
            else:
                todo.append(job)
        pool = ThreadPoolExecutor(max_workers=1) if self.jobs > 1 else None
        try:
            with self.reporter.bar("songs", len(todo), "song") as bar:
                ahead: Future[Prepared] | None = None
                for index, job in enumerate(todo):
                    prepared = ahead.result() if ahead is not None else self._prepare(job)
                    ahead = None
                    if pool is not None and index + 1 < len(todo):
                        ahead = pool.submit(self._prepare, todo[index + 1])
                    self._finish(job, prepared, summary)
                    bar.update(1)
                    bar.set_postfix_str(f"{summary.audio_seconds / 60:.1f} min audio")
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        summary.wall_seconds = time.perf_counter() - started
        return summary

    def _finish(self, job: Job, prepared: Prepared, summary: BatchSummary) -> None:
        song_started = time.perf_counter()
        try:
            if prepared.error is not None:
                raise prepared.error
            assert prepared.audio is not None
            result = self.transcriber.transcribe(prepared.audio, separated=prepared.separated)
            document = transcript_document(result, self.transcriber.options,
                                           self.transcriber.model_name, self.transcriber.device)
            _remove_stale_temporaries(job.outputs)
            written = write_outputs(result, job.outputs, document)
        except Exception as exc:  # noqa: BLE001 - one broken song must not take the batch down
            reason = _one_line(exc, job.source)
            if self.reporter.verbose and not isinstance(exc, AltError):
                self.reporter.traceback(exc)
            summary.failed.append((job.source, reason))
            self.reporter.error(f"{job.source}: {reason}")
            self._record(job, "failed", reason=reason)
            return
        elapsed = time.perf_counter() - song_started
        summary.done.append(job.source)
        summary.audio_seconds += result.duration
        for note in result.notes:
            self.reporter.info(f"{job.source}: note: {note}")
        self.reporter.info(
            f"{job.source}: {len(result.lines)} lines, language {result.language or '?'}, "
            f"{elapsed:.1f} s -> {', '.join(str(p) for p in written)}"
        )
        self._record(job, "done", duration=round(result.duration, 2), seconds=round(elapsed, 2),
                     language=result.language, lines=len(result.lines),
                     outputs=[str(p) for p in written])

