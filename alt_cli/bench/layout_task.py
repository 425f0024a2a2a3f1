"""The layout bench: alt's layout judged on human-timed reference words, no audio needed.

A recogniser that heard every word right would hand the layout the reference's words, without
case or punctuation, each with the time it is sung.  That is what this task builds, from the
reference lyrics (``lyrics/``) and the human word onsets and offsets (``word_timings/``), and
then scores the layout's lines, sections and capitals against the reference with alt-eval
(line and section F1, case-sensitive WER; WER itself is ~0 by construction).  With no audio
it runs on any set with word timings (``../shared/jam-alt-text``: 49 songs in four languages),
so a layout rule is judged on ten times the songs the audio sets have.

The words are paired with the timing rows by the edit-distance alignment of the two texts (the
timings were annotated on JamendoLyrics' text, which differs from Jam-ALT's in places); a word
with no partner takes a time spread evenly between its timed neighbours.  The cues a layout
step may read are made from the same timings: the VAD's rests are the gaps between words of at
least the VAD's minimum silence, and the "voice envelope" is 1 while a word is sung and 0
between words, so a breath is a gap between word timings.  There are no music changes without
audio: sections come from rests alone.

Baselines in the same table, each with a capital at its line starts (what Whisper's sentence
case gives most segments) and a blank line at rests of ``section_gap``:

* ``words-N``: one line per N words (a recogniser's fixed-size segments), restarting at rests;
* ``gap-T``: a line break at every gap between words over T seconds;
* ``reference``: the reference's own lines and sections, the ceiling (line and section F1 1):
  its case errors are the floor that no layout removes (names, "I", German nouns, all written
  lower case here).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from alt_cli.bench.timing import read_word_timings
from alt_cli.errors import AltError
from alt_cli.layout import LayoutCues, VoiceEnvelope, lay_out
from alt_cli.layout.cleaning import capitalise_line
from alt_cli.layout.lines import words_line
from alt_cli.layout.sections import assign_sections
from alt_cli.options import LayoutOptions, VadOptions
from alt_cli.schema import LyricLine, Word
from alt_cli.word_matching import match_words

ENVELOPE_HOP_S = 0.02  # the envelope's frame: finer than any breath the layout looks for
REST_S = VadOptions().min_silence  # a gap this long is a rest the VAD would find
# The layout task's table: the words are the reference's, so only layout metrics move.
LAYOUT_COLUMNS = [
    ("WER", "WER %", 100), ("WER_case", "WER case %", 100), ("case_gap", "case gap", 100),
    ("P_line", "P line", 1), ("R_line", "R line", 1), ("F1_line", "F1 line", 1),
    ("F1_sect", "F1 sect", 1),
]  # fmt: skip
WORD_BASELINES = (6, 8, 10)  # words per line of the fixed-size baselines
GAP_BASELINES = (0.3, 0.5, 1.0)  # seconds of gap of the break-at-gaps baselines
_EDGE_PUNCTUATION = "\".,;:!?¿¡()[]{}«»“”…—–-*"  # not ' or ’: elisions (to', 'rage)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ReferenceWord:
    """A word of the reference lyrics as the layout gets it, and where the reference put it."""

    text: str  # lower case, no punctuation at its edges
    start: float
    end: float
    line_start: bool
    section_start: bool


def plain_word(token: str) -> str:
    """A written word as a perfect recogniser without case or punctuation gives it."""
    return token.strip(_EDGE_PUNCTUATION).lower()


def reference_tokens(lyrics: str) -> list[tuple[str, bool, bool]]:
    """(word, starts a line, starts a section) for every word of the reference lyrics."""
    tokens: list[tuple[str, bool, bool]] = []
    new_section = True
    for raw in lyrics.splitlines():
        if not raw.strip():
            new_section = True
            continue
        words = [plain_word(token) for token in _SPACES.split(raw.strip())]
        words = [word for word in words if word]
        for k, word in enumerate(words):
            tokens.append((word, k == 0, k == 0 and new_section))
        if words:
            new_section = False
    return tokens


def timed_reference(lyrics: str, timings: Sequence[tuple[str, float, float]]
                    ) -> list[ReferenceWord]:
    """The reference's words with the human times of the timing rows they pair with; a word
    without a partner is spread evenly between its timed neighbours."""
    tokens = reference_tokens(lyrics)
    rows = [(plain_word(word), start, end) for word, start, end in timings]
    pairs, _ = match_words([t[0] for t in tokens], [r[0] for r in rows])
    times: list[tuple[float, float] | None] = [
        None if index is None else (rows[index][1], rows[index][2]) for index in pairs]
    known = [i for i, t in enumerate(times) if t is not None]
    if not known:
        raise AltError("no reference word pairs with a timed word")
    for i, value in enumerate(times):
        if value is not None:
            continue
        before = max((k for k in known if k < i), default=None)
        after = min((k for k in known if k > i), default=None)
        low = times[before][1] if before is not None else times[after][0] - 0.5 * (after - i)
        high = times[after][0] if after is not None else low + 0.5 * (i - before)
        first = before if before is not None else i - 1
        last = after if after is not None else i + 1
        step = (high - low) / (last - first)
        start = low + step * (i - first - 1) if before is not None else low
        times[i] = (start, start + max(step, 0.05)) if before is not None else (
            low, low + 0.05)
    words = []
    for (text, line_start, section_start), (start, end) in zip(tokens, times, strict=True):
        words.append(ReferenceWord(text, start, max(end, start), line_start, section_start))
    return _monotonic(words)


def _monotonic(words: list[ReferenceWord]) -> list[ReferenceWord]:
    """Times never run backwards (an edit-distance pairing may cross a repeat)."""
    result, last = [], 0.0
    for word in words:
        start = max(word.start, last)
        end = max(word.end, start)
        result.append(ReferenceWord(word.text, start, end, word.line_start, word.section_start))
        last = start
    return result


def as_words(words: Sequence[ReferenceWord]) -> list[Word]:
    """Whisper-style timed word pieces (a leading space starts a word)."""
    return [Word(f" {word.text}", word.start, word.end, None) for word in words]


def word_cues(words: Sequence[Word], language: str, options: LayoutOptions) -> LayoutCues:
    """The cues a layout step may read, made from word timings alone (see the module text)."""
    end = max(word.end for word in words) + 1.0
    envelope = np.zeros(int(np.ceil(end / ENVELOPE_HOP_S)), dtype=np.float32)
    for word in words:
        envelope[int(word.start / ENVELOPE_HOP_S):int(np.ceil(word.end / ENVELOPE_HOP_S))] = 1.0
    rests = tuple((a.end, b.start) for a, b in zip(words, words[1:], strict=False)
                  if b.start - a.end >= REST_S)
    voice = VoiceEnvelope(envelope, ENVELOPE_HOP_S, VadOptions().offset)
    return LayoutCues(language, rests, voice, (), options)


def layout_from_words(words: Sequence[ReferenceWord], language: str,
                      options: LayoutOptions) -> tuple[LyricLine, ...]:
    """alt's layout of the reference words (one raw line: the rests and steps cut it)."""
    pieces = as_words(words)
    raw = [words_line(pieces)]
    return lay_out(raw, word_cues(pieces, language, options))


