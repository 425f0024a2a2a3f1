"""`alt transcribe` end to end with the real tiny.en and Spleeter weights on real singing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from alt_cli.cli import cli
from tests.conftest import EXAMPLE_LINE, write_tone
from tests.lyrics_files import parse_lrc

pytestmark = pytest.mark.slow


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def run_alt(*args: str) -> subprocess.CompletedProcess:
    """The installed console script, as a user runs it."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "alt_cli.cli", *args], capture_output=True,
                          text=True, env=env, check=False)


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def cli_cache(session_cache, tmp_path_factory):
    """Converted models shared with the session, but no stems: this module sees a cold cache
    whatever other test modules separated before it."""
    cache = tmp_path_factory.mktemp("cli-cache")
    (session_cache / "models").mkdir(exist_ok=True)
    (cache / "models").symlink_to(session_cache / "models", target_is_directory=True)
    return cache


@pytest.fixture(scope="module")
def transcribed(example_song, cli_cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    proc = run_alt("transcribe", str(example_song), "-o", str(out), "--model", "tiny.en",
                   "--separator", "spleeter", "--cache-dir", str(cli_cache),
                   "-f", "txt,lrc,srt,vtt,json")
    return proc, out


def test_example_song_gives_its_line(transcribed):
    proc, out = transcribed
    assert proc.returncode == 0, proc.stderr
    txt = (out / "audio_example.txt").read_text(encoding="utf-8")
    assert _words(txt) == _words(EXAMPLE_LINE)
    assert "Traceback" not in proc.stderr


def test_every_format_written_and_consistent(transcribed):
    _, out = transcribed
    shown = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert sorted(p.suffix for p in shown) == [".json", ".lrc", ".srt", ".txt", ".vtt"]
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [
        ".audio_example.alt.json"]  # the ownership record
    lrc = (out / "audio_example.lrc").read_text(encoding="utf-8")
    assert "[ar:Steven M Bryant]" in lrc and "[length:00:11]" in lrc
    (start, text), = parse_lrc(lrc)
    assert 1.0 < start < 4.0 and _words(text) == _words(EXAMPLE_LINE)
    doc = json.loads((out / "audio_example.json").read_text(encoding="utf-8"))
    assert doc["separator"] == {"name": "spleeter", "model": "spleeter-2stems", "cached": False}
    assert doc["model"]["name"] == "tiny.en" and len(doc["model"]["sha256"]) == 64
    assert doc["language"] == "en" and doc["segmenter"] == "rmsvad" and doc["asr_input"] == "blend"
    assert doc["settings"]["vad"]["onset"] == 0.1 and doc["versions"]["openai-whisper"]
    line = doc["lines"][0]
    assert line["words"] and line["start"] < line["end"] <= doc["duration"]
    window = doc["windows"][0]
    assert window["silent"] is False and window["compression_ratio"] < 2.4


def test_second_run_skips_then_overwrite_uses_stem_cache(transcribed, example_song, cli_cache):
    _, out = transcribed
    before = (out / "audio_example.json").stat().st_mtime_ns
    again = invoke("transcribe", str(example_song), "-o", str(out), "--model", "tiny.en",
                   "--separator", "spleeter", "--cache-dir", str(cli_cache), "-f", "json")
    assert again.exit_code == 0 and "skipped" in again.output
    assert (out / "audio_example.json").stat().st_mtime_ns == before
    redo = invoke("transcribe", str(example_song), "-o", str(out), "--model", "tiny.en",
                  "--separator", "spleeter", "--cache-dir", str(cli_cache), "-f", "json",
                  "--overwrite")
    assert redo.exit_code == 0, redo.output
    doc = json.loads((out / "audio_example.json").read_text(encoding="utf-8"))
    assert doc["separator"]["cached"] is True and doc["timings"]["separation"] == 0


def test_native_segmenter_baseline(example_song, session_cache, tmp_path):
    result = invoke("transcribe", str(example_song), "-o", str(tmp_path), "--model", "tiny.en",
                    "--segmenter", "native", "--cache-dir", str(session_cache), "-f", "txt,json")
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "audio_example.json").read_text(encoding="utf-8"))
    assert doc["segmenter"] == "native" and doc["separator"]["name"] == "none"
    assert "time stands still" in " ".join(_words(doc["text"]))


def test_silent_song_gives_empty_lyrics_and_a_note(session_cache, tmp_path):
    song = write_tone(tmp_path / "silence.wav", 5.0)
    result = invoke("transcribe", str(song), "--model", "tiny.en", "--separator", "spleeter",
                    "--cache-dir", str(session_cache))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "silence.txt").read_text(encoding="utf-8") == ""
    doc = json.loads((tmp_path / "silence.json").read_text(encoding="utf-8"))
    assert doc["notes"] and "no vocals" in doc["notes"][0]


def test_bad_inputs_one_line_errors_no_outputs(example_song, session_cache, tmp_path):
    (tmp_path / "empty.mp3").write_bytes(b"")
    (tmp_path / "notes.wav").write_text("not audio\n" * 40)
    (tmp_path / "cut.mp3").write_bytes(example_song.read_bytes()[:600])
    write_tone(tmp_path / "blip.wav", 0.3, amplitude=0.2)
    names = ["missing.mp3", "empty.mp3", "notes.wav", "cut.mp3", "blip.wav"]
    for name in names:
        proc = run_alt("transcribe", str(tmp_path / name), "--model", "tiny.en",
                       "--cache-dir", str(session_cache), "-q")
        assert proc.returncode == 1, (name, proc.stderr)
        errors = proc.stderr.strip().splitlines()
        assert len(errors) == 1 and errors[0].startswith("alt: error: ") and name in errors[0]
    leftovers = {p.name for p in tmp_path.iterdir()} - {n for n in names if n != "missing.mp3"}
    assert leftovers == set()


def test_usage_errors(example_song, tmp_path):
    bad_format = run_alt("transcribe", str(example_song), "-f", "txt,docx")
    assert bad_format.returncode == 2 and "docx" in bad_format.stderr
    no_model = run_alt("transcribe", str(example_song), "--model", str(tmp_path / "nope.pt"),
                       "--cache-dir", str(tmp_path), "--separator", "none", "-o", str(tmp_path),
                       "-q")
    assert no_model.returncode == 1
    assert no_model.stderr.count("\n") == 1 and "nope.pt" in no_model.stderr
    assert not list(tmp_path.glob("audio_example.*"))
