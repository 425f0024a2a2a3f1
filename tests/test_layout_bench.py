"""The layout bench: reference words at their human times, baselines, no audio needed."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from alt_cli.bench.datasets import load_dataset
from alt_cli.bench.layout_task import (
    REST_S,
    as_words,
    baseline_lines,
    layout_from_words,
    reference_tokens,
    timed_reference,
    word_cues,
)
from alt_cli.bench.scoring import score_song
from alt_cli.formats import render_txt
from alt_cli.layout import STEPS, LayoutCues, Step, lay_out
from alt_cli.options import LayoutOptions
from alt_cli.schema import LyricLine, Word

LYRICS = "Hello, my friend!\nI'm (so) glad\n\nNew day rising\nHere"


def test_reference_tokens_are_plain_words_with_line_and_section_starts():
    tokens = reference_tokens(LYRICS)
    assert [t[0] for t in tokens] == ["hello", "my", "friend", "i'm", "so", "glad", "new",
                                      "day", "rising", "here"]
    assert [i for i, t in enumerate(tokens) if t[1]] == [0, 3, 6, 9]
    assert [i for i, t in enumerate(tokens) if t[2]] == [0, 6]


def test_timings_pair_by_words_and_unpaired_words_are_spread_between_neighbours():
    rows = [("hello", 1.0, 1.4), ("my", 1.5, 1.7), ("friend", 1.8, 2.3), ("im", 3.0, 3.3),
            ("glad", 4.0, 4.5), ("new", 10.0, 10.2), ("day", 10.3, 10.5),
            ("rising", 10.6, 11.0), ("here", 12.0, 12.5)]
    words = timed_reference(LYRICS, rows)
    assert [w.start for w in words[:3]] == [1.0, 1.5, 1.8]
    so = words[4]  # not in the timings: between "i'm" (ends 3.3) and "glad" (starts 4.0)
    assert 3.3 <= so.start < 4.0
    assert all(b.start >= a.start for a, b in zip(words, words[1:], strict=False))


def test_cues_from_word_times_make_rests_and_a_voice_that_is_silent_between_words():
    words = [Word(" a", 0.0, 0.5), Word(" b", 0.6, 1.0), Word(" c", 1.0 + REST_S, 3.0)]
    cues = word_cues(words, "en", LayoutOptions())
    assert cues.rests == ((1.0, 1.0 + REST_S),)
    voice = cues.voice
    assert voice is not None
    assert voice.frames(0.1, 0.4).min() == 1.0 and voice.frames(0.52, 0.58).max() == 0.0
    assert voice.breath(words[0], words[1], 1.0) == pytest.approx(0.1, abs=0.03)


def _song_words():
    rows = [("hello", 1.0, 1.4), ("my", 1.5, 1.7), ("friend", 1.8, 2.3), ("i'm", 2.4, 2.6),
            ("so", 2.7, 2.8), ("glad", 2.9, 3.5), ("new", 10.0, 10.2), ("day", 10.3, 10.5),
            ("rising", 10.6, 11.0), ("here", 11.1, 11.5)]
    return timed_reference(LYRICS, rows)


def test_the_reference_baseline_is_the_ceiling_and_the_others_are_not():
    words = _song_words()
    ceiling = score_song(LYRICS, render_txt(baseline_lines("reference", words,
                                                           LayoutOptions())), "en").metrics
    assert ceiling["F1_line"] == 1.0 and ceiling["F1_sect"] == 1.0 and ceiling["WER"] == 0.0
    fixed = baseline_lines("words-4", words, LayoutOptions())
    assert [len(line.words) for line in fixed] == [4, 2, 4]  # restarts at the 6.5-s rest
    gaps = baseline_lines("gap-0.5", words, LayoutOptions())
    assert [line.text for line in gaps] == ["Hello my friend i'm so glad", "New day rising here"]
    assert [line.section for line in gaps] == [0, 1]  # a 6.5-s rest opens a section


def test_alt_layout_of_words_breaks_at_rests_and_capitalises():
    lines = layout_from_words(_song_words(), "en", LayoutOptions())
    assert lines[0].text.startswith("Hello") and lines[-1].text.startswith("New")
    assert lines[-1].section == 1


def test_steps_are_gated_by_their_setting_and_run_in_order():
    names = [step.name for step in STEPS]
    assert names.index("pickups") < names.index("pickup joins") < names.index("capitals")
    assert names[-1] == "sections"
    options = LayoutOptions(line_capitals=False, min_line_words=1, line_breath=None)
    on = {step.name for step in STEPS if step.on(options)}
    assert "capitals" not in on and "short lines" not in on and "breaths" not in on
    assert "capitals" in {s.name for s in STEPS if s.on(LayoutOptions(
        line_capitals=False, lyrics_conventions=True))}


def test_a_chain_of_chosen_steps_is_what_runs():
    line = LyricLine(0.0, 3.0, "a b c", 0, (Word(" a", 0, 1), Word(" b", 1, 2),
                                            Word(" c", 2, 3)))
    shout = Step("shout", None, lambda lines, cues: [
        LyricLine(x.start, x.end, x.text.upper(), x.section, x.words) for x in lines])
    assert lay_out([line], LayoutCues(), steps=[shout])[0].text == "A B C"
    assert lay_out([line], LayoutCues(), steps=[])[0].text == "a b c"


def test_the_layout_task_selects_songs_without_audio(tmp_path: Path):
    (tmp_path / "lyrics").mkdir()
    (tmp_path / "word_timings").mkdir()
    (tmp_path / "lyrics" / "song.txt").write_text("Hello there\n", encoding="utf-8")
    (tmp_path / "lyrics" / "untimed.txt").write_text("Hello there\n", encoding="utf-8")
    (tmp_path / "word_timings" / "song.csv").write_text(
        "word,start,end,line_end\nhello,1.0,1.5,\nthere,1.6,2.0,2.0\n", encoding="utf-8")
    (tmp_path / "metadata.csv").write_text("name,language\nsong,en\nuntimed,en\n",
                                           encoding="utf-8")
    selection = load_dataset("ultrastar", tmp_path, task="layout")
    assert [song.name for song in selection.songs] == ["song"]
    assert selection.songs[0].audio is None
    words = timed_reference(selection.songs[0].lyrics,
                            [("hello", 1.0, 1.5), ("there", 1.6, 2.0)])
    assert [w.text for w in as_words(words)] == [" hello", " there"]
    assert not math.isnan(score_song("Hello there\n", "Hello there\n", "en").metrics["WER"])


def test_alt_bench_task_layout_writes_its_table_without_audio(tmp_path: Path):
    from click.testing import CliRunner

    from alt_cli.cli import cli

    data = tmp_path / "data"
    (data / "lyrics").mkdir(parents=True)
    (data / "word_timings").mkdir()
    lyrics = "Hello my friend\nSo glad to see you\n\nNew day rising\nHere we go again\n"
    (data / "lyrics" / "song.txt").write_text(lyrics, encoding="utf-8")
    rows = ["word,start,end,line_end"]
    t = 1.0
    for k, word in enumerate(plain for line in lyrics.split("\n") for plain in line.split()):
        rows.append(f"{word.lower()},{t:.2f},{t + 0.3:.2f},")
        t += 0.4 + (6.0 if k == 7 else 0.0)
    (data / "word_timings" / "song.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (data / "metadata.csv").write_text("name,language\nsong,en\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["bench", "ultrastar", "--task", "layout", "--data-dir",
                                      str(data), "-o", str(out), "--variant",
                                      "short:max-line-words=3"])
    assert result.exit_code == 0, result.output
    table = (out / "summary.md").read_text(encoding="utf-8")
    reference = next(line for line in table.splitlines() if line.startswith("| reference |"))
    assert reference.split("|")[-3].strip() == "1.000"  # F1 line of the ceiling
    assert "| alt.short |" in table and "| gap-0.3 |" in table
    assert (out / "hypotheses-layout" / "alt.short" / "song.txt").is_file()


def test_a_model_store_keeps_layout_inputs_only_when_asked(tmp_path: Path):
    from alt_cli.pipeline import ModelStore

    store = ModelStore()
    line = LyricLine(0.0, 1.0, "a", 0, (Word(" a", 0.0, 1.0),))
    store.remember_layout(tmp_path / "song.wav", [line], LayoutCues("en"))
    assert store.layout_inputs is None
    store.layout_inputs = {}
    store.remember_layout(tmp_path / "song.wav", [line], LayoutCues("en"))
    raw, cues = store.layout_inputs[str(tmp_path / "song.wav")]
    assert raw == (line,) and cues.language == "en"