def _baseline(groups: list[list[Word]], options: LayoutOptions,
              sections: Sequence[bool] | None = None) -> tuple[LyricLine, ...]:
    lines = [LyricLine(g[0].start, g[-1].end, capitalise_line(words_line(g).text), 0, tuple(g))
             for g in groups if g]
    if sections is None:
        return tuple(assign_sections(lines, options.section_gap))
    numbered, section = [], 0
    for i, (line, starts) in enumerate(zip(lines, sections, strict=True)):
        section += bool(starts and i)
        numbered.append(LyricLine(line.start, line.end, line.text, section, line.words))
    return tuple(numbered)


def baseline_lines(name: str, words: Sequence[ReferenceWord], options: LayoutOptions
                   ) -> tuple[LyricLine, ...]:
    """The named baseline's layout: ``words-N``, ``gap-T`` or ``reference``."""
    pieces = as_words(words)
    kind, _, value = name.partition("-")
    groups: list[list[Word]] = []
    if kind == "reference":
        starts = []
        for word, piece in zip(words, pieces, strict=True):
            if word.line_start or not groups:
                groups.append([])
                starts.append(word.section_start)
            groups[-1].append(piece)
        return _baseline(groups, options, starts)
    limit = float(value)
    for k, piece in enumerate(pieces):
        gap = piece.start - pieces[k - 1].end if k else 0.0
        if kind == "gap":
            new = not groups or gap > limit
        else:
            new = not groups or gap >= REST_S or len(groups[-1]) >= int(limit)
        if new:
            groups.append([])
        groups[-1].append(piece)
    return _baseline(groups, options)


