"""Sections: a blank line after a long vocal rest and where the music changes.

In written lyrics a blank line separates verse from chorus, and singers rarely rest between
them: on the dev songs most section boundaries fall on gaps under half a second, as short as
the gaps inside a verse.  So a section also opens where the music changes
(:mod:`alt_cli.layout.music_structure`), at the nearby line start after the longest rest, or,
when one is there, where a block of two or more consecutive lines sung again elsewhere (a
chorus, recognition errors aside) starts or ends (:func:`repeat_boundaries`).

The repeats do not make sections on their own: as sections they lowered line-break F1 on
every dev set (jam-alt-dev, ultrastar-dev and jam-alt-text's 49 songs; the option that did so,
``--repeat-sections``, was removed).  They decide *where* a change of the music opens its
section when several line starts lie near it (:func:`change_boundaries`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from alt_cli.layout.cues import LayoutCues
from alt_cli.layout.lines import line_key, same_key
from alt_cli.layout.music_structure import PICKUP_S
from alt_cli.options import SECTION_GAP
from alt_cli.schema import LyricLine

MIN_BLOCK_LINES = 2  # one repeated line is a refrain inside a section, not a section


def repeat_boundaries(lines: Sequence[LyricLine]) -> set[int]:
    """Indices of lines that start a section because a repeated block starts or ends there."""
    keys = [line_key(line.text) for line in lines]
    n = len(keys)
    equal = [[j > i and same_key(keys[i], keys[j]) for j in range(n)] for i in range(n)]
    starts: set[int] = set()
    for i in range(n):
        for j in range(i + 1, n):
            if not equal[i][j] or (i > 0 and equal[i - 1][j - 1]):
                continue  # not the first line of a diagonal run
            length = 0
            while j + length < n and i + length < j and equal[i + length][j + length]:
                length += 1
            if length >= MIN_BLOCK_LINES:
                for first in (i, j):
                    starts.update({first, first + length})
    return {index for index in starts if 0 < index < n}


def change_boundaries(lines: Sequence[LyricLine], changes: Sequence[float],
                      repeats: Collection[int] = ()) -> set[int]:
    """Indices of lines that start a section because the music changes at their start: of the
    lines starting within :data:`PICKUP_S` of a change (the novelty peak's precision; a new
    section's first line may also start with pickup notes before it), the one after the
    longest rest, where the singer breathes between sections.  Each change opens at most
    one section.

    ``repeats`` (:func:`repeat_boundaries`) are the line indices where a block of lines sung
    again starts or ends.  When one of the nearby lines is such a place, the change opens its
    section there: the music changing where the words start or stop repeating is the chorus
    coming or going, two clues to one boundary, where a rest alone may be a breath inside a
    verse.  Repeats only place a change; they never add one."""
    starts: set[int] = set()
    for change in sorted(changes):
        near = [i for i in range(1, len(lines)) if i not in starts
                and abs(lines[i].start - change) <= PICKUP_S]
        near = [i for i in near if i in repeats] or near
        if near:
            starts.add(max(near, key=lambda i: lines[i].start - _last_sung(lines[i - 1])))
    return starts


def _last_sung(line: LyricLine) -> float:
    return line.words[-1].end if line.words else line.end


def assign_sections(lines: Sequence[LyricLine], section_gap: float = SECTION_GAP,
                    changes: Sequence[float] = (), changes_at_repeats: bool = False
                    ) -> list[LyricLine]:
    """Number sections: a new one after a vocal rest >= ``section_gap`` seconds and where the
    music changes (``changes``: :func:`alt_cli.layout.music_structure.structure_changes`; with
    ``changes_at_repeats``, at a nearby repeated block's start or end when there is one)."""
    repeats = repeat_boundaries(lines) if changes_at_repeats and len(changes) > 0 else set()
    boundaries = change_boundaries(lines, changes, repeats)
    result: list[LyricLine] = []
    section = 0
    for i, line in enumerate(lines):
        if i > 0 and (line.start - lines[i - 1].end >= section_gap or i in boundaries):
            section += 1
        result.append(LyricLine(line.start, line.end, line.text, section, line.words))
    return result


def sections_step(lines: list[LyricLine], cues: LayoutCues) -> list[LyricLine]:
    """Number the sections: at long rests and where the music changes."""
    options = cues.options
    changes = cues.changes if options.section_changes else ()
    return assign_sections(lines, options.section_gap, changes, options.changes_at_repeats)
