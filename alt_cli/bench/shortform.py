"""The short-form task: clips cut from a song at its reference line timings.

Syed et al. (2025) evaluate Whisper not only on whole songs but on short clips whose boundaries
come from the reference itself, so that segmentation errors are taken out of the comparison.
Two granularities are scored:

* the **line** level: one clip per reference line, after dropping lines Whisper could not take
  in one window (> 30 s), merging lines that overlap by more than 0.2 s (two singers, one clip;
  otherwise the same words would be heard in two clips) and padding every clip by up to 0.5 s
  per side so onsets and final consonants are not cut off;
* the **group** level: consecutive padded lines concatenated into clips of under 30 s, never
  across a gap of more than 7 s (a long instrumental break is not worth feeding Whisper), with
  the shortest clip made as long as possible, since very short clips are where Whisper
  hallucinates most and what the group level is meant to avoid.

The steps are separate functions so each can be tested by hand; :func:`short_form_items` runs
them all.  Every clip remembers which reference lines it holds (``line_indices``, positions in
the list given to :func:`short_form_items`), and its text keeps the ``<nl>`` tags of the
reference: :func:`strip_tags` gives the plain text to score against.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from alt_cli.errors import AltError

MAX_ITEM = 30.0  # s: Whisper's window; no clip may be longer (groups must be shorter)
MERGE_OVERLAP = 0.2  # s: lines overlapping by more than this become one clip
PAD = 0.5  # s: context added to each side of a line clip, where there is room
MIN_GAP = 0.1  # s: padding never brings two clips closer than this
MAX_GROUP_GAP = 7.0  # s: a longer silence between clips always ends a group
TIME_EPS = 1e-6  # s: slack for float rounding of times given to 10 ms ("30.00 s" is not > 30)

CSV_HEADER = ("start", "end", "text")
NL_TAG_RE = re.compile(r"<\s*/?\s*nl\s*>", re.IGNORECASE)
SPACE_RE = re.compile(r"[^\S\n]+")  # whitespace other than line breaks


@dataclass(frozen=True)
class TimedLine:
    """One reference line and when it is sung (seconds from the start of the song)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class ShortItem:
    """One clip of the short-form task: its span, reference text and the lines it holds.

    ``text`` is the reference lines' texts joined with ``"\\n"``, tags kept; ``line_indices``
    are positions in the line list given to :func:`short_form_items`, in the order of ``text``.
    """

    start: float
    end: float
    text: str
    line_indices: tuple[int, ...]

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class ShortForm:
    """Both levels of the task for one song, each in time order."""

    lines: tuple[ShortItem, ...]  # merged and padded reference lines
    groups: tuple[ShortItem, ...]  # consecutive ``lines`` concatenated into clips < 30 s


def read_line_timings(path: str | Path) -> list[TimedLine]:
    """Read a ``start,end,text`` CSV of reference line timings, in file order.

    Rows with an empty text carry nothing to transcribe and are skipped; texts lose their
    surrounding whitespace only (``<nl>`` tags and inner spacing stay, the scorer needs them).
    Anything else that does not parse raises :class:`AltError` naming the file and line,
    because a silently misread timing file would quietly corrupt every short-form score.
    """
    path = Path(path)
    lines: list[TimedLine] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)  # a stray quote is an error, not text
            header = next(reader, None)
            if header is None or tuple(h.strip().lower() for h in header) != CSV_HEADER:
                raise AltError(f"{path}: expected the header 'start,end,text', got {header!r}")
            for row in reader:
                if not row:
                    continue
                where = f"{path}: line {reader.line_num}"
                if len(row) != len(CSV_HEADER):
                    raise AltError(f"{where}: expected 3 fields (start,end,text), got {len(row)}")
                text = row[2].strip()
                if not text:
                    continue
                start, end = _parse_time(row[0], where), _parse_time(row[1], where)
                if end < start:
                    raise AltError(f"{where}: line ends ({end}) before it starts ({start})")
                lines.append(TimedLine(start, end, text))
    except OSError as error:
        raise AltError(f"cannot read line timings {path}: {error.strerror or error}") from None
    except (csv.Error, UnicodeDecodeError) as error:
        raise AltError(f"{path}: not a readable UTF-8 CSV file ({error})") from None
    return lines


def _parse_time(field: str, where: str) -> float:
    """A time in seconds: finite and not negative (nothing is sung before the song starts)."""
    try:
        value = float(field)
    except ValueError:
        raise AltError(f"{where}: {field!r} is not a time in seconds") from None
    if not math.isfinite(value) or value < 0:
        raise AltError(f"{where}: {field!r} is not a time in seconds")
    return value


