"""alt: automatic lyrics transcription that reads music like a musician.

Python API (the CLI is a thin layer over it)::

    from alt_cli import Transcriber, TranscribeOptions, render_txt
    song = Transcriber(TranscribeOptions(model="base")).transcribe("song.mp3")
    print(render_txt(song.lines))

Names are imported lazily, so ``import alt_cli.segmentation`` does not pay for torch and Whisper.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SongAudio": "alt_cli.audio",
    "load_song": "alt_cli.audio",
    "AltError": "alt_cli.errors",
    "AudioError": "alt_cli.errors",
    "ModelUnavailableError": "alt_cli.errors",
    "render_lrc": "alt_cli.formats",
    "render_srt": "alt_cli.formats",
    "render_txt": "alt_cli.formats",
    "render_vtt": "alt_cli.formats",
    "LyricLine": "alt_cli.lyrics",
    "Word": "alt_cli.lyrics",
    "SongTranscript": "alt_cli.pipeline",
    "Transcriber": "alt_cli.pipeline",
    "TranscribeOptions": "alt_cli.pipeline",
    "Segment": "alt_cli.segmentation",
    "VadOptions": "alt_cli.segmentation",
    "Window": "alt_cli.segmentation",
    "segment_vocals": "alt_cli.segmentation",
    "SeparatorOptions": "alt_cli.separation",
    "make_separator": "alt_cli.separation",
    "AsrOptions": "alt_cli.transcription",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'alt_cli' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
