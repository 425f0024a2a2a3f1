"""Whisper base on a real French Jam-ALT song: lyrics come out French and are scored with the
official metrics (printed in the test log; the numbers live in the README, not in asserts)."""

from __future__ import annotations

import csv

import pytest

from alt_cli.bench.scoring import score_lyrics
from alt_cli.formats import render_txt
from alt_cli.options import SeparatorOptions, TranscribeOptions
from alt_cli.pipeline import Transcriber
from tests.conftest import DEV_DATA

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DEV_DATA.is_dir(), reason="../shared/jam-alt-dev is not present"),
]
SONG = "Mes_Larmes_-_kobzx2z"  # French hip-hop, 159 s


def test_base_transcribes_french_song(session_cache, capsys):
    with open(DEV_DATA / "metadata.csv", encoding="utf-8") as handle:
        language = {row["name"]: row["language"] for row in csv.DictReader(handle)}[SONG]
    options = TranscribeOptions(model="base", separation=SeparatorOptions(separator="spleeter"),
                                cache_dir=session_cache)
    song = Transcriber(options).transcribe(DEV_DATA / "audio" / f"{SONG}.mp3")
    hypothesis = render_txt(song.lines)
    reference = (DEV_DATA / "lyrics" / f"{SONG}.txt").read_text(encoding="utf-8")
    metrics = score_lyrics([reference], [hypothesis], language)
    with capsys.disabled():
        print(f"\n{SONG}: detected {song.language}, {len(song.lines)} lines, "
              f"alt-eval WER {100 * metrics['WER']:.1f} %, line-break F1 "
              f"{metrics['F1_line']:.2f}, {song.timings['total']:.0f} s")
    assert song.language == language == "fr"
    assert len(song.lines) >= 10
    # Real French words from the reference must be recognised (not a loop, not English).
    french = {"je", "les", "larmes", "dans", "tête", "mes"}
    assert len(french & set(hypothesis.lower().split())) >= 4
    assert metrics["WER"] < 0.9
