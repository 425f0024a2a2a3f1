"""Which lyrics files alt wrote, of which audio, with which settings; and who is working on a
song right now.

Why: a file called ``song.txt`` beside ``song.mp3`` may be lyrics a user typed, and a
``Lyrics/01.txt`` may hold another album's ``01.wav``.  Existence alone says neither, so beside
each song's outputs alt keeps a small hidden record, ``.<stem>.alt.json``: the source file, the
sha256 of its audio, the settings key, and the sha256 of every output as alt wrote it.  The
record is written *before* the outputs (their hashes are known once rendered), so a run killed
between the two leaves outputs that the record still vouches for.  Then:

- an output file that no record vouches for (or that changed since) is the user's: never
  replaced without ``--overwrite``;
- outputs of another audio file are a collision, reported, never replaced without
  ``--overwrite``;
- outputs of this audio with these settings are done; with other settings they are redone.

A lock file ``.<stem>.alt.lock`` (created exclusively, holding the pid and host) keeps two runs
on the same folder from transcribing the same song; a lock whose process is gone is taken over.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alt_cli.fileio import atomic_write_text, sha256_files

RECORD_VERSION = 1
RECORD_SUFFIX = ".alt.json"
LOCK_SUFFIX = ".alt.lock"

# What a song's outputs are, as far as a run is concerned.
TODO = "todo"  # something is missing: transcribe
DONE = "done"  # alt's outputs of this audio with these settings: skip
REDO = "redo"  # alt's outputs, but of other settings or a changed audio file: transcribe again
FOREIGN = "foreign"  # a file alt did not write (or that was changed since): leave it
OTHER_AUDIO = "other-audio"  # alt's outputs of another audio file: a collision, leave them


@dataclass(frozen=True)
class Verdict:
    state: str
    reason: str = ""

    @property
    def blocks(self) -> bool:
        """Transcribing would replace a file that is not this song's own alt output."""
        return self.state in (FOREIGN, OTHER_AUDIO)


def record_path(outputs: dict[str, Path]) -> Path:
    """The hidden record beside a song's outputs (they share one folder and stem)."""
    first = next(iter(outputs.values()))
    return first.with_name(f".{first.stem}{RECORD_SUFFIX}")


def lock_path(outputs: dict[str, Path]) -> Path:
    first = next(iter(outputs.values()))
    return first.with_name(f".{first.stem}{LOCK_SUFFIX}")


def read_record(outputs: dict[str, Path]) -> dict[str, Any]:
    """The record beside ``outputs``, or {} when there is none (or it is unreadable)."""
    try:
        data = json.loads(record_path(outputs).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("alt") == RECORD_VERSION else {}


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_record(outputs: dict[str, Path], source: Path, audio_sha256: str, settings: str,
                 texts: dict[str, str]) -> None:
    """Say, before writing them, which outputs alt is about to write and what they hold.

    Formats written earlier for the same audio and settings stay vouched for, so a later run
    with more formats (``-f txt`` then ``-f txt,srt``) keeps owning the first ones.
    """
    previous = read_record(outputs)
    owned = {}
    if (previous.get("audio_sha256"), previous.get("settings")) == (audio_sha256, settings):
        owned = dict(previous.get("outputs", {}))
    owned.update({outputs[fmt].name: _sha256_text(text) for fmt, text in texts.items()})
    atomic_write_text(record_path(outputs), json.dumps({
        "alt": RECORD_VERSION, "source": str(source.resolve()), "audio_sha256": audio_sha256,
        "settings": settings, "outputs": owned,
    }, indent=1, ensure_ascii=False) + "\n")


def _vouched(path: Path, record: dict[str, Any]) -> bool:
    expected = record.get("outputs", {}).get(path.name)
    try:
        return expected is not None and sha256_files([path]) == expected
    except OSError:
        return False


def inspect(outputs: dict[str, Path], source: Path, settings: str,
            audio_sha256: str | None = None) -> Verdict:
    """What the existing files mean for this song (``audio_sha256`` is computed if needed)."""
    existing = [path for path in outputs.values() if path.exists()]
    if not existing:
        return Verdict(TODO)
    record = read_record(outputs)
    foreign = [path for path in existing if not _vouched(path, record)]
    if foreign:
        changed = record.get("outputs", {}).get(foreign[0].name) is not None
        why = "was changed since alt wrote it" if changed else "was not written by alt"
        return Verdict(FOREIGN, f"{foreign[0]} exists and {why} (--overwrite replaces it)")
    if audio_sha256 is None:
        audio_sha256 = sha256_files([source])
    same_source = record.get("source") == str(source.resolve())
    if record.get("audio_sha256") != audio_sha256:
        if same_source:
            return Verdict(REDO, "the audio file changed since its lyrics were written")
        return Verdict(OTHER_AUDIO, f"{existing[0]} holds the lyrics of another audio file "
                                    f"({record.get('source')}; --overwrite replaces them)")
    if len(existing) < len(outputs):
        return Verdict(TODO)
    if record.get("settings") != settings:
        return Verdict(REDO, "made with other settings")
    return Verdict(DONE)


class SongLock:
    """An exclusive claim on a song's outputs for the length of its transcription."""

    def __init__(self, outputs: dict[str, Path]):
        self.path = lock_path(outputs)
        self.held = False

    def holder(self) -> str | None:
        """Who holds the lock now ("pid 123 on host"), or None if nobody live does."""
        try:
            pid_text, _, host = self.path.read_text(encoding="utf-8").strip().partition("@")
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        if host != socket.gethostname():
            return f"pid {pid} on {host}"  # another machine: cannot tell, so respect it
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None  # that run is gone: a stale lock
        except PermissionError:
            pass  # alive, another user's
        return "this run" if pid == os.getpid() else f"pid {pid}"

    def acquire(self) -> str | None:
        """Take the lock; returns None on success, else who holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self.holder()
                if holder is not None:
                    return holder
                self.path.unlink(missing_ok=True)  # stale: take it over
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(f"{os.getpid()}@{socket.gethostname()}\n")
            self.held = True
            return None
        return "another run (the lock kept reappearing)"

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
