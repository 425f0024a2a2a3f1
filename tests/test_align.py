"""`alt align`: the user's lyrics placed on the audio; unit cases for the word matching, and the
real tiny.en + Spleeter on the bundled example song."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from alt_cli.alignment import match_words, read_lyrics, spread_to_windows
from alt_cli.errors import AltError
from alt_cli.word_matching import HeardWord, match_in_time, unheard_slots
from tests.conftest import EXAMPLE_LINE
from tests.lyrics_files import parse_lrc


def test_lyrics_are_read_as_written(tmp_path):
    path = tmp_path / "song.txt"
    path.write_text("\ufeffFirst line, here\nSecond (ooh)\n\n\nChorus line!\n", encoding="utf-8")
    lines = read_lyrics(path)
    assert [line.text for line in lines] == ["First line, here", "Second (ooh)", "Chorus line!"]
    assert [line.section for line in lines] == [0, 0, 1]
    assert lines[0].words == ("First", "line,", "here")
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    with pytest.raises(AltError, match="no lyrics"):
        read_lyrics(tmp_path / "empty.txt")


def test_words_match_through_case_accents_and_punctuation():
    user = ["Qué", "bonito,", "es", "el", "MAR", "azul"]
    heard = ["que", "bonito", "el", "mar", "azur"]
    pairs, equal = match_words(user, heard)
    assert pairs[0] == 0 and pairs[1] == 1 and pairs[4] == 3
    assert pairs[2] is None  # "es" was not heard
    assert pairs[5] == 4 and equal == 4  # "azul"/"azur" pair up but are not equal


def test_unheard_words_follow_their_nearest_heard_neighbour():
    assert spread_to_windows([0, None, None, 1, None]) == [0, 0, 1, 1, 1]
    assert spread_to_windows([None, 2, None]) == [2, 2, 2]
    assert spread_to_windows([None, None]) == [0, 0]


def _heard(words: str, start: float, step: float, window: int = 0) -> list[HeardWord]:
    return [HeardWord(w, start + k * step, start + (k + 1) * step - 0.05, window)
            for k, w in enumerate(words.split())]


def test_a_chorus_heard_once_lands_where_there_is_time_to_sing_it():
    # Written twice, heard once: the first pass heard only the second chorus (10-11.5 s); the
    # 8.5 s before it were sung but not transcribed.
    user = "walk on by chorus line here chorus line here we go".split()
    heard = _heard("walk on by", 0.0, 0.5) + _heard("chorus line here", 10.0, 0.5) + _heard(
        "we go", 12.0, 0.5)
    plain, _ = match_words(user, [w.text for w in heard])
    assert plain[3] == 3  # the plain alignment pairs the heard copy with the first one
    matches = match_in_time(user, heard, [(0.0, 13.0)])
    assert [m.heard for m in matches[6:9]] == [3, 4, 5]  # heard copy = second copy
    first_copy = matches[3:6]
    assert all(m is not None and m.heard is None for m in first_copy)  # unheard time
    assert all(1.5 <= m.time <= 10.0 for m in first_copy)
    assert [m.time for m in first_copy] == sorted(m.time for m in first_copy)
    assert matches[9].equals("We", heard) and matches[10].equals("go!", heard)


def test_without_unheard_time_the_alignment_is_the_plain_one():
    # Back-to-back words leave no slot, so the time-aware matcher pairs as jiwer does.
    user = "one two three four five".split()
    heard = _heard("one two tree five", 0.0, 0.4)
    assert unheard_slots(heard, [(0.0, 1.6)]) == []
    matches = match_in_time(user, heard, [(0.0, 1.6)])
    plain, _ = match_words(user, [w.text for w in heard])
    assert [m.heard if m else None for m in matches] == plain


def test_words_that_were_heard_pair_with_themselves_whatever_surrounds_them():
    # A heard phrase in the middle of the song, an invented line after it: pairing the words
    # one to one from the start (all cheap near-misses) must lose to pairing the equal ones.
    user = "time stands still an invented line that nobody sings here".split()
    heard = _heard("it always seems like time stands still when I'm with you", 2.0, 0.6)
    matches = match_in_time(user, heard, [(2.0, 9.0)])
    assert [m.heard for m in matches[:3]] == [4, 5, 6]
    assert not any(m is not None and m.resembles(word, heard)
                   for word, m in zip(user[3:], matches[3:], strict=True))
    finis = [HeardWord("finit", 0.0, 0.3, 0)]
    assert match_in_time(["finis"], finis, [(0.0, 0.3)])[0].resembles("finis", finis)


def test_past_the_size_limit_the_plain_alignment_decides(monkeypatch):
    import alt_cli.word_matching as word_matching

    user = "walk on by chorus line here chorus line here we go".split()
    heard = _heard("walk on by", 0.0, 0.5) + _heard("chorus line here", 10.0, 0.5)
    monkeypatch.setattr(word_matching, "MAX_CELLS", 10)
    plain, _ = match_words(user, [w.text for w in heard])
    assert [m.heard if m else None for m in match_in_time(user, heard, [(0.0, 13.0)])] == plain


def test_words_sung_in_a_later_window_get_that_window():
    user = "a b c d e f".split()
    heard = _heard("a b c", 0.0, 0.4, window=0) + _heard("e f", 20.0, 0.4, window=1)
    spans = [(0.0, 1.2), (19.0, 21.0)]  # window 1 has a second of unheard time before "e"
    windows = [m.window if m else None for m in match_in_time(user, heard, spans)]
    assert windows == [0, 0, 0, 1, 1, 1]


def _align(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "alt_cli.cli", "align", *args],
                          capture_output=True, text=True, check=False, env=env)


@pytest.fixture()
def song(tmp_path, example_song):
    path = tmp_path / "example.mp3"
    shutil.copy(example_song, path)
    return path


def _common(cache) -> list[str]:
    return ["--model", "tiny.en", "--separator", "spleeter", "--cache-dir", str(cache)]


@pytest.mark.slow
def test_known_line_is_placed_in_order_inside_the_sung_span(song, session_cache):
    lyrics = song.with_suffix(".txt")
    lyrics.write_text("It always seems like time stands still\nwhen I'm with you\n",
                      encoding="utf-8")
    proc = _align(str(song), *_common(session_cache), "-f", "elrc,ass,srt,json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(song.with_suffix(".json").read_text(encoding="utf-8"))
    words = [w for line in document["lines"] for w in line["words"]]
    assert [w["text"].strip() for w in words] == EXAMPLE_LINE.split()
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and 0.5 < starts[0] < 4.0 and starts[-1] < 10.9
    assert [line["text"] for line in document["lines"]] == [
        "It always seems like time stands still", "when I'm with you"]  # as written
    lrc = song.with_suffix(".lrc").read_text(encoding="utf-8")
    timed = [row for row in lrc.splitlines() if re.match(r"^\[\d{2}:\d{2}\.\d{2}\]", row)]
    assert len(timed) == 2 and all(re.fullmatch(
        r"\[\d{2}:\d{2}\.\d{2}\](?:<\d{2}:\d{2}\.\d{2}>[^<]+ )+<\d{2}:\d{2}\.\d{2}>", row)
        for row in timed)
    assert [t for t, _ in parse_lrc(lrc)] == sorted(t for t, _ in parse_lrc(lrc))
    import pysubs2

    subs = pysubs2.load(str(song.with_suffix(".ass")))
    assert [event.plaintext for event in subs] == [
        "It always seems like time stands still", "when I'm with you"]
    assert lyrics.read_text(encoding="utf-8").startswith("It always")  # the input untouched


@pytest.mark.slow
def test_other_songs_lyrics_are_refused_and_invented_lines_reported(song, tmp_path,
                                                                    session_cache):
    other = tmp_path / "other.txt"
    other.write_text("Dans la nuit noire je marche seul\nPersonne ne répond à mes cris\n"
                     "Les pavés mouillés brillent encore\n", encoding="utf-8")
    refused = _align(str(song), str(other), *_common(session_cache))
    assert refused.returncode == 1
    assert "do not seem to belong to this song" in refused.stderr and "--force" in refused.stderr
    assert not song.with_suffix(".lrc").exists()

    extra = tmp_path / "extra.txt"
    extra.write_text("It always seems like time stands still when I'm with you\n"
                     "Purple elephants dance on frozen volcanoes tonight\n", encoding="utf-8")
    proc = _align(str(song), str(extra), *_common(session_cache))
    assert proc.returncode == 0, proc.stderr
    assert "line 2 ('Purple elephants dance on frozen volcanoes tonight') was not heard" \
        in proc.stderr
    document = json.loads(song.with_suffix(".json").read_text(encoding="utf-8"))
    assert len(document["lines"]) == 2  # reported, never dropped


@pytest.mark.slow
def test_a_folder_pairs_songs_with_their_lyrics(tmp_path, example_song, session_cache):
    music = tmp_path / "music"
    music.mkdir()
    shutil.copy(example_song, music / "with.mp3")
    shutil.copy(example_song, music / "without.mp3")
    (music / "with.txt").write_text(EXAMPLE_LINE + "\n", encoding="utf-8")
    report = tmp_path / "report.jsonl"
    proc = _align(str(music), *_common(session_cache), "--report", str(report))
    assert proc.returncode == 3, proc.stderr
    assert "without.mp3: no lyrics to align" in proc.stderr
    assert (music / "with.lrc").is_file() and not (music / "without.lrc").exists()
    rows = {json.loads(line)["file"].rsplit("/", 1)[1]: json.loads(line)["status"]
            for line in report.read_text(encoding="utf-8").splitlines()}
    assert rows == {"with.mp3": "done", "without.mp3": "failed"}
    again = _align(str(music / "with.mp3"), *_common(session_cache))
    assert again.returncode == 0 and "skipped, done with these settings" in again.stderr
    (music / "with.txt").write_text(EXAMPLE_LINE.upper() + "\n", encoding="utf-8")
    edited = _align(str(music / "with.mp3"), *_common(session_cache))
    assert edited.returncode == 0 and "redo (made with other settings)" in edited.stderr
