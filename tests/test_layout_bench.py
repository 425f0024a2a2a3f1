"""The layout bench: reference words at their human times, baselines, no audio needed."""

from __future__ import annotations

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


def test_breaths_then_word_limit_split_as_the_one_recursive_split_did():
    # The two steps must give what split_phrases did with both limits at once: after a
    # too-long line is cut, each piece's own level is measured again and may show a breath.
    import numpy as np

    from alt_cli.layout import VoiceEnvelope
    from alt_cli.layout.phrasing import split_phrases

    rng = np.random.default_rng(7)
    options = LayoutOptions(line_breath=0.15, max_line_words=8, min_line_words=2,
                            line_period=False, line_punctuation=False, line_repeats=False,
                            line_pickups=False, pickup_joins=False, line_capitals=False)
    steps = [s for s in STEPS if s.name in ("breaths", "max words")]
    # A loud first half with a shallow dip, a quiet second half: over the whole line the dip is
    # no breath (the median is lower), so the 12 words are cut at the widest gap; the loud
    # half, measured alone, then shows the dip as a breath (three lines, not two).
    words = tuple(Word(f" w{i}", 0.5 * i + (0.4 if i >= 6 else 0.0),
                       0.5 * i + 0.35 + (0.4 if i >= 6 else 0.0)) for i in range(12))
    envelope = np.full(int(7.0 / 0.02), 0.3, dtype=np.float32)
    envelope[: int(2.9 / 0.02)] = 1.0
    envelope[int(1.34 / 0.02):int(1.52 / 0.02)] = 0.25  # a 0.18-s dip between w2 and w3
    voice = VoiceEnvelope(envelope, 0.02, 0.1)
    line = LyricLine(0.0, words[-1].end, "".join(w.text for w in words).strip(), 0, words)
    cues = LayoutCues("en", (), voice, (), options)
    assert len(split_phrases(line, voice, 0.15, 8, 2)) == 3
    assert [x.text for x in lay_out([line], cues, steps)] == [
        x.text for x in split_phrases(line, voice, 0.15, 8, 2)]

    for _ in range(40):
        starts = np.cumsum(rng.uniform(0.25, 0.6, 14))
        words = tuple(Word(f" w{i}", float(t), float(t) + 0.2) for i, t in enumerate(starts))
        envelope = rng.uniform(0.2, 1.0, int(starts[-1] / 0.02) + 40).astype(np.float32)
        for k in rng.choice(13, 3, replace=False):  # dips of various depths between words
            a, b = int(words[k].end / 0.02), int(words[k + 1].start / 0.02)
            envelope[a:b + 1] *= rng.uniform(0.05, 0.6)
        voice = VoiceEnvelope(envelope, 0.02, 0.1)
        line = LyricLine(words[0].start, words[-1].end, "".join(w.text for w in words).strip(),
                         0, words)
        together = split_phrases(line, voice, 0.15, 8, 2)
        chained = lay_out([line], LayoutCues("en", (), voice, (), options), steps)
        assert [x.text for x in chained] == [x.text for x in together]


def test_a_caption_before_a_rest_does_not_take_the_sung_line_after_it():
    words = (Word(" Gracias", 0.0, 0.4), Word(" por", 0.4, 0.6), Word(" verte", 0.6, 1.0),
             Word(" y", 3.0, 3.2), Word(" te", 3.2, 3.4), Word(" quiero", 3.4, 4.0))
    line = LyricLine(0.0, 4.0, "Gracias por verte y te quiero", 0, words)
    lines = lay_out([line], LayoutCues("es", ((1.0, 3.0),)))
    assert [x.text for x in lines] == ["Y te quiero"]


def test_a_bad_timing_file_leaves_its_song_out_not_the_run(tmp_path: Path):
    from click.testing import CliRunner

    from alt_cli.cli import cli

    data = tmp_path / "data"
    (data / "lyrics").mkdir(parents=True)
    (data / "word_timings").mkdir()
    for name in ("good", "empty"):
        (data / "lyrics" / f"{name}.txt").write_text("Hello there\nGood bye\n", encoding="utf-8")
    (data / "word_timings" / "good.csv").write_text(
        "word,start,end,line_end\nhello,1,1.4,\nthere,1.5,2,2\ngood,3,3.4,\nbye,3.5,4,4\n",
        encoding="utf-8")
    (data / "word_timings" / "empty.csv").write_text("word,start,end,line_end\n",
                                                     encoding="utf-8")
    (data / "metadata.csv").write_text("name,language\ngood,en\nempty,en\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["bench", "ultrastar", "--task", "layout", "--data-dir",
                                      str(data), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "empty" in result.output and "left out" in result.output
    assert (tmp_path / "out" / "hypotheses-layout" / "alt" / "good.txt").is_file()
    refused = CliRunner().invoke(cli, ["bench", "ultrastar", "--task", "layout", "--data-dir",
                                       str(data), "--variant", "g:beam-size=1"])
    assert refused.exit_code != 0 and "only layout settings" in refused.output
