"""Vocal separation: one interface over Demucs, Spleeter and "no separation", plus a disk cache.

Whisper and the RMS voice-activity detector both work much better on isolated vocals than on
a full mix, but separating a song costs seconds to minutes, so the result is cached on disk
per audio content, separator and model.  The backends live in :mod:`alt_cli.spleeter` and
:mod:`alt_cli.demucs_backend` and are imported only when used, because they pull in torch.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from alt_cli.demucs_backend import demucs_weights_available, unavailable_message
from alt_cli.errors import AltError, ModelUnavailableError
from alt_cli.fileio import atomic_write

__all__ = [
    "SEPARATION_SAMPLE_RATE",
    "PassthroughSeparator",
    "SeparationResult",
    "Separator",
    "SeparatorOptions",
    "default_cache_dir",
    "demucs_weights_available",
    "make_separator",
    "separate_cached",
]

log = logging.getLogger(__name__)

SEPARATION_SAMPLE_RATE = 44100  # Hz; what every separator takes in and gives back
SEPARATORS = ("auto", "demucs", "spleeter", "none")
# Bump when the stored format or the separation arithmetic changes, to orphan old entries.
CACHE_FORMAT_VERSION = 1
CACHE_DTYPE = np.float16  # half the size of float32; ~-66 dB rounding noise, inaudible to ASR
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._]+")


class Separator(Protocol):
    """Something that extracts vocals from a stereo 44.1 kHz mix."""

    name: str  # "spleeter" | "demucs" | "none"
    model: str  # e.g. "spleeter-2stems", "mdx_extra"

    def separate(self, stereo: np.ndarray) -> np.ndarray:
        """``(2, n)`` float32 mix at 44.1 kHz -> ``(2, n)`` float32 vocals, same length."""
        ...


@dataclass(frozen=True)
class SeparatorOptions:
    """What the user asked for on the command line."""

    separator: str = "auto"  # auto | demucs | spleeter | none
    demucs_model: str = "mdx_extra"
    demucs_repo: Path | None = None  # local folder with <sig>.th and <name>.yaml files
    device: str = "cpu"
    threads: int | None = None  # torch CPU threads; None leaves torch's default alone


@dataclass(frozen=True)
class SeparationResult:
    """Separated vocals and where they came from."""

    vocals: np.ndarray  # (2, n) float32 at 44.1 kHz
    separator: str
    model: str
    cached: bool
    seconds: float  # time spent separating; 0 when read from the cache


class PassthroughSeparator:
    """The "none" separator: the mix stands in for the vocals (for a cappella input, or tests)."""

    name = "none"
    model = "none"

    def separate(self, stereo: np.ndarray) -> np.ndarray:
        """Return the mix itself, as a float32 copy so callers may modify it."""
        return np.array(stereo, dtype=np.float32, copy=True)


def resolve_separator(options: SeparatorOptions) -> str:
    """The separator "auto" stands for here: Demucs when its weights are on this machine."""
    choice = options.separator
    if choice not in SEPARATORS:
        raise AltError(f"unknown separator {choice!r}; choose one of {', '.join(SEPARATORS)}")
    if choice == "auto":
        found = demucs_weights_available(options.demucs_model, options.demucs_repo)
        choice = "demucs" if found else "spleeter"
        log.info("separator auto -> %s", choice)
    return choice


def make_separator(options: SeparatorOptions) -> Separator:
    """Build the separator ``options`` ask for, loading its weights now.

    "auto" picks Demucs when its weights are already on this machine (it separates better)
    and Spleeter otherwise, whose weights come with a pip package; it never waits on the
    network.  An explicitly requested Demucs whose weights are missing is an error, not a
    silent downgrade.
    """
    choice = resolve_separator(options)
    if choice == "none":
        return PassthroughSeparator()
    if choice == "demucs" and not demucs_weights_available(options.demucs_model,
                                                             options.demucs_repo):
        raise ModelUnavailableError(unavailable_message(options.demucs_model,
                                                        options.demucs_repo))
    _set_threads(options.threads)
    if choice == "demucs":
        from alt_cli.demucs_backend import DemucsSeparator

        return DemucsSeparator(options.demucs_model, options.demucs_repo, options.device)
    from alt_cli.spleeter import SpleeterSeparator

    return SpleeterSeparator(device=options.device)


def _set_threads(threads: int | None) -> None:
    """Apply ``--threads`` to torch; process-wide, which is what a CLI flag means anyway."""
    if threads is None:
        return
    if threads < 1:
        raise AltError(f"--threads must be at least 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


def default_cache_dir() -> Path:
    """The user's cache folder for alt: ``$XDG_CACHE_HOME/alt``, else ``~/.cache/alt``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "alt"


def cache_path(separator: Separator, audio_hash: str, cache_dir: Path) -> Path:
    """Where the vocals of ``audio_hash`` by ``separator`` are cached.

    A separator may carry a ``weights_tag`` (Demucs from a local folder does) for weights
    that its model name alone does not identify.
    """
    parts = [audio_hash, separator.name, separator.model, getattr(separator, "weights_tag", "")]
    safe = "-".join(_UNSAFE_KEY_CHARS.sub("_", part) for part in parts if part)
    return Path(cache_dir) / "stems" / f"{safe}-v{CACHE_FORMAT_VERSION}.npy"


def separate_cached(separator: Separator, stereo: np.ndarray, audio_hash: str,
                    cache_dir: Path) -> SeparationResult:
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
    cached = _read_cache(path, stereo.shape)
    if cached is not None:
        return SeparationResult(cached.astype(np.float32), separator.name, separator.model,
                                cached=True, seconds=0.0)
    started = time.perf_counter()
    vocals = np.asarray(separator.separate(stereo))
    seconds = time.perf_counter() - started
    if vocals.shape != stereo.shape:
        raise ValueError(f"{separator.name} returned shape {vocals.shape} for {stereo.shape}")
    stored = np.clip(vocals, -_FLOAT16_MAX, _FLOAT16_MAX).astype(CACHE_DTYPE)
    _write_cache(path, stored)
    return SeparationResult(stored.astype(np.float32), separator.name, separator.model,
                            cached=False, seconds=seconds)


def _read_cache(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """The cached array if it exists and looks whole (right dtype, shape, finite), else None."""
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, EOFError) as exc:
        log.warning("ignoring unreadable separation cache %s: %s", path, exc)
        return None
    if data.dtype != CACHE_DTYPE or data.shape != tuple(shape) or not np.isfinite(data).all():
        log.warning("ignoring separation cache %s: wrong dtype, shape or values", path)
        return None
    return data


def _write_cache(path: Path, data: np.ndarray) -> None:
    """Write ``data`` to ``path`` atomically; failing to cache is a warning, not an error."""
    try:
        atomic_write(path, lambda handle: np.save(handle, data, allow_pickle=False))
    except OSError as exc:
        log.warning("could not write separation cache %s: %s", path, exc)
