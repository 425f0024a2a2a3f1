"""Lyrics files: the txt, lrc, srt, vtt writers, the JSON document, and atomic writing.

Every file goes through :func:`alt_cli.fileio.atomic_write_text`, so a killed run leaves either
the complete file or none, never half of one.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from alt_cli.fileio import atomic_write_text
from alt_cli.karaoke import lrc_time, render_ass, render_elrc
from alt_cli.options import FORMATS, TranscribeOptions
from alt_cli.runtime import versions
from alt_cli.schema import LyricLine, SongTranscript

__all__ = ["FORMATS", "render_json", "render_lrc", "render_outputs", "render_srt", "render_txt",
           "render_vtt", "transcript_document", "write_outputs"]


def _sections(lines: Iterable[LyricLine]) -> list[list[LyricLine]]:
    groups: list[list[LyricLine]] = []
    for line in lines:
        if not groups or groups[-1][-1].section != line.section:
            groups.append([])
        groups[-1].append(line)
    return groups


def render_txt(lines: Sequence[LyricLine]) -> str:
    """Lyrics as lyrics: one line per sung line, a blank line between sections."""
    blocks = ["\n".join(line.text for line in section) for section in _sections(lines)]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def lrc_header(*, title: str | None, artist: str | None, length: float) -> list[str]:
    """The ID tags every LRC flavour starts with."""
    header = []
    if title:
        header.append(f"[ti:{title}]")
    if artist:
        header.append(f"[ar:{artist}]")
    whole = int(round(length))
    header.append(f"[length:{whole // 60:02d}:{whole % 60:02d}]")
    header.append("[re:alt]")
    return header


def render_lrc(
    lines: Sequence[LyricLine], *, title: str | None, artist: str | None, length: float
) -> str:
    """Synced lyrics as media players read them: tags, then ``[mm:ss.xx]text`` per line."""
    header = lrc_header(title=title, artist=artist, length=length)
    body = [f"[{lrc_time(line.start)}]{line.text}" for line in lines]
    return "\n".join(header + body) + "\n"


def _clock(seconds: float, separator: str) -> str:
    millis = int(round(max(0.0, seconds) * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cue_text(text: str) -> str:
    """A cue's text may not contain the timing arrow (it would start a cue)."""
    return text.replace("-->", "->")


def vtt_escape(text: str) -> str:
    """WebVTT reads ``&`` and ``<`` as markup: a lyric with them must be escaped."""
    return _cue_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_srt(lines: Sequence[LyricLine]) -> str:
    """SubRip cues, one per line, numbered from 1."""
    cues = [
        f"{i}\n{_clock(line.start, ',')} --> {_clock(line.end, ',')}\n{_cue_text(line.text)}\n"
        for i, line in enumerate(lines, start=1)
    ]
    return "\n".join(cues)


def render_vtt(lines: Sequence[LyricLine]) -> str:
    """WebVTT cues, one per line."""
    cues = [
        f"{_clock(line.start, '.')} --> {_clock(line.end, '.')}\n{vtt_escape(line.text)}\n"
        for line in lines
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def render_json(document: dict[str, Any]) -> str:
    """Pretty JSON, UTF-8 kept readable (lyrics are rarely ASCII)."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


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
        "vocals": _jsonable(song.verdict),
        "lines": [{**_jsonable(line), "confidence": _jsonable(line.confidence)}
                  for line in song.lines],
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
        "versions": versions(),
        "timings": _jsonable(song.timings),
        "notes": song.notes,
    }


def render_outputs(song: SongTranscript, formats: Iterable[str], document: dict[str, Any]
                   ) -> dict[str, str]:
    """The text of every requested format, rendered before anything is written (so a record of
    what alt writes can name the files' hashes before they exist)."""
    renderers = {
        "txt": lambda: render_txt(song.lines),
        "lrc": lambda: render_lrc(
            song.lines, title=song.title, artist=song.artist, length=song.duration
        ),
        "elrc": lambda: render_elrc(song.lines, lrc_header(
            title=song.title, artist=song.artist, length=song.duration)),
        "ass": lambda: render_ass(song.lines, title=song.title),
        "srt": lambda: render_srt(song.lines),
        "vtt": lambda: render_vtt(song.lines),
        "json": lambda: render_json(document),
    }
    return {fmt: renderers[fmt]() for fmt in formats}


def write_outputs(
    song: SongTranscript,
    paths: dict[str, Path],
    document: dict[str, Any],
) -> list[Path]:
    """Render and atomically write every requested format; returns the files written."""
    texts = render_outputs(song, paths, document)
    for fmt, path in paths.items():
        atomic_write_text(path, texts[fmt])
    return list(paths.values())
