"""Lyrics layout: Whisper's timed words laid out as the lines and sections a musician writes.

The layout is a chain of steps of one shape, ``step(lines, cues) -> lines`` (the shape of
stable-ts's regrouping), run in the order of :data:`STEPS`; each is gated by the one setting of
:class:`alt_cli.options.LayoutOptions` beside it, so any step can be run alone or left out (the
layout bench does exactly that).  What a step may know about the song besides the lines is one
:class:`LayoutCues` record, built once by the pipeline (or from human word timings by the
layout bench).  After every step from the rests on, the lines' texts are cleaned again and
empty lines dropped.

Modules: ``cues`` (the record, the vocal envelope), ``lines`` (the shared vocabulary: written
words, joins, the same-line test), ``cleaning`` (junk, foreign scripts, capitals), ``phrasing``
(rests, breaths, line length, short lines), ``pickups`` (a line never ends on "de"/"the"),
``sections`` (blank lines), ``music_structure`` (where the mix changes: a cue, not a step).

Every step was judged alone and left out on three dev sets, jam-alt-dev and ultrastar-dev
(audio) and jam-alt-text (49 songs' words at human times): ``benchmarks/layout_protocol.py``,
the README's fifth round.  A step that lowered line F1 everywhere was removed (sections at
repeated blocks); the capitals fail on the karaoke set and stay, as the README says why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from alt_cli.layout.cleaning import capitals_step, script_step, tidy
from alt_cli.layout.cues import LayoutCues, VoiceEnvelope
from alt_cli.layout.phrasing import (
    breaths_step,
    max_words_step,
    period_step,
    rests_step,
    short_lines_step,
)
from alt_cli.layout.pickups import pickup_joins_step, pickups_step
from alt_cli.layout.punctuation import punctuation_step
from alt_cli.layout.repeats import repeats_step
from alt_cli.layout.sections import sections_step
from alt_cli.options import LayoutOptions
from alt_cli.schema import LyricLine

StepFunction = Callable[[list[LyricLine], LayoutCues], list[LyricLine]]


@dataclass(frozen=True)
class Step:
    """One layout step and the setting that turns it on (None: it always runs)."""

    name: str
    setting: str | None
    run: StepFunction
    # Clean the lines after it (junk dropped): not before the rests have cut Whisper's lines,
    # or a caption ("Gracias por ver...") would take the sung words after it along.
    cleans: bool = True

    def on(self, options: LayoutOptions) -> bool:
        if self.setting is None:
            return True
        value = getattr(options, self.setting)
        if self.setting == "min_line_words":
            return value > 1
        if self.setting == "line_capitals":
            return bool(value or options.lyrics_conventions)
        return value is not None and value is not False


STEPS: tuple[Step, ...] = (
    Step("script", "script_filter", script_step, cleans=False),
    Step("rests", None, rests_step),
    Step("breaths", "line_breath", breaths_step),
    Step("max words", "max_line_words", max_words_step),
    Step("short lines", "min_line_words", short_lines_step),
    Step("period", "line_period", period_step),
    Step("punctuation", "line_punctuation", punctuation_step),
    Step("repeats", "line_repeats", repeats_step),
    Step("pickups", "line_pickups", pickups_step),
    Step("pickup joins", "pickup_joins", pickup_joins_step),
    Step("capitals", "line_capitals", capitals_step),
    Step("sections", None, sections_step),
)


def lay_out(raw_lines: Sequence[LyricLine], cues: LayoutCues,
            steps: Sequence[Step] = STEPS) -> tuple[LyricLine, ...]:
    """Whisper's lines (in any order) laid out by every step that ``cues.options`` turns on."""
    lines = sorted(raw_lines, key=lambda line: line.start)
    for step in steps:
        if step.on(cues.options):
            lines = step.run(lines, cues)
            lines = tidy(lines) if step.cleans else lines
    return tuple(lines)


__all__ = ["STEPS", "LayoutCues", "Step", "VoiceEnvelope", "lay_out"]