def strip_tags(text: str) -> str:
    """The plain reference of a tagged text: ``<nl>``/``</nl>`` removed, spacing tidied.

    Tags are removed without leaving a space (as in :mod:`alt_cli.scoring`) so that a tag
    inside a word cannot split it; runs of spaces collapse to one and each line is trimmed,
    but line breaks stay because they are part of the reference's layout.  Lines left empty
    (whitespace only) are dropped.
    """
    plain = SPACE_RE.sub(" ", NL_TAG_RE.sub("", text))
    return "\n".join(line.strip() for line in plain.split("\n") if line.strip())


def drop_long(lines: Sequence[TimedLine]) -> list[ShortItem]:
    """One item per line that fits Whisper's window, in time order.

    Lines over :data:`MAX_ITEM` are dropped rather than cut: cutting would split words at
    arbitrary points and the reference could no longer be aligned to the clip.
    """
    for line in lines:
        if line.end < line.start:
            raise ValueError(f"line ends before it starts: {line!r}")
    kept = [
        ShortItem(line.start, line.end, line.text, (index,))
        for index, line in enumerate(lines)
        if line.end - line.start <= MAX_ITEM + TIME_EPS
    ]
    return sorted(kept, key=lambda item: (item.start, item.end, item.line_indices))


def merge_overlapping(items: Sequence[ShortItem]) -> list[ShortItem]:
    """Merge items overlapping by more than :data:`MERGE_OVERLAP`, in time order.

    Each item is compared with the item being built (so a chain of overlaps merges into one).
    A merge that would make the item longer than :data:`MAX_ITEM` is not made: the two stay
    apart (and padding leaves their facing sides alone) rather than losing both to the 30 s
    limit.  Texts are joined with ``"\\n"`` in time order, keeping the line structure.
    """
    merged: list[ShortItem] = []
    for item in sorted(items, key=lambda it: (it.start, it.end, it.line_indices)):
        if merged:
            current = merged[-1]
            overlap = min(current.end, item.end) - max(current.start, item.start)
            start, end = min(current.start, item.start), max(current.end, item.end)
            if overlap > MERGE_OVERLAP + TIME_EPS and end - start <= MAX_ITEM + TIME_EPS:
                merged[-1] = ShortItem(start, end, f"{current.text}\n{item.text}",
                                       current.line_indices + item.line_indices)
                continue
        merged.append(item)
    return merged


def pad_items(items: Sequence[ShortItem], duration: float | None = None) -> list[ShortItem]:
    """Widen each item by up to :data:`PAD` per side where its neighbours leave room.

    The room toward a neighbour is half of the gap beyond :data:`MIN_GAP`, whatever the
    neighbour does with its own half: the split is fair, the result does not depend on the
    order items are padded in, and two padded neighbours end up at least ``MIN_GAP`` apart.
    Neighbours closer than ``MIN_GAP`` (touching, or overlapping without being merged) give no
    room on that side; items are never shrunk.  Padding also stops at 0, at ``duration`` when
    given, and at :data:`MAX_ITEM` in all (shared between the sides as evenly as their room
    allows), so padding can never push a clip past Whisper's window.

    A "neighbour" on the right is any other item reaching at least as far right (and on the
    left, any starting at least as far left): for ordinary timings that is the next (previous)
    item, and a line nested inside a longer one blocks the longer one's sides correctly too.
    """
    padded: list[ShortItem] = []
    for i, item in enumerate(items):
        left = min(PAD, item.start)
        right = PAD if duration is None else min(PAD, max(0.0, duration - item.end))
        for j, other in enumerate(items):
            if j == i:
                continue
            if other.start <= item.start:
                left = min(left, _share(item.start - other.end))
            if other.end >= item.end:
                right = min(right, _share(other.start - item.end))
        left, right = _cap(left, right, MAX_ITEM - item.duration)
        padded.append(replace(item, start=item.start - left, end=item.end + right))
    return padded


def _share(gap: float) -> float:
    """One side's fair share of a gap: half of what is left after the minimum gap."""
    return max(0.0, (gap - MIN_GAP) / 2)


def _cap(left: float, right: float, allowed: float) -> tuple[float, float]:
    """Shrink two paddings to ``allowed`` in total, evenly unless one side has less room."""
    allowed = max(0.0, allowed)
    if left + right <= allowed:
        return left, right
    half = allowed / 2
    if left < half:
        return left, allowed - left
    if right < half:
        return allowed - right, right
    return half, half


