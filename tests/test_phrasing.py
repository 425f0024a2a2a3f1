"""Lines at sung phrases: breaths split a long segment, short lines join their neighbour."""

from __future__ import annotations

import numpy as np
import pytest

from alt_cli.layout import VoiceEnvelope
from alt_cli.layout.lines import word_count
from alt_cli.layout.phrasing import (
    line_period,
    merge_short_lines,
    split_phrases,
    split_to_period,
)
from alt_cli.options import LayoutOptions
from alt_cli.schema import LyricLine, Word
from tests.layout_helpers import layout_lines

HOP = 0.02


def words_at(starts: list[float], length: float = 0.3) -> tuple[Word, ...]:
    return tuple(Word(f" w{i}", s, s + length, 0.9) for i, s in enumerate(starts))


def line_of(words: tuple[Word, ...]) -> LyricLine:
    return LyricLine(words[0].start, words[-1].end, "".join(w.text for w in words).strip(), 0,
                     words)


def voice(seconds: float, silences: list[tuple[float, float]], level: float = 0.8
          ) -> VoiceEnvelope:
    envelope = np.full(int(seconds / HOP), level, dtype=np.float32)
    for a, b in silences:
        envelope[int(a / HOP):int(b / HOP)] = 0.05
    return VoiceEnvelope(envelope, HOP, quiet=0.1)


def texts(lines) -> list[str]:
    return [line.text for line in lines]


def test_a_breath_splits_a_phrase_and_a_sustained_phrase_stays_whole():
    words = words_at([0.0, 0.35, 0.7, 1.05, 1.7, 2.05, 2.4, 2.75])  # breath at 1.35-1.7
    line = line_of(words)
    breathing = voice(4.0, [(1.38, 1.68)])
    pieces = split_phrases(line, breathing, breath=0.2, max_words=None, min_words=1)
    assert texts(pieces) == ["w0 w1 w2 w3", "w4 w5 w6 w7"]
    assert pieces[0].end == words[3].end and pieces[1].words == words[4:]
    legato = voice(4.0, [])  # the same timings sung without a gap: never split
    assert split_phrases(line, legato, breath=0.2, max_words=None, min_words=1) == [line]
    short_breath = voice(4.0, [(1.5, 1.6)])  # 0.1 s: shorter than the breath asked for
    assert split_phrases(line, short_breath, breath=0.2, max_words=None, min_words=1) == [line]


def test_a_dip_relative_to_the_phrase_counts_as_a_breath():
    words = words_at([0.0, 0.35, 0.7, 1.05, 1.7, 2.05])
    quiet_singer = voice(3.0, [], level=0.3)
    quiet_singer.envelope[int(1.38 / HOP):int(1.68 / HOP)] = 0.08  # -11 dB under the phrase
    pieces = split_phrases(line_of(words), quiet_singer, 0.2, None, 1)
    assert texts(pieces) == ["w0 w1 w2 w3", "w4 w5"]


def test_an_overlong_line_is_split_at_its_deepest_breath_then_its_widest_gap():
    starts = [0.4 * i for i in range(14)]
    starts[7:] = [s + 0.5 for s in starts[7:]]  # a wider gap before w7, no silence anywhere
    line = line_of(words_at(starts))
    pieces = split_phrases(line, voice(8.0, []), breath=None, max_words=10, min_words=3)
    assert [len(p.words) for p in pieces] == [7, 7]
    breath = voice(8.0, [(1.48, 1.62)])  # a breath after w3 wins over the wider gap
    pieces = split_phrases(line, breath, breath=None, max_words=10, min_words=3)
    assert [len(p.words) for p in pieces] == [4, 10]


def test_a_split_never_leaves_fewer_than_the_minimum_words():
    words = words_at([0.0, 0.7, 1.05, 1.4, 1.75])  # a breath right after the first word
    pieces = split_phrases(line_of(words), voice(3.0, [(0.32, 0.68)]), 0.2, None, 2)
    assert pieces == [line_of(words)]


