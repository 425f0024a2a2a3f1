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
    "Aligner": "alt_cli.alignment",
    "read_lyrics": "alt_cli.alignment",
    "SongAudio": "alt_cli.audio",
    "load_song": "alt_cli.audio",
    "AltError": "alt_cli.errors",
    "AudioError": "alt_cli.errors",
    "ModelUnavailableError": "alt_cli.errors",
    "render_lrc": "alt_cli.formats",
    "render_srt": "alt_cli.formats",
    "render_txt": "alt_cli.formats",
    "render_vtt": "alt_cli.formats",
    "transcript_document": "alt_cli.formats",
    "write_outputs": "alt_cli.formats",
    "AsrOptions": "alt_cli.options",
    "BatchOptions": "alt_cli.options",
    "LayoutOptions": "alt_cli.options",
    "SeparatorOptions": "alt_cli.options",
    "TranscribeOptions": "alt_cli.options",
    "VadOptions": "alt_cli.options",
    "ModelStore": "alt_cli.pipeline",
    "Transcriber": "alt_cli.pipeline",
    "LyricLine": "alt_cli.schema",
    "Segment": "alt_cli.schema",
    "SongTranscript": "alt_cli.schema",
    "VocalActivity": "alt_cli.schema",
    "Window": "alt_cli.schema",
    "Word": "alt_cli.schema",
    "detect_vocal_activity": "alt_cli.segmentation",
    "make_separator": "alt_cli.separation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'alt_cli' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