def group_items(items: Sequence[ShortItem]) -> list[ShortItem]:
    """Concatenate consecutive items into groups of under :data:`MAX_ITEM`, in time order.

    Items are first split into runs wherever the silence between them exceeds
    :data:`MAX_GROUP_GAP`.  Each run is then partitioned into groups of consecutive items
    spanning less than ``MAX_ITEM`` (a single item is always a valid group: padding keeps it
    within ``MAX_ITEM``), choosing exactly, by dynamic programming:

    1. the largest possible duration of the shortest group (short clips are the problem the
       group level exists to avoid; greedy packing can leave a tiny last group);
    2. among those, the fewest groups (clips as long as possible, like Whisper's training data);
    3. among those, the one whose first group ends latest, then the second, and so on
       (a deterministic rule, the partition a left-to-right packer would prefer).

    A group spans from its first item's start to the latest end among its items; its text is
    the items' texts joined with ``"\\n"``.
    """
    ordered = sorted(items, key=lambda it: (it.start, it.end, it.line_indices))
    groups: list[ShortItem] = []
    for run in _runs(ordered):
        for first, stop in _partition(run):
            members = run[first:stop]
            groups.append(ShortItem(
                members[0].start,
                max(m.end for m in members),
                "\n".join(m.text for m in members),
                tuple(index for m in members for index in m.line_indices),
            ))
    return groups


def _runs(ordered: Sequence[ShortItem]) -> Iterable[list[ShortItem]]:
    """Split items (sorted by start) wherever the silence before one exceeds the group gap."""
    run: list[ShortItem] = []
    reach = -math.inf  # latest end so far: a nested item does not open a gap
    for item in ordered:
        if run and item.start - reach > MAX_GROUP_GAP + TIME_EPS:
            yield run
            run = []
        run.append(item)
        reach = max(reach, item.end)
    if run:
        yield run


def _spans(run: Sequence[ShortItem]) -> dict[tuple[int, int], float]:
    """Span of every valid group ``run[first:stop]``, keyed by ``(first, stop)``.

    Computed once so the two passes of :func:`_partition` compare identical floats.  Spans only
    grow as a group extends, so extending stops at the first one reaching ``MAX_ITEM``.
    """
    spans: dict[tuple[int, int], float] = {}
    for first in range(len(run)):
        reach = -math.inf
        for stop in range(first + 1, len(run) + 1):
            reach = max(reach, run[stop - 1].end)
            span = reach - run[first].start
            if stop - first > 1 and span >= MAX_ITEM:
                break
            spans[first, stop] = span
    return spans


def _partition(run: Sequence[ShortItem]) -> list[tuple[int, int]]:
    """The max-min partition of a run as ``(first, stop)`` slices (see :func:`group_items`)."""
    n = len(run)
    spans = _spans(run)
    # Pass 1: best[stop] = the largest shortest-group duration over partitions of run[:stop].
    best = [-math.inf] * (n + 1)
    best[0] = math.inf
    for (first, stop), span in sorted(spans.items(), key=lambda kv: kv[0][1]):
        best[stop] = max(best[stop], min(best[first], span))
    floor = best[n]
    # Pass 2: fewest[first] = fewest groups, all at least `floor` long, covering run[first:].
    fewest = [math.inf] * (n + 1)
    fewest[n] = 0
    for first in range(n - 1, -1, -1):
        for stop in range(first + 1, n + 1):
            span = spans.get((first, stop))
            if span is None:
                break
            if span >= floor:
                fewest[first] = min(fewest[first], fewest[stop] + 1)
    # Walk from the left taking the longest group that keeps the fewest-groups total.
    slices: list[tuple[int, int]] = []
    first = 0
    while first < n:
        stop = max(stop for stop in range(first + 1, n + 1)
                   if (first, stop) in spans and spans[first, stop] >= floor
                   and fewest[stop] == fewest[first] - 1)
        slices.append((first, stop))
        first = stop
    return slices


def short_form_items(lines: Sequence[TimedLine], duration: float | None = None) -> ShortForm:
    """Both short-form levels for one song's reference lines (``duration`` in seconds, if known).

    ``duration`` only limits padding at the end of the song; lines reaching past it are kept
    as they are (the clip is simply cut short by the audio).
    """
    line_level = pad_items(merge_overlapping(drop_long(lines)), duration)
    return ShortForm(lines=tuple(line_level), groups=tuple(group_items(line_level)))
