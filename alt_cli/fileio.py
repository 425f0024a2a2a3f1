"""Atomic file writes, the one mechanism behind every file alt produces.

Lyrics outputs, converted checkpoints, cached stems and cache indexes are all written to a
temporary file in the target's folder, flushed to disk and renamed over the target: a reader
(or a run restarted after SIGKILL or a power cut) sees the old file or the complete new one,
never half of one.  Temporaries are hidden (leading dot) and end in ``.part``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".part"
HASH_CHUNK_BYTES = 8 << 20  # 8 MiB reads keep hashing memory flat on multi-GB files


def sha256_files(parts: Sequence[Path]) -> str:
    """sha256 of the concatenated bytes of ``parts``, streamed (one file is the common case)."""
    digest = hashlib.sha256()
    for part in parts:
        with open(part, "rb") as handle:
            while chunk := handle.read(HASH_CHUNK_BYTES):
                digest.update(chunk)
    return digest.hexdigest()


def atomic_write(path: Path, write: Callable[[BinaryIO], None], *, mode: int = 0o644) -> None:
    """Call ``write(handle)`` on a temporary file, then rename it to ``path``.

    The file gets ``mode`` (mkstemp's private 0600 would hide a shared cache from other users).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """UTF-8 text with Unix line ends, atomically."""
    data = text.encode("utf-8")
    atomic_write(path, lambda handle: handle.write(data))


def remove_stale_temporaries(folder: Path, older_than_s: float = 0.0, pattern: str = ".*") -> int:
    """Delete temporaries that killed writers left in ``folder`` (matching ``pattern`` and
    ending in ``.part``) at least ``older_than_s`` seconds old; returns how many."""
    removed = 0
    if not folder.is_dir():
        return 0
    now = time.time()
    for stale in folder.glob(pattern + TEMP_SUFFIX):
        try:
            if now - stale.stat().st_mtime >= older_than_s:
                stale.unlink()
                removed += 1
        except OSError:
            continue  # gone already, or not ours to delete
    return removed


def ensure_writable_dir(folder: Path, what: str, fix: str) -> None:
    """Create ``folder`` if needed and prove a file can be written there, or raise an
    :class:`AltError` naming the folder, why, and ``fix`` (what the user can do)."""
    from alt_cli.errors import AltError

    if folder.exists() and not folder.is_dir():
        raise AltError(f"{what} {folder} is not usable (it is a file, not a folder): {fix}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".alt-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise AltError(f"{what} {folder} is not usable ({reason}): {fix}") from None