def test_short_lines_join_the_closer_neighbour_unless_a_rest_isolates_them():
    a = line_of(words_at([0.0, 0.4, 0.8, 1.2]))
    lone = line_of(words_at([1.8]))  # 0.3 s after a, 2 s before b
    b = line_of(words_at([4.1, 4.5, 4.9]))
    merged = merge_short_lines([a, lone, b], min_words=3, max_words=None)
    assert texts(merged) == ["w0 w1 w2 w3 w0", "w0 w1 w2"]
    assert merged[0].start == a.start and merged[0].end == lone.end
    isolated = line_of(words_at([3.2]))  # 1.7 s after a, 3.5 s before the next
    far = line_of(words_at([7.0, 7.4, 7.8]))
    assert merge_short_lines([a, isolated, far], 3, None) == [a, isolated, far]
    assert merge_short_lines([a, lone, b], 3, max_words=4) == [a, lone, b]  # would be too long


def test_layout_splits_at_breaths_by_default_and_not_when_turned_off():
    words = words_at([0.0, 0.35, 0.7, 1.05, 1.75, 2.1, 2.45, 2.8])
    line = line_of(words)
    breathing = voice(4.0, [(1.38, 1.72)])
    assert texts(layout_lines([line], voice=breathing)) == ["W0 w1 w2 w3", "W4 w5 w6 w7"]
    assert texts(layout_lines([line])) == ["W0 w1 w2 w3 w4 w5 w6 w7"]  # no envelope: whole
    off = LayoutOptions(line_breath=None, max_line_words=None, min_line_words=1,
                        line_capitals=False)
    assert texts(layout_lines([line], options=off, voice=breathing)) == [
        "w0 w1 w2 w3 w4 w5 w6 w7"]
    options = LayoutOptions(line_breath=0.2, min_line_words=3, lyrics_conventions=True)
    assert texts(layout_lines([line], options=options, voice=breathing)) == [
        "W0 w1 w2 w3", "W4 w5 w6 w7"]


def test_pieces_of_one_written_word_stay_on_one_line():
    words = (Word(" Et", 0.0, 0.2), Word(" qu", 0.3, 0.4), Word("'on", 0.9, 1.0),
             Word(" m", 1.1, 1.2), Word("'attend", 1.2, 1.5), Word(" encore", 1.6, 1.9))
    line = line_of(words)
    silence_inside_quon = voice(3.0, [(0.42, 0.88)])
    pieces = split_phrases(line, silence_inside_quon, 0.2, None, 1)
    assert all(not piece.words[0].text.startswith("'") for piece in pieces)


def test_a_repeated_block_of_lines_starts_and_ends_where_it_repeats():
    from alt_cli.layout.sections import assign_sections, repeat_boundaries

    sung = ["Walking down the road", "Thinking of you", "Oh la la my love",
            "Never let me go", "Another verse begins", "The story carries on",
            "Oh la la my lover", "Never let me go", "The end"]
    lines = [LyricLine(2.0 * i, 2.0 * i + 1.7, text) for i, text in enumerate(sung)]
    assert repeat_boundaries(lines) == {2, 4, 6, 8}  # "my lover": a recognition slip
    assert [line.section for line in assign_sections(lines, 4.0)] == [0] * 9  # no sections
    single = [LyricLine(2.0 * i, 2.0 * i + 1.7, t) for i, t in enumerate(
        ["Hey", "One line", "Hey", "Something else entirely"])]
    assert repeat_boundaries(single) == set()  # one repeated line is a refrain, not a section


def test_layout_variants_share_the_decoded_windows_and_nothing_else_does():
    from dataclasses import replace

    from alt_cli.options import TranscribeOptions
    from alt_cli.pipeline import DECODED_KEPT, ModelStore, Transcriber

    base = TranscribeOptions(model="tiny.en", device="cpu")
    key = Transcriber(base).asr_key
    relaid = replace(base, layout=LayoutOptions(line_breath=None, min_line_words=3))
    assert Transcriber(relaid).asr_key == key  # only the layout differs: same Whisper output
    beam = replace(base, asr=replace(base.asr, beam_size=1))
    assert Transcriber(beam).asr_key != key
    store = ModelStore(reuse_asr=True)
    for i in range(DECODED_KEPT + 3):
        store.remember_decoded((f"song{i}", key), ("en", 1.0, ()))
    assert len(store.decoded) == DECODED_KEPT and ("song0", key) not in store.decoded
    plain = ModelStore()
    plain.remember_decoded(("song", key), ("en", 1.0, ()))
    assert plain.decoded is None  # a batch never keeps old songs' windows


