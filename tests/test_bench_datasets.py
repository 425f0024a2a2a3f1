"""`alt bench ultrastar`: a folder-only dataset, songs the align task cannot score, and section
metrics only where the reference has sections. Fast: tiny made-up folders, no model, no song."""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pytest
import soundfile
from alt_eval import compute_metrics
from click.testing import CliRunner

from alt_cli.bench import report
from alt_cli.bench.configs import TASKS, BenchConfig, BenchRequest
from alt_cli.bench.datasets import DATASETS, TASK_NEEDS, BenchSong, load_dataset
from alt_cli.bench.report import render_table, score_runs
from alt_cli.bench.runner import SongRun
from alt_cli.bench.scoring import pool_scores, score_corpus, score_song
from alt_cli.cli import cli
from alt_cli.errors import AltError
from alt_cli.options import TranscribeOptions
from alt_cli.progress import Reporter

SECTION_KEYS = ("P_sect", "R_sect", "F1_sect")
# Karaoke lines (no blank line: no section) and a hypothesis that starts a section mid-song.
FLAT_REF = "Hello darkness my old friend\nI've come to talk with you again\nBecause a vision"
FLAT_HYP = "Hello darkness my old friend\n\nI've come to talk with you again\nBecause a vision"
# A reference with a section break that the hypothesis gets right (and a comma it misses).
SECT_REF = "One, two, three\nfour five six\n\nseven eight nine\nten"
SECT_HYP = "One, two three\nfour five six\n\nseven eight nine\nten"


