"""Section breaks where the music changes: the novelty detector on synthetic music, and how a
change becomes a section break at a line boundary."""

from __future__ import annotations

import numpy as np

from alt_cli.layout.music_structure import repetition_novelty, structure_changes
from alt_cli.layout.sections import assign_sections, change_boundaries
from alt_cli.schema import LyricLine, Word

SR = 16000


def _part(freqs: list[float], seconds: float, square: bool, rng) -> np.ndarray:
    """A held chord (sines or square waves) over a noise hit twice a second."""
    t = np.arange(int(seconds * SR)) / SR
    waves = [np.sin(2 * np.pi * f * t) for f in freqs]
    chord = sum(np.sign(w) * 0.5 if square else w for w in waves) / len(freqs)
    beat = (np.sin(2 * np.pi * 2 * t) > 0.95) * rng.normal(0, 0.3, len(t))
    return (0.3 * chord + 0.2 * beat).astype(np.float32)


def test_changes_are_found_where_chords_and_timbre_change_and_nowhere_else():
    rng = np.random.default_rng(0)
    verse, chorus = [220.0, 277.2, 329.6], [196.0, 246.9, 293.7]
    song = np.concatenate([_part(verse, 30, False, rng), _part(chorus, 30, True, rng),
                           _part(verse, 30, False, rng)])
    changes = structure_changes(song, SR)
    assert len(changes) == 2
    assert abs(changes[0] - 30) <= 1.0 and abs(changes[1] - 60) <= 1.0
    steady = np.concatenate([_part(verse, 30, False, rng) for _ in range(3)])
    assert structure_changes(steady, SR) == []
    assert structure_changes(song[: 15 * SR], SR) == []  # too short to have sections


def _line(start: float, end: float, text: str) -> LyricLine:
    words = text.split()
    step = (end - start) / len(words)
    timed = tuple(Word(" " + w, start + k * step, start + (k + 1) * step)
                  for k, w in enumerate(words))
    return LyricLine(start, end, text, 0, timed)


def test_a_change_opens_a_section_at_the_nearby_line_start_after_the_longest_rest():
    lines = [_line(0, 4, "one two three four"), _line(4.2, 8, "five six seven eight"),
             _line(8.9, 12, "nine ten eleven twelve"), _line(12.1, 16, "a b c d")]
    # 8.5 s: lines 2 (8.9 s) is within PICKUP_S, line 1 (4.2 s) is not
    assert change_boundaries(lines, [8.5]) == {2}
    # 10.5 s: lines 2 (8.9 s) and 3 (12.1 s) are both near; line 2 follows the longer rest
    # (0.9 s after "eight" against 0.1 s after "twelve")
    assert change_boundaries(lines, [10.5]) == {2}
    # 6.5 s: in the middle of line 1, over 2 s from every line start
    assert change_boundaries(lines, [6.5]) == set()
    # two changes near the same line start open one section there, and the next change
    # takes the other nearby line
    assert change_boundaries(lines, [10.0, 10.5]) == {2, 3}
    sections = [line.section for line in assign_sections(lines, 4.0, changes=[8.5])]
    assert sections == [0, 0, 1, 1]
    assert [line.section for line in assign_sections(lines, 4.0)] == [0, 0, 0, 0]


def test_repetition_novelty_peaks_where_the_repeated_pattern_changes():
    # Features of an A B A B song: each part loops its own 4-s pattern for 30 s; the texture
    # (the set of vectors) is no help inside a part, only what repeats tells the parts apart.
    rng = np.random.default_rng(1)
    loops = [rng.normal(size=(32, 16)) for _ in range(2)]
    parts = [np.tile(loops[k % 2], (1, 120 // 16 + 1))[:, :120] for k in range(4)]
    features = np.hstack(parts)
    features /= np.linalg.norm(features, axis=0)
    novelty = repetition_novelty(features, hop_s=0.25)
    assert novelty.shape == (480,)
    peaks = []
    for frame in np.argsort(novelty)[::-1]:  # the three strongest, 20 frames (5 s) apart
        if all(abs(frame - p) > 20 for p in peaks):
            peaks.append(int(frame))
        if len(peaks) == 3:
            break
    assert all(any(abs(p - b) <= 8 for p in peaks) for b in (120, 240, 360)), peaks
    assert novelty[20:100].max() < 0.5 * novelty.max()  # the first part: nothing changes


def test_silence_a_held_tone_and_exact_loops_have_no_changes_and_no_error():
    # Silence makes every moment identical: no distance to scale the repetition links by
    # (librosa refuses: 'Cannot estimate bandwidth from an empty graph'); CI caught a silent
    # file failing the whole transcription on it.
    t = np.arange(60 * SR) / SR
    assert structure_changes(np.zeros(60 * SR, np.float32), SR) == []
    assert structure_changes((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR) == []
    loop = np.tile(np.eye(8)[:, :2], (1, 100))  # two exact states, alternating
    assert np.all(np.isfinite(repetition_novelty(loop, hop_s=0.25)))


def test_a_change_opens_its_section_where_a_repeated_block_starts_or_ends_if_one_is_near():
    # A chorus of two lines sung twice, a verse line between; the music changes at 10.5 s,
    # near the starts of line 2 (8.9 s, after the longer rest) and line 3 (12.1 s, where the
    # chorus ends: the repeated block is lines 1-2 and 4-5).
    lines = [_line(0, 4, "the verse begins here"), _line(4.2, 8, "oh my love come home"),
             _line(8.9, 12, "never let me go now"), _line(12.1, 16, "another verse line"),
             _line(16.2, 20, "oh my love come home"), _line(20.2, 24, "never let me go now")]
    from alt_cli.layout.sections import repeat_boundaries

    repeats = repeat_boundaries(lines)
    assert 3 in repeats and 2 not in repeats
    assert change_boundaries(lines, [10.5]) == {2}  # no repeats given: the longest rest
    assert change_boundaries(lines, [10.5], repeats) == {3}
    # repeats only place a change: no change near, no section
    assert change_boundaries(lines, [], repeats) == set()
    sections = [line.section for line in assign_sections(lines, 4.0, changes=[10.5],
                                                         changes_at_repeats=True)]
    assert sections == [0, 0, 0, 1, 1, 1]