def _back_to_back(first: float, count: int, spacing: float, words: int = 4) -> list[LyricLine]:
    """``count`` lines of ``words`` words, one every ``spacing`` seconds, sung without a rest."""
    step = spacing / words
    return [line_of(words_at([first + k * spacing + j * step for j in range(words)], step))
            for k in range(count)]


def test_the_line_period_is_the_spacing_of_lines_sung_back_to_back():
    lines = _back_to_back(0.0, 5, 2.0)
    assert line_period(lines) == pytest.approx(2.0)
    assert line_period(lines[:4]) is None  # three pairs: no measurable pace
    apart = [line_of(words_at([10.0 * k, 10.0 * k + 0.5])) for k in range(6)]
    assert line_period(apart) is None  # every pair has a long rest between


def _eight_words(commas: tuple[int, ...] = ()) -> LyricLine:
    """Eight words over 4 s sung legato (no gap between them), commas after the given ones."""
    words = tuple(Word(f" w{i}{',' if i in commas else ''}", 0.5 * i, 0.5 * i + 0.5)
                  for i in range(8))
    return line_of(words)


def test_a_line_two_periods_long_is_cut_where_the_pieces_match_the_period():
    legato = voice(6.0, [])
    # Whisper's commas after w1 and w3: the cut after w3 makes two 2-s lines (the period).
    pieces = split_to_period(_eight_words((1, 3)), legato, period=2.0, min_words=2)
    assert [len(p.words) for p in pieces] == [4, 4]
    # A half-second breath between w2 and w3 is the cut, though the pieces are 1.5 and 2.5 s.
    breathing = voice(6.0, [(1.2, 1.8)])
    assert [len(p.words) for p in split_to_period(_eight_words(), breathing, 2.0, 2)] == [3, 5]
    # No evidence of a line end anywhere: twice the period is not enough to cut blindly.
    assert split_to_period(_eight_words(), legato, 2.0, 2) == [_eight_words()]
    # Within 1.3 periods the line stays whole whatever its commas.
    assert split_to_period(_eight_words((3,)), legato, 3.5, 2) == [_eight_words((3,))]


def test_a_period_cut_keeps_the_minimum_words_and_whole_written_words():
    words = (Word(" Et", 0.0, 0.5), Word(" qu", 0.5, 0.9), Word("'on", 0.9, 1.5),
             Word(" m", 1.5, 1.7), Word("'attend", 1.7, 2.5), Word(" encore", 2.5, 3.0),
             Word(" ce", 3.0, 3.5), Word(" soir", 3.5, 4.0))
    # The longest breath is inside "qu'on" (never cut); the next one, before "encore", is.
    breaths = voice(5.0, [(0.6, 1.4), (2.2, 2.8)])
    pieces = split_to_period(line_of(words), breaths, period=2.0, min_words=2)
    assert texts(pieces) == ["Et qu'on m'attend", "encore ce soir"]
    for piece in pieces:
        assert not piece.words[0].text.startswith("'")
        assert word_count(piece.words) >= 2


def test_layout_recuts_lines_over_the_song_period_only_when_asked():
    # Two 2-s lines merged, a comma between them, sung legato (no breath to split at).
    long_line = line_of(tuple(Word(w.text, w.start + 10.0, w.end + 10.0)
                              for w in _eight_words((3,)).words))
    lines = [*_back_to_back(0.0, 5, 2.0), long_line]
    legato = voice(16.0, [])
    on = layout_lines(lines, voice=legato)
    assert [len(line.words) for line in on] == [4, 4, 4, 4, 4, 4, 4]
    # (Its words "w0".."w7" read like two of the short lines: the repeats lever would split it.)
    off = layout_lines(lines, options=LayoutOptions(line_period=False, line_repeats=False),
                       voice=legato)
    assert [len(line.words) for line in off] == [4, 4, 4, 4, 4, 8]
    assert all(line.text[0] == "W" for line in on)  # a capital at each line start
    plain = layout_lines(lines, options=LayoutOptions(line_capitals=False), voice=legato)
    assert all(line.text[0] == "w" for line in plain)
