"""Vocal separation: one interface over Demucs, Spleeter and "no separation", plus a disk cache.

Whisper and the RMS voice-activity detector both work much better on isolated vocals than on
a full mix, but separating a song costs seconds to minutes, so the result is cached on disk
per audio content, separator and model.  The backends (:mod:`.demucs`, :mod:`.spleeter`) are
registered by name in :data:`BACKENDS` and imported only when built, because they pull in torch.
Nothing here prints: what a caller should tell the user comes back to it (a warning callback,
the resolved name), so separation reports through the same channel as every other stage.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from alt_cli.errors import AltError, ModelUnavailableError
from alt_cli.fileio import TEMP_SUFFIX, atomic_write, remove_stale_temporaries
from alt_cli.options import SEPARATORS, SeparatorOptions
from alt_cli.schema import SeparationResult
from alt_cli.separation.demucs import demucs_weights_available, unavailable_message
from alt_cli.signals import DiskSignal, Signal, blocks, new_signal, slice_of

__all__ = [
    "BACKENDS",
    "PassthroughSeparator",
    "SeparationResult",
    "Separator",
    "make_separator",
    "resolve_separator",
    "separate_cached",
    "separate_cached_many",
    "separate_into",
]

# Bump when the stored format or the separation arithmetic changes, to orphan old entries.
CACHE_FORMAT_VERSION = 1
STEMS_SUBDIR = "stems"  # cache_dir/stems holds the separated vocals
STALE_TEMPORARY_S = 3600.0  # a cache temporary this old was left by a killed run
CACHE_DTYPE = np.float16  # half the size of float32; ~-66 dB rounding noise, inaudible to ASR
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._]+")
Warn = Callable[[str], None]
BlockWriter = Callable[[int, np.ndarray], None]  # (first sample, (2, k) float32 vocals)


class Separator(Protocol):
    """Something that extracts vocals from a stereo 44.1 kHz mix."""

    name: str  # "spleeter" | "demucs" | "none"
    model: str  # e.g. "spleeter-2stems", "mdx_extra"
    # Tells apart weights that the model name alone does not identify (Demucs from a local
    # folder); part of the cache key.  "" for released weights.
    weights_tag: str

    def separate(self, stereo: np.ndarray) -> np.ndarray:
        """``(2, n)`` float32 mix at 44.1 kHz -> ``(2, n)`` float32 vocals, same length.

        The built-in backends also have ``separate_into(stereo, write)``, which reads the mix
        in blocks and hands the vocals to ``write(start, block)`` in order, so that a long
        song is never held whole (see :func:`separate_into`).
        """
        ...


class PassthroughSeparator:
    """The "none" separator: the mix stands in for the vocals (for a cappella input, or tests)."""

    name = "none"
    model = "none"
    weights_tag = ""

    def separate(self, stereo: np.ndarray) -> np.ndarray:
        """Return the mix itself, as a float32 copy so callers may modify it."""
        return np.array(stereo, dtype=np.float32, copy=True)


def _build_demucs(options: SeparatorOptions, device: str) -> Separator:
    from alt_cli.separation.demucs import DemucsSeparator

    return DemucsSeparator(options.demucs_model, options.demucs_repo, device)


def _build_spleeter(options: SeparatorOptions, device: str) -> Separator:
    from alt_cli.separation.spleeter import SpleeterSeparator

    return SpleeterSeparator(device=device)


def _build_none(options: SeparatorOptions, device: str) -> Separator:
    return PassthroughSeparator()


# name -> builder(options, device); builders import their backend (and torch) when called.
BACKENDS: dict[str, Callable[[SeparatorOptions, str], Separator]] = {
    "demucs": _build_demucs, "spleeter": _build_spleeter, "none": _build_none,
}


def resolve_separator(options: SeparatorOptions) -> str:
    """The separator "auto" stands for here: Demucs when its weights are on this machine."""
    choice = options.separator
    if choice not in SEPARATORS:
        raise AltError(f"unknown separator {choice!r}; choose one of {', '.join(SEPARATORS)}")
    if choice == "auto":
        found = demucs_weights_available(options.demucs_model, options.demucs_repo)
        choice = "demucs" if found else "spleeter"
    return choice


def make_separator(options: SeparatorOptions, device: str = "cpu") -> Separator:
    """Build the separator ``options`` ask for on ``device``, loading its weights now.

    "auto" picks Demucs when its weights are already on this machine (it separates better)
    and Spleeter otherwise, whose weights come with a pip package; it never waits on the
    network.  An explicitly requested Demucs whose weights are missing is an error, not a
    silent downgrade.
    """
    choice = resolve_separator(options)
    if choice == "demucs" and not demucs_weights_available(options.demucs_model,
                                                             options.demucs_repo):
        raise ModelUnavailableError(unavailable_message(options.demucs_model,
                                                        options.demucs_repo))
    return BACKENDS[choice](options, device)


def cache_path(separator: Separator, audio_hash: str, cache_dir: Path) -> Path:
    """Where the vocals of ``audio_hash`` by ``separator`` are cached."""
    parts = [audio_hash, separator.name, separator.model, separator.weights_tag]
    safe = "-".join(_UNSAFE_KEY_CHARS.sub("_", part) for part in parts if part)
    return Path(cache_dir) / STEMS_SUBDIR / f"{safe}-v{CACHE_FORMAT_VERSION}.npy"


def remove_stale_stems(cache_dir: Path) -> int:
    """Delete stem temporaries that runs killed mid-write left behind (an hour old or more,
    so a concurrent run's write in progress is never touched); returns how many."""
    return remove_stale_temporaries(Path(cache_dir) / STEMS_SUBDIR, STALE_TEMPORARY_S)


def _ignore(message: str) -> None:
    """The default warning channel of the cache: callers pass their reporter's."""


def separate_into(separator: Separator, stereo: Signal, write: BlockWriter) -> None:
    """Run ``separator`` on ``stereo``, handing its vocals to ``write(start, block)`` in order.

    Backends that work in blocks (``separate_into``) never hold the whole song; any other
    separator gets the whole mix as one array.
    """
    streaming = getattr(separator, "separate_into", None)
    if streaming is not None:
        streaming(stereo, write)
        return
    vocals = np.asarray(separator.separate(np.asarray(stereo)))
    if vocals.shape != tuple(stereo.shape):
        raise ValueError(f"{separator.name} returned shape {vocals.shape} for {stereo.shape}")
    write(0, vocals)


def separate_cached(separator: Separator, stereo: Signal, audio_hash: str,
                    cache_dir: Path, warn: Warn = _ignore, spill_dir: Path | None = None
                    ) -> SeparationResult:
    """Vocals of ``stereo``, from the cache when present, else separated and then cached.

    Fresh results go through the same float16 rounding as cached ones, so a second run gives
    bit-identical vocals and therefore identical transcripts.  A cache that cannot be read is
    recomputed and one that cannot be written only costs a warning: the cache is an
    optimisation, never a reason to fail.  With ``spill_dir`` (a long song) the vocals are
    written block by block into the cache file and read back from it in blocks, never held
    in memory whole; they come back as a float16 :class:`DiskSignal`.
    """
    if stereo.ndim != 2 or stereo.shape[0] != 2:
        raise ValueError(f"expected a (2, n) stereo array, got shape {stereo.shape}")
    if not audio_hash:
        raise ValueError("audio_hash must not be empty: it is what tells songs apart")
    path = cache_path(separator, audio_hash, cache_dir)
    shape = tuple(stereo.shape)
    if spill_dir is not None:
        return _separate_spilled(separator, stereo, path, spill_dir, warn)
    cached = _read_cache(path, shape, warn)
    if cached is not None:
        return _result(separator, cached, cached=True)
    started = time.perf_counter()
    stored = np.zeros(shape, dtype=CACHE_DTYPE)
    separate_into(separator, stereo, _float16_writer(stored))
    seconds = time.perf_counter() - started
    _write_cache(path, stored, warn)
    return _result(separator, stored, seconds=seconds)


def _result(separator: Separator, stored: np.ndarray, cached: bool = False,
            seconds: float = 0.0) -> SeparationResult:
    """A result from float16 vocals as the cache holds them."""
    return SeparationResult(stored.astype(np.float32), separator.name, separator.model,
                            cached=cached, seconds=seconds)


def separate_cached_many(separator: Separator, songs: list[tuple[Signal, str]],
                         cache_dir: Path, warn: Warn = _ignore) -> list[SeparationResult]:
    """:func:`separate_cached` for several in-memory songs ``(stereo, audio_hash)``: the ones
    not in the cache go through the separator together where it can batch songs
    (``separate_many``), so that their segments share the network's passes on a GPU.  Each
    song's separating time is the shared time split by song length."""
    results: list[SeparationResult | None] = [None] * len(songs)
    todo = []
    for k, (stereo, audio_hash) in enumerate(songs):
        if not audio_hash:
            raise ValueError("audio_hash must not be empty: it is what tells songs apart")
        cached = _read_cache(cache_path(separator, audio_hash, cache_dir), stereo.shape, warn)
        if cached is not None:
            results[k] = _result(separator, cached, cached=True)
        else:
            todo.append(k)
    together = getattr(separator, "separate_many", None)
    if together is None or len(todo) < 2:
        for k in todo:
            results[k] = separate_cached(separator, songs[k][0], songs[k][1], cache_dir, warn)
        return [r for r in results if r is not None]
    started = time.perf_counter()
    vocals = together([np.asarray(songs[k][0]) for k in todo])
    seconds = time.perf_counter() - started
    total = sum(songs[k][0].shape[-1] for k in todo) or 1
    for k, separated in zip(todo, vocals, strict=True):
        stereo, audio_hash = songs[k]
        if separated.shape != tuple(stereo.shape):
            raise ValueError(f"{separator.name} returned shape {separated.shape} for "
                             f"{stereo.shape}")
        stored = np.zeros(separated.shape, dtype=CACHE_DTYPE)
        _float16_writer(stored)(0, separated)
        _write_cache(cache_path(separator, audio_hash, cache_dir), stored, warn)
        results[k] = _result(separator, stored, seconds=seconds * stereo.shape[-1] / total)
    return [r for r in results if r is not None]


def _float16_writer(out) -> BlockWriter:
    """A writer storing blocks into ``out`` as the cache stores them (clipped float16)."""
    def write(start: int, block: np.ndarray) -> None:
        block = np.clip(block, -_FLOAT16_MAX, _FLOAT16_MAX).astype(CACHE_DTYPE)
        out[:, start:start + block.shape[-1]] = block
    return write


def _separate_spilled(separator: Separator, stereo: Signal, path: Path, spill_dir: Path,
                      warn: Warn) -> SeparationResult:
    """:func:`separate_cached` for a long song: cache file and result on disk, in blocks."""
    shape = tuple(stereo.shape)
    try:
        cached = DiskSignal.open_npy(path)
    except FileNotFoundError:
        cached = None
    except (OSError, ValueError) as exc:
        warn(f"ignoring unreadable separation cache {path}: {exc}")
        cached = None
    if cached is not None:
        if cached.dtype == CACHE_DTYPE and cached.shape == shape and _all_finite(cached):
            return SeparationResult(cached, separator.name, separator.model, cached=True,
                                    seconds=0.0)
        warn(f"ignoring separation cache {path}: wrong dtype, shape or values")
    started = time.perf_counter()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{TEMP_SUFFIX}"
        out = DiskSignal.create_npy(tmp, shape, CACHE_DTYPE)
    except OSError as exc:
        warn(f"could not write separation cache {path}: {exc}")
        tmp, out = None, new_signal(shape, CACHE_DTYPE, spill_dir)
    try:
        separate_into(separator, stereo, _float16_writer(out))
        if tmp is not None:
            out.sync()
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return SeparationResult(out, separator.name, separator.model, cached=False,
                            seconds=time.perf_counter() - started)


def _all_finite(signal: Signal) -> bool:
    """No NaN or infinity anywhere, checked block by block."""
    step = 1 << 20
    return all(np.isfinite(slice_of(signal, a, b)).all() for a, b in blocks(signal.shape[-1], step))


def _read_cache(path: Path, shape: tuple[int, ...], warn: Warn) -> np.ndarray | None:
    """The cached array if it exists and looks whole (right dtype, shape, finite), else None."""
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError) as exc:
        warn(f"ignoring unreadable separation cache {path}: {exc}")
        return None
    if data.dtype != CACHE_DTYPE or data.shape != tuple(shape) or not np.isfinite(data).all():
        warn(f"ignoring separation cache {path}: wrong dtype, shape or values")
        return None
    return data


def _write_cache(path: Path, data: np.ndarray, warn: Warn) -> None:
    """Write ``data`` to ``path`` atomically; failing to cache is a warning, not an error."""
    try:
        atomic_write(path, lambda handle: np.save(handle, data, allow_pickle=False))
    except OSError as exc:
        warn(f"could not write separation cache {path}: {exc}")
