"""Lyrics layout and file formats: written, parsed back, atomic."""

import os
import re

import pytest

from alt_cli.fileio import atomic_write, atomic_write_text
from alt_cli.formats import render_lrc, render_srt, render_txt, render_vtt
from alt_cli.karaoke import render_ass, render_elrc
from alt_cli.layout.cleaning import clean_text
from alt_cli.layout.phrasing import split_at_rests
from alt_cli.layout.sections import assign_sections
from alt_cli.options import LayoutOptions
from alt_cli.schema import LyricLine, Word
from tests.layout_helpers import layout_lines
from tests.lyrics_files import parse_cues, parse_lrc

LINES = [
    LyricLine(1.0, 3.5, "Je marche seul", 0),
    LyricLine(3.6, 6.04, "Dans la nuit", 0),
    LyricLine(12.347, 15.0, "¿Dónde estás?", 1),
    LyricLine(3601.2, 3603.0, "Late line", 1),
]


def test_txt_has_blank_line_between_sections_and_no_times():
    assert render_txt(LINES) == (
        "Je marche seul\nDans la nuit\n\n¿Dónde estás?\nLate line\n"
    )
    assert render_txt([]) == ""


def test_lrc_round_trip_and_header():
    text = render_lrc(LINES, title="Mes Larmes", artist="kobzx2z", length=185.4)
    assert text.splitlines()[:3] == ["[ti:Mes Larmes]", "[ar:kobzx2z]", "[length:03:05]"]
    assert "[00:12.35]¿Dónde estás?" in text
    parsed = parse_lrc(text)
    assert [t for _, t in parsed] == [line.text for line in LINES]
    for (start, _), line in zip(parsed, LINES, strict=True):
        assert start == pytest.approx(line.start, abs=0.005)


def test_lrc_without_tags_still_has_length():
    text = render_lrc(LINES[:1], title=None, artist=None, length=59.6)
    assert text.startswith("[length:01:00]\n")


@pytest.mark.parametrize("render", [render_srt, render_vtt])
def test_cue_formats_round_trip(render):
    cues = parse_cues(render(LINES))
    assert len(cues) == len(LINES)
    for (start, end, text), line in zip(cues, LINES, strict=True):
        assert start == pytest.approx(line.start, abs=0.0005)
        assert end == pytest.approx(line.end, abs=0.0005)
        assert text == line.text


def test_srt_numbering_and_clock_format():
    srt = render_srt(LINES)
    assert srt.startswith("1\n00:00:01,000 --> 00:00:03,500\nJe marche seul\n")
    assert "4\n01:00:01,200 --> 01:00:03,000\nLate line" in srt
    assert render_vtt(LINES).startswith("WEBVTT\n\n00:00:01.000 --> 00:00:03.500\n")


def test_atomic_write_replaces_whole_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "song.txt"
    atomic_write_text(target, "first\n")
    atomic_write_text(target, "second\n")
    assert target.read_text(encoding="utf-8") == "second\n"
    assert os.listdir(target.parent) == ["song.txt"]


def test_atomic_write_failure_keeps_old_file(tmp_path):
    target = tmp_path / "song.txt"
    atomic_write_text(target, "old\n")
    def dies_half_way(handle):
        handle.write(b"half of the new")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(target, dies_half_way)
    assert target.read_text(encoding="utf-8") == "old\n"
    assert os.listdir(tmp_path) == ["song.txt"]


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("[Music]", ""),
        ("♪ Je t'aime ♪", "Je t'aime"),
        ("Sous-titrage Société Radio-Canada", ""),
        ("Subtitles by the Amara.org community", ""),
        ("(Musique)", ""),
        ("Music is my life", "Music is my life"),
        ("  two   spaces ", "two spaces"),
    ],
)
def test_clean_text(raw, cleaned):
    assert clean_text(raw) == cleaned


def _words(*spec):
    return tuple(Word(text, start, end) for text, start, end in spec)


def test_split_at_vocal_rest_between_words():
    line = LyricLine(0.0, 6.0, "one two three four", 0,
                     _words((" one", 0.0, 0.5), (" two", 0.6, 1.0), (" three", 4.0, 4.5),
                            (" four", 4.6, 6.0)))
    pieces = split_at_rests(line, [(1.2, 3.8)])
    assert [p.text for p in pieces] == ["one two", "three four"]
    assert (pieces[1].start, pieces[1].end) == (4.0, 6.0)
    assert split_at_rests(line, [(7.0, 9.0)]) == [line]


def test_sections_open_after_long_rest_and_junk_is_dropped():
    raw = [
        LyricLine(10.0, 12.0, "second line", 0),
        LyricLine(0.0, 2.0, "first line", 0),
        LyricLine(12.5, 13.0, "[Music]", 0),
        LyricLine(20.0, 22.0, "new section", 0),
    ]
    lines = layout_lines(raw, options=LayoutOptions(section_gap=4.0, line_capitals=False))
    assert [(line.text, line.section) for line in lines] == [
        ("first line", 0), ("second line", 1), ("new section", 2)
    ]
    assert [line.section for line in assign_sections(lines, section_gap=100)] == [0, 0, 0]


KARAOKE = [
    LyricLine(12.0, 14.0, "Some words here", 0, (
        Word(" Some", 12.0, 12.5, 0.9), Word(" words", 12.6, 13.1, 0.8),
        Word(" here", 13.4, 14.0, 0.7))),
    LyricLine(20.0, 21.5, "untimed line", 1),
]
_ELRC_LINE = re.compile(r"^\[(\d{2}:\d{2}\.\d{2})\]((?:<\d{2}:\d{2}\.\d{2}>[^<]+ )+)"
                        r"<(\d{2}:\d{2}\.\d{2})>$")


def test_enhanced_lrc_has_a_tag_per_word_and_the_line_end():
    text = render_elrc(KARAOKE, ["[ti:Song]", "[re:alt]"])
    rows = text.splitlines()
    assert rows[:2] == ["[ti:Song]", "[re:alt]"]
    match = _ELRC_LINE.match(rows[2])
    assert match, rows[2]
    assert match[1] == "00:12.00" and match[3] == "00:14.00"
    tags = re.findall(r"<(\d{2}:\d{2}\.\d{2})>([^<]*)", match[2])
    assert tags == [("00:12.00", "Some "), ("00:12.60", "words "), ("00:13.40", "here ")]
    assert rows[3] == "[00:20.00]untimed line"  # no word times: a plain LRC line
    assert [start for start, _ in parse_lrc(text)] == [12.0, 20.0]


def test_ass_karaoke_parses_back_with_one_event_per_line():
    import pysubs2

    subs = pysubs2.SSAFile.from_string(render_ass(KARAOKE, title="Song"))
    assert len(subs) == 2 and subs.info["Title"] == "Song"
    first = subs[0]
    assert (first.start, first.end) == (12000, 14000)
    ks = [int(k) for k in re.findall(r"\\k(\d+)", first.text)]
    assert ks == [50, 10, 50, 30, 60]  # word, gap, word, gap, word (centiseconds)
    assert sum(ks) == 200 and first.plaintext == "Some words here"
    assert re.fullmatch(r"\{\\k150\}untimed line", subs[1].text)


def test_cue_text_is_escaped():
    line = [LyricLine(1.0, 2.0, "Rock & roll <3 --> forever", 0)]
    vtt = render_vtt(line)
    assert "Rock &amp; roll &lt;3 -&gt; forever" in vtt and vtt.count("-->") == 1
    assert render_srt(line).count("-->") == 1
