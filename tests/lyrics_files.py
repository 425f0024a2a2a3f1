"""Parsers for the timed lyrics files alt writes, so tests can read outputs back."""

from __future__ import annotations

import re

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