def _tone(path: Path, seconds: float = 1.5, rate: int = 22050, **kwargs) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(str(path), (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate,
                    **kwargs)
    return path


def _song_folder(root: Path, songs: dict[str, str], word_timings: Collection[str] = ()) -> Path:
    """An UltraStar-like folder: audio/<name>.<ext>, lyrics without blank lines, metadata.csv
    (name,language), lyrics_jamendo/ for every song, word_timings/ only for `word_timings`."""
    for folder in ("audio", "lyrics", "lyrics_jamendo", "word_timings"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    rows = ["name,language"]
    for name, ext in songs.items():
        if ext == "ogg":
            _tone(root / "audio" / f"{name}.ogg", format="OGG", subtype="VORBIS")
        else:
            _tone(root / "audio" / f"{name}.{ext}")
        (root / "lyrics" / f"{name}.txt").write_text(FLAT_REF + "\n", encoding="utf-8")
        (root / "lyrics_jamendo" / f"{name}.txt").write_text(FLAT_REF + "\n", encoding="utf-8")
        if name in word_timings:
            (root / "word_timings" / f"{name}.csv").write_text(
                "word,start,end,line_end\nHello,0.1,0.3,False\n", encoding="utf-8")
        rows.append(f"{name},en")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


# --- the dataset ---------------------------------------------------------------------------

def test_ultrastar_songs_are_scored_without_sections(tmp_path):
    selection = load_dataset("ultrastar", _song_folder(tmp_path, {"a": "wav"}))
    assert selection.songs[0].sections is False
    assert DATASETS["jam-alt"].sections is True


def test_ultrastar_loads_songs_from_the_folder_ogg_included(tmp_path):
    data = _song_folder(tmp_path, {"A_-_Song": "wav", "B_-_Other": "ogg"})
    selection = load_dataset("ultrastar", data)
    assert [s.name for s in selection.songs] == ["A_-_Song", "B_-_Other"]
    assert [s.audio.suffix for s in selection.songs] == [".wav", ".ogg"]
    assert all(s.language == "en" and "\n\n" not in s.lyrics for s in selection.songs)
    assert selection.missing == []
    assert any("no verified ultrastar song list" in note and "2 songs found" in note
               for note in selection.notes)

    from alt_cli.audio import load_song

    audio = load_song(selection.songs[1].audio)  # the .ogg decodes
    assert audio.duration == pytest.approx(1.5, abs=0.05)


def test_ultrastar_without_data_dir_is_one_line_and_downloads_nothing(monkeypatch):
    def snapshot_download(*args, **kwargs):
        raise AssertionError("ultrastar has no Hub copy: nothing may be downloaded")

    monkeypatch.setitem(sys.modules, "huggingface_hub",
                        types.SimpleNamespace(snapshot_download=snapshot_download))
    with pytest.raises(AltError, match="--data-dir") as caught:
        load_dataset("ultrastar")
    assert "\n" not in str(caught.value) and "no public copy" in str(caught.value)

    result = CliRunner().invoke(cli, ["bench", "ultrastar"])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("alt: error:")]
    assert len(errors) == 1 and "--data-dir" in errors[0], result.output


def test_bench_offers_every_dataset_and_every_task_has_its_needs():
    assert set(cli.commands["bench"].params[0].type.choices) == set(DATASETS)
    assert set(TASK_NEEDS) == set(TASKS)


# --- songs the align task cannot score -------------------------------------------------------

def test_align_leaves_out_songs_without_word_timings_before_the_limit(tmp_path):
    data = _song_folder(tmp_path, {"A_-_No_timings": "wav", "B_-_Timed": "wav"},
                        word_timings={"B_-_Timed"})
    assert len(load_dataset("ultrastar", data).songs) == 2  # transcribe needs no timings
    aligned = load_dataset("ultrastar", data, task="align", limit=1)
    assert [s.name for s in aligned.songs] == ["B_-_Timed"]
    assert any("A_-_No_timings (no word_timings/)" in note for note in aligned.notes)
    with pytest.raises(AltError, match="A_-_No_timings \\(no word_timings/\\)"):
        load_dataset("ultrastar", data, task="align", songs=["A_-_No_timings"])


def test_bench_align_runs_only_the_songs_with_word_timings(tmp_path, monkeypatch):
    data = _song_folder(tmp_path / "data", {"A_-_No_timings": "wav", "B_-_Timed": "wav"},
                        word_timings={"B_-_Timed"})
    seen = {}

    def run_bench(selection, plan, reporter):
        seen["songs"] = [s.name for s in selection.songs]
        seen["task"] = plan.task
        return ""

    monkeypatch.setattr(report, "run_bench", run_bench)
    request = BenchRequest(data_dir=data, task="align", models=("tiny",), separators=("none",),
                           out=tmp_path / "out")
    report.bench_command("ultrastar", request, TranscribeOptions(), Reporter(quiet=True))
    assert seen == {"songs": ["B_-_Timed"], "task": "align"}


# --- section metrics only where the reference has sections -----------------------------------

def _is_nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def test_song_without_sections_has_no_section_metrics_and_the_rest_is_alt_eval():
    flat = score_song(FLAT_REF, FLAT_HYP, "en", sections=False).metrics
    assert all(_is_nan(flat[key]) for key in SECTION_KEYS)
    official = compute_metrics([FLAT_REF], [FLAT_HYP], languages="en")
    assert official["P_sect"] == 0.0  # what alt-eval says: the inserted section is an error
    for key, value in official.items():
        if key not in SECTION_KEYS:
            assert flat[key] == value or (_is_nan(flat[key]) and _is_nan(value)), key
    assert flat["WER"] == 0.0 and flat["F1_line"] == 1.0


def test_pool_of_songs_without_sections_has_nan_section_metrics():
    _, pooled = score_corpus([FLAT_REF, "La la la\nla la"], [FLAT_HYP, "La la\n\nla la la"], "en",
                             sections=False)
    assert all(_is_nan(pooled.metrics[key]) for key in SECTION_KEYS)
    _, official = score_corpus([FLAT_REF], [FLAT_HYP], "en")  # a dataset with sections: counted
    assert official.metrics["P_sect"] == 0.0


def test_mixed_pool_scores_sections_on_the_songs_that_have_them():
    with_sections = score_song(SECT_REF, SECT_HYP, "en")
    assert with_sections.metrics["F1_sect"] == 1.0
    songs, pooled = score_corpus([SECT_REF, FLAT_REF], [SECT_HYP, FLAT_HYP], "en",
                                 sections=[True, False])
    assert pooled.metrics["F1_sect"] == 1.0  # the flat song's inserted section does not count
    assert pooled.metrics["P_sect"] == pool_scores(songs[:1]).metrics["P_sect"]
    official = compute_metrics([SECT_REF, FLAT_REF], [SECT_HYP, FLAT_HYP], languages="en")
    assert official["F1_sect"] < 1.0  # alt-eval would count it
    for key in ("WER", "WER_case", "F1_punc", "R_punc", "F1_line", "P_line", "R_line"):
        assert pooled.metrics[key] == official[key], key
    assert 0 < pooled.metrics["R_punc"] < 1


def test_bench_summary_without_sections_keeps_its_columns_and_shows_a_dash(tmp_path):
    config = BenchConfig("tiny", "none", "rmsvad", "mix")

    def runs(pairs):
        return [SongRun(BenchSong(f"s{i}", "en", tmp_path / f"s{i}.wav", ref,
                                  sections=ref != FLAT_REF), config, "song",
                        hyp, ref, None, 60.0, {"total": 6.0})
                for i, (ref, hyp) in enumerate(pairs)]

    _, flat = score_runs(runs([(FLAT_REF, FLAT_HYP)] * 2), tmp_path / "flat")
    _, mixed = score_runs(runs([(SECT_REF, SECT_HYP), (FLAT_REF, FLAT_HYP)]), tmp_path / "mix")
    assert [list(row) for row in flat] == [list(row) for row in mixed]  # same summary columns
    assert _is_nan(flat[0]["F1_sect"]) and mixed[0]["F1_sect"] == 1.0
    assert flat[0]["F1_line"] == 1.0 and flat[0]["WER"] == 0.0
    header, _, row = render_table(flat).splitlines()[:3]
    cells = dict(zip(header.split("|"), row.split("|"), strict=True))
    assert cells[" F1 sect "].strip() == "–" and cells[" F1 line "].strip() == "1.000"


def test_a_blank_line_is_a_line_break_against_a_reference_without_sections():
    # alt-eval aligns every token, and the blank line's section token moves which line breaks
    # pair (here raw alt-eval says F1_line 1.0 with the blank line, 0.5 without it).
    reference, hypothesis = "a\nb\nc d e\n", "a b c\nd\n\ne\n"
    assert compute_metrics([reference], [hypothesis], languages="en")["F1_line"] == 1.0
    flat = score_song(reference, hypothesis.replace("\n\n", "\n"), "en", sections=False)
    blank = score_song(reference, hypothesis, "en", sections=False).metrics
    assert blank["F1_line"] == flat.metrics["F1_line"] == 0.5 and math.isnan(blank["F1_sect"])
    assert score_song(reference, hypothesis, "en").metrics["F1_line"] == 1.0  # alt-eval's
