"""Lyrics files: txt, lrc, srt, vtt, json writers (and parsers for the timed ones).

Callers write them with :func:`alt_cli.fileio.atomic_write_text`, so a killed
run leaves either the complete file or none, never half of one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from alt_cli.lyrics import LyricLine

FORMATS = ("txt", "lrc", "srt", "vtt", "json")
DEFAULT_FORMATS = ("txt", "lrc", "json")


def _sections(lines: Iterable[LyricLine]) -> list[list[LyricLine]]:
    groups: list[list[LyricLine]] = []
    for line in lines:
        if not groups or groups[-1][-1].section != line.section:
            groups.append([])
        groups[-1].append(line)
    return groups


def render_txt(lines: list[LyricLine]) -> str:
    """Lyrics as lyrics: one line per sung line, a blank line between sections."""
    blocks = ["\n".join(line.text for line in section) for section in _sections(lines)]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _lrc_time(seconds: float) -> str:
    centis = int(round(max(0.0, seconds) * 100))
    minutes, centis = divmod(centis, 6000)
    return f"{minutes:02d}:{centis // 100:02d}.{centis % 100:02d}"


def render_lrc(
    lines: list[LyricLine], *, title: str | None, artist: str | None, length: float
) -> str:
    """Synced lyrics as media players read them: tags, then ``[mm:ss.xx]text`` per line."""
    header = []
    if title:
        header.append(f"[ti:{title}]")
    if artist:
        header.append(f"[ar:{artist}]")
    whole = int(round(length))
    header.append(f"[length:{whole // 60:02d}:{whole % 60:02d}]")
    header.append("[re:alt]")
    body = [f"[{_lrc_time(line.start)}]{line.text}" for line in lines]
    return "\n".join(header + body) + "\n"


def _clock(seconds: float, separator: str) -> str:
    millis = int(round(max(0.0, seconds) * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def render_srt(lines: list[LyricLine]) -> str:
    """SubRip cues, one per line, numbered from 1."""
    cues = [
        f"{i}\n{_clock(line.start, ',')} --> {_clock(line.end, ',')}\n{line.text}\n"
        for i, line in enumerate(lines, start=1)
    ]
    return "\n".join(cues)


def render_vtt(lines: list[LyricLine]) -> str:
    """WebVTT cues, one per line."""
    cues = [
        f"{_clock(line.start, '.')} --> {_clock(line.end, '.')}\n{line.text}\n" for line in lines
    ]
    return "WEBVTT\n\n" + "\n".join(cues)


def render_json(document: dict[str, Any]) -> str:
    """Pretty JSON, UTF-8 kept readable (lyrics are rarely ASCII)."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


_LRC_LINE = re.compile(r"^\[(\d+):(\d{2}(?:\.\d+)?)\](.*)$")
_CUE_TIME = re.compile(r"(?:(\d+):)?(\d{2}):(\d{2})[,.](\d{3})")


def parse_lrc(text: str) -> list[tuple[float, str]]:
    """(start, text) per timed LRC line; tag lines such as ``[ti:...]`` are skipped."""
    result = []
    for raw in text.splitlines():
        match = _LRC_LINE.match(raw.strip())
        if match:
            result.append((int(match[1]) * 60 + float(match[2]), match[3]))
    return result


def _cue_seconds(stamp: str) -> float:
    match = _CUE_TIME.fullmatch(stamp.strip())
    if not match:
        raise ValueError(f"not a cue time: {stamp!r}")
    hours = int(match[1] or 0)
    return hours * 3600 + int(match[2]) * 60 + int(match[3]) + int(match[4]) / 1000


def parse_cues(text: str) -> list[tuple[float, float, str]]:
    """(start, end, text) per SRT or VTT cue."""
    cues = []
    for block in re.split(r"\n\s*\n", text.strip()):
        rows = block.strip().splitlines()
        for i, row in enumerate(rows):
            if "-->" in row:
                start, end = row.split("-->")
                cues.append((_cue_seconds(start), _cue_seconds(end.split()[0]),
                             "\n".join(rows[i + 1:])))
                break
    return cues