def baseline_names() -> list[str]:
    return ([f"words-{n}" for n in WORD_BASELINES] + [f"gap-{t:g}" for t in GAP_BASELINES]
            + ["reference"])


def song_reference_words(song) -> list[ReferenceWord]:
    """A bench song's reference words at the human times of its word_timings/ file."""
    if song.word_timings is None:
        raise AltError(f"{song.name}: --task layout needs word_timings/{song.name}.csv")
    try:
        return timed_reference(song.lyrics, [(w.text, w.start, w.end) for w in
                                               read_word_timings(song.word_timings)])
    except AltError as exc:
        raise AltError(f"{song.name}: {exc}") from None


def run_layout_bench(selection, request, base, reporter) -> str:
    """`alt bench DATASET --task layout`: alt's layout (and each --variant of it) and the
    baselines on every selected song's timed reference words; writes the results folder as
    the other tasks do (songs.csv, summary.csv, summary.md, run.json, hypotheses-layout/)."""
    import time

    from alt_cli.bench.configs import BenchConfig, parse_variant
    from alt_cli.bench.report import _csv, metrics_table, score_runs
    from alt_cli.bench.runner import SongRun
    from alt_cli.fileio import atomic_write_text
    from alt_cli.formats import render_json, render_txt

    if request.mode != "long":
        raise AltError("--task layout lays out whole songs: use --mode long")
    variants = [parse_variant(spec) for spec in request.variants]
    for variant in variants:  # nothing is decoded here: only layout settings can change
        if replace(variant.apply(base), layout=base.layout) != base:
            raise AltError(f"--variant {variant.name}: --task layout runs no recogniser; "
                           "only layout settings (line-*, section-*, ...) can change")
    layouts = {"alt": base.layout, **{f"alt.{v.name}": v.apply(base).layout for v in variants}}
    out_dir = request.out or Path("results") / f"{selection.dataset}-layout"
    reporter.info(f"{len(selection.songs)} songs x {len(layouts) + len(baseline_names())} "
                  f"layouts -> {out_dir}")
    runs = []
    started = time.perf_counter()
    skipped = []
    for song in selection.songs:
        try:
            words = song_reference_words(song)
        except AltError as exc:  # one bad timing file does not stop the others
            reporter.info(f"note: {exc}: left out")
            skipped.append(song.name)
            continue
        duration = max(word.end for word in words)
        made = {name: layout_from_words(words, song.language, options)
                for name, options in layouts.items()}
        made.update({name: baseline_lines(name, words, base.layout)
                     for name in baseline_names()})
        for name, lines in made.items():
            config = BenchConfig("", "", name, "")  # (the layout's name, as a segmenter)
            text = render_txt(lines)
            atomic_write_text(out_dir / "hypotheses-layout" / name / f"{song.name}.txt", text)
            runs.append(SongRun(song, config, "song", text, song.lyrics, None, duration,
                                {"total": 0.0}))
    if not runs:
        raise AltError(f"no song with usable word timings ({', '.join(skipped)})")
    song_rows, summary = score_runs(runs, out_dir)
    for row in (*song_rows, *summary):
        row["case_gap"] = row["WER_case"] - row["WER"]
    table = metrics_table([([row["configuration"], str(row["songs"])], row) for row in summary
                           if row["language"] == "all"], ["layout", "songs"], LAYOUT_COLUMNS)
    atomic_write_text(out_dir / "songs.csv", _csv(song_rows))
    atomic_write_text(out_dir / "summary.csv", _csv(summary))
    atomic_write_text(out_dir / "summary.md", table)
    atomic_write_text(out_dir / "run.json", render_json({
        "dataset": selection.dataset, "data_dir": str(selection.data_dir), "task": "layout",
        "songs": [s.name for s in selection.songs if s.name not in skipped],
        "missing": selection.missing, "bad_timings": skipped,
        "layouts": {name: repr(options) for name, options in layouts.items()},
        "baselines": baseline_names(), "wall_s": time.perf_counter() - started}))
    return table
