"""Vocal separation: one interface over Demucs, Spleeter and "no separation", plus a disk cache.

Whisper and the RMS voice-activity detector both work much better on isolated vocals than on
a full mix, but separating a song costs seconds to minutes, so the result is cached on disk
per audio content, separator and model.  The backends (:mod:`.demucs`, :mod:`.spleeter`) are
registered by name in :data:`BACKENDS` and imported only when built, because they pull in torch.
Nothing here prints: what a caller should tell the user comes back to it (a warning callback,
the resolved name), so separation reports through the same channel as every other stage.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from alt_cli.errors import AltError, ModelUnavailableError
from alt_cli.fileio import atomic_write, remove_stale_temporaries
from alt_cli.options import SEPARATORS, SeparatorOptions
from alt_cli.schema import SeparationResult
from alt_cli.separation.demucs import demucs_weights_available, unavailable_message

__all__ = [
    "BACKENDS",
    "PassthroughSeparator",
    "SeparationResult",
    "Separator",
    "make_separator",
    "resolve_separator",
    "separate_cached",
]

# Bump when the stored format or the separation arithmetic changes, to orphan old entries.
CACHE_FORMAT_VERSION = 1
STEMS_SUBDIR = "stems"  # cache_dir/stems holds the separated vocals
STALE_TEMPORARY_S = 3600.0  # a cache temporary this old was left by a killed run
CACHE_DTYPE = np.float16  # half the size of float32; ~-66 dB rounding noise, inaudible to ASR
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._]+")
Warn = Callable[[str], None]


class Separator(Protocol):
    """Something that extracts vocals from a stereo 44.1 kHz mix."""

    name: str  # "spleeter" | "demucs" | "none"
    model: str  # e.g. "spleeter-2stems", "mdx_extra"
    # Tells apart weights that the model name alone does not identify (Demucs from a local
    # folder); part of the cache key.  "" for released weights.
    weights_tag: str

    def separate(self, stereo: np.ndarray) -> np.ndarray:
        """``(2, n)`` float32 mix at 44.1 kHz -> ``(2, n)`` float32 vocals, same length."""
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


def separate_cached(separator: Separator, stereo: np.ndarray, audio_hash: str,
                    cache_dir: Path, warn: Warn = _ignore) -> SeparationResult:
    """Vocals of ``stereo``, from the cache when present, else separated and then cached.

    Fresh results go through the same float16 rounding as cached ones, so a second run gives
    bit-identical vocals and therefore identical transcripts.  A cache that cannot be read is
    recomputed and one that cannot be written only costs a warning: the cache is an
    optimisation, never a reason to fail.
    """
    if stereo.ndim != 2 or stereo.shape[0] != 2:
        raise ValueError(f"expected a (2, n) stereo array, got shape {stereo.shape}")
    if not audio_hash:
        raise ValueError("audio_hash must not be empty: it is what tells songs apart")
    path = cache_path(separator, audio_hash, cache_dir)
    cached = _read_cache(path, stereo.shape, warn)
    if cached is not None:
        return SeparationResult(cached.astype(np.float32), separator.name, separator.model,
                                cached=True, seconds=0.0)
    started = time.perf_counter()
    vocals = np.asarray(separator.separate(stereo))
    seconds = time.perf_counter() - started
    if vocals.shape != stereo.shape:
        raise ValueError(f"{separator.name} returned shape {vocals.shape} for {stereo.shape}")
    stored = np.clip(vocals, -_FLOAT16_MAX, _FLOAT16_MAX).astype(CACHE_DTYPE)
    _write_cache(path, stored, warn)
    return SeparationResult(stored.astype(np.float32), separator.name, separator.model,
                            cached=False, seconds=seconds)


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
