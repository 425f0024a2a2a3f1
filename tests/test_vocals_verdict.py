"""No lyrics where nobody sings: the absolute vocal floor, the per-song verdict, line
confidence; and noise, silence and an instrumental through the real pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from alt_cli.options import VadOptions
from alt_cli.pipeline import vocals_verdict
from alt_cli.schema import LyricLine, WindowTranscript, Word
from alt_cli.segmentation import detect_vocal_activity

RATE = 16000


def _burst(level: float, seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * 330 * t)).astype(np.float32)


def _song(vocal_level: float) -> tuple[np.ndarray, np.ndarray]:
    """10 s: a 3-s vocal burst at 3-6 s over a steady accompaniment at 0.3 RMS-ish."""
    vocals = np.zeros(10 * RATE, dtype=np.float32)
    vocals[3 * RATE : 6 * RATE] = _burst(vocal_level)
    rng = np.random.default_rng(0)
    mix = (0.3 * rng.standard_normal(10 * RATE)).astype(np.float32) + vocals
    return vocals, mix


def test_the_floor_drops_bleed_and_keeps_a_singer():
    singer, mix = _song(0.3)
    sung = detect_vocal_activity(singer, VadOptions(), mix)
    assert len(sung.segments) == 1 and sung.vocal_level_db > -10
    bleed, mix = _song(0.3 * 10 ** (-50 / 20))  # 50 dB below: an instrumental's leftovers
    assert detect_vocal_activity(bleed, VadOptions()).segments  # relative thresholds alone
    floored = detect_vocal_activity(bleed, VadOptions(), mix)
    assert floored.segments == () and floored.floored_seconds > 2
    unfloored = detect_vocal_activity(bleed, VadOptions(floor_db=None), mix)
    assert unfloored.segments and unfloored.vocal_level_db < -40


def _window(no_speech: float) -> WindowTranscript:
    return WindowTranscript(0.0, 5.0, "la", 0.0, -0.3, no_speech, 1.0, False)


def test_verdict_rules():
    singer, mix = _song(0.3)
    activity = detect_vocal_activity(singer, VadOptions(), mix)
    line = LyricLine(3.0, 6.0, "la la", 0, (Word(" la", 3.0, 4.0, 0.9), Word(" la", 4.0, 5.0, 0.5)))
    assert line.confidence == pytest.approx(0.7)
    assert LyricLine(0.0, 1.0, "untimed").confidence is None
    assert vocals_verdict(activity, (_window(0.01),), (line,)).vocals == "yes"
    doubtful = vocals_verdict(activity, (_window(0.9),), (line,))
    assert doubtful.vocals == "uncertain" and "no-speech" in doubtful.reason
    assert vocals_verdict(activity, (_window(0.01),), ()).vocals == "no"
    silent = detect_vocal_activity(np.zeros(5 * RATE, dtype=np.float32), VadOptions(), mix)
    assert vocals_verdict(silent, (), ()).vocals == "no"
    assert vocals_verdict(None, (), (line,)).vocals == "uncertain"


@pytest.mark.slow
def test_noise_silence_and_an_instrumental_give_empty_lyrics_fast(tmp_path, session_cache):
    from tests.synthetic import nobody_sings

    files = nobody_sings(tmp_path / "in", seconds=60.0)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    seconds = {}
    for name, path in files.items():
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "alt_cli.cli", "transcribe", str(path),
                               "-o", str(tmp_path / "out"), "--model", "tiny.en",
                               "--separator", "spleeter", "--cache-dir", str(session_cache),
                               "-f", "txt,json"], capture_output=True, text=True, env=env,
                              check=False)
        seconds[name] = time.perf_counter() - started
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "out" / f"{name}.txt").read_text(encoding="utf-8") == ""
        document = json.loads((tmp_path / "out" / f"{name}.json").read_text(encoding="utf-8"))
        assert document["vocals"]["vocals"] == "no", document["vocals"]
        assert any("no vocals found" in note for note in document["notes"])
        assert "note: no vocals found" in proc.stderr
    print(f"\nnobody sings, seconds per 60-s file: {seconds}")
    # Whisper never runs where nobody sings: about the silent file's time (model load and
    # separation dominate; a margin for a busy CI machine).
    assert seconds["noise"] < 1.5 * seconds["silence"] + 5
    assert seconds["instrumental"] < 1.5 * seconds["silence"] + 5


def test_guessed_lines_are_dropped_only_where_the_voice_is_in_doubt():
    from alt_cli.pipeline import drop_guesses
    from alt_cli.schema import VocalsVerdict

    guess = LyricLine(1.0, 2.0, "check.", 0, (Word(" check.", 1.0, 2.0, 0.0004),))
    sung = LyricLine(3.0, 5.0, "la la", 0, (Word(" la", 3.0, 4.0, 0.6), Word(" la", 4, 5, 0.4)))
    untimed = LyricLine(6.0, 7.0, "no words")
    doubt = VocalsVerdict("uncertain", "Whisper's no-speech probability 0.67", 3.2, -17.0, 0.67)
    assert drop_guesses((guess, sung, untimed), doubt) == ((sung, untimed), 1)
    clear = VocalsVerdict("yes", "separated vocals with recognised words", 90.0, -3.0, 0.1)
    assert drop_guesses((guess, sung), clear) == ((guess, sung), 0)
