"""The layout called the way the tests set it up: lines, rests, options, language, voice."""

from __future__ import annotations

from collections.abc import Sequence

from alt_cli.layout import LayoutCues, VoiceEnvelope, lay_out
from alt_cli.options import LayoutOptions
from alt_cli.schema import LyricLine


def layout_lines(raw: Sequence[LyricLine], rests: Sequence[tuple[float, float]] = (),
                 options: LayoutOptions = LayoutOptions(), language: str | None = None,
                 voice: VoiceEnvelope | None = None, changes: Sequence[float] = ()
                 ) -> tuple[LyricLine, ...]:
    """:func:`alt_cli.layout.lay_out` with its cues given one by one."""
    return lay_out(raw, LayoutCues(language, tuple(rests), voice, tuple(changes), options))
