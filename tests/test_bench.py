"""`alt bench` and `alt score`: configurations, outputs, resume without re-separating."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from alt_cli.bench.configs import BenchConfig, expand_configs
from alt_cli.bench.datasets import load_dataset
from alt_cli.cli import cli
from alt_cli.errors import AltError
from tests.conftest import DEV_DATA

needs_dev = pytest.mark.skipif(not DEV_DATA.is_dir(), reason="../shared/jam-alt-dev absent")


def test_config_product_merges_equivalent_runs():
    configs = expand_configs(["base"], ["spleeter", "demucs"], ["native", "rmsvad"],
                             ["mix", "vocals"])
    labels = [c.label for c in configs]
    assert labels == [
        "base.none.native.mix", "base.spleeter.native.vocals", "base.spleeter.rmsvad.mix",
        "base.spleeter.rmsvad.vocals", "base.demucs.native.vocals", "base.demucs.rmsvad.mix",
        "base.demucs.rmsvad.vocals",
    ]
    short = expand_configs(["tiny"], ["spleeter"], ["native", "rmsvad"], ["mix", "stem"],
                           mode="short")
    assert short == [BenchConfig("tiny", "none", "clips", "mix"),
                     BenchConfig("tiny", "stem", "clips", "stem")]


@needs_dev
def test_dataset_selection_lists_missing_and_filters():
    selection = load_dataset("jam-alt", DEV_DATA, languages=["es"])
    assert [s.language for s in selection.songs] == ["es", "es"]
    assert len(selection.missing) == 18  # Jam-ALT has 20 Spanish songs; 2 are here
    with pytest.raises(AltError, match="not in jam-alt"):
        load_dataset("jam-alt", DEV_DATA, songs=["No_Such_Song"])


def test_folder_without_usable_song_is_a_clear_error(tmp_path):
    (tmp_path / "audio").mkdir()
    with pytest.raises(AltError, match="no usable jam-alt song"):
        load_dataset("jam-alt", tmp_path)
    with pytest.raises(AltError, match="no audio/ folder"):
        load_dataset("musdb-alt", tmp_path / "nowhere")


def test_score_files_and_folders(tmp_path):
    refs, hyps = tmp_path / "ref", tmp_path / "hyp"
    refs.mkdir()
    hyps.mkdir()
    (refs / "a.txt").write_text("Hello my friend\nHow are you\n", encoding="utf-8")
    (refs / "b.txt").write_text("One two three four five six seven eight\n", encoding="utf-8")
    (hyps / "a.txt").write_text("hello my friend\nhow are you\n", encoding="utf-8")
    (hyps / "b.txt").write_text("One two three four\n", encoding="utf-8")
    runner = CliRunner()
    single = runner.invoke(cli, ["score", str(refs / "a.txt"), str(hyps / "a.txt")])
    assert single.exit_code == 0 and "| a | 0.0 |" in single.output
    folders = runner.invoke(cli, ["score", str(refs), str(hyps), "--json"])
    data = json.loads(folders.output)
    assert data["files"]["b"]["WER"] == pytest.approx(0.5)
    assert data["pooled"]["WER"] == pytest.approx(4 / 14)  # pooled, not the mean (0.25)
    mixed = runner.invoke(cli, ["score", str(refs), str(hyps / "a.txt")])
    assert mixed.exit_code == 1 and "both be files or both be folders" in mixed.output


@needs_dev
@pytest.mark.slow
def test_short_mode_bench_writes_everything_and_resumes_from_cache(tmp_path, session_cache):
    out = tmp_path / "bench"
    song = "Guayeteo_-_JhoyKing"
    command = [sys.executable, "-m", "alt_cli.cli", "bench", "jam-alt", "--data-dir",
               str(DEV_DATA), "--mode", "short", "--songs", song, "--model", "tiny.en",
               "--separator", "spleeter", "--asr-input", "vocals", "--cache-dir",
               str(session_cache), "-o", str(out)]
    first = subprocess.run(command, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    assert "| tiny.en.spleeter.clips.vocals | line |" in first.stdout
    assert "| tiny.en.spleeter.clips.vocals | group |" in first.stdout
    for name in ("songs.csv", "summary.csv", "summary.md", "run.json"):
        assert (out / name).is_file(), name
    for label in ("tiny.en.spleeter.clips.vocals",):
        for level in ("line", "group"):
            assert (out / "hypotheses" / label / level / f"{song}.txt").is_file()
            assert (out / "errors" / label / level / f"{song}.html").is_file()
    with open(out / "songs.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and all(0 <= float(r["WER"]) < 3 for r in rows)
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["songs"] == [song] and len(run["data"][song]["audio_sha256"]) == 64
    stems = sorted((session_cache / "stems").iterdir())
    mtimes = [p.stat().st_mtime_ns for p in stems]
    hyp = out / "hypotheses" / "tiny.en.spleeter.clips.vocals" / "line" / f"{song}.txt"
    hyp_mtime = hyp.stat().st_mtime_ns

    again = subprocess.run(command + ["-v"], capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    assert "separated in" not in again.stderr and "reused" in again.stderr
    assert [p.stat().st_mtime_ns for p in sorted((session_cache / "stems").iterdir())] == mtimes
    assert hyp.stat().st_mtime_ns == hyp_mtime
    assert again.stdout == first.stdout
