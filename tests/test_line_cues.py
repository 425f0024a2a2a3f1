"""Whisper's punctuation as a line cue where the song shows it is one; repeated passages keep
their renditions' majority layout; a short line ending on a pickup joins the next one."""

from __future__ import annotations

import numpy as np
import pytest

from alt_cli.layout import VoiceEnvelope
from alt_cli.layout.phrasing import line_period
from alt_cli.layout.pickups import join_pickup_lines
from alt_cli.layout.punctuation import punctuation_likelihood_ratio, split_at_punctuation
from alt_cli.layout.repeats import repeat_layout
from alt_cli.options import LayoutOptions
from alt_cli.schema import LyricLine, Word
from tests.layout_helpers import layout_lines


def sung(text: str, start: float, step: float = 0.3) -> LyricLine:
    """A line with one 0.25-s word every ``step`` seconds, each with Whisper's leading space."""
    words = tuple(Word(" " + token, start + i * step, start + i * step + 0.25)
                  for i, token in enumerate(text.split()))
    return LyricLine(words[0].start, words[-1].end, text, 0, words)


def texts(lines) -> list[str]:
    return [line.text for line in lines]


def song(lines: list[str], rest: float = 0.3) -> list[LyricLine]:
    """Lines sung one after the other, ``rest`` seconds apart."""
    result: list[LyricLine] = []
    for text in lines:
        result.append(sung(text, result[-1].end + rest if result else 0.0))
    return result


# Whisper closes phrases with commas here: 4 of the 5 known line ends carry one, no comma
# inside the short lines; the long line (10 words, 2.95 s: over the song's 2.35-s line
# spacing) holds two.
MARKED = ["Tu mets la haine dans ce cœur,", "J'en remets dans la coupe,",
          "Rien ne peut m'éclaircir,", "J'ai mis des pansements sur nos peurs,",
          "Mais pas sur nos pleurs, comment puis-je encore m'investir ici", "Et voilà tout"]


def test_punctuation_splits_long_lines_where_the_song_marks_its_line_ends_with_it():
    lines = song(MARKED)
    assert punctuation_likelihood_ratio(lines) > 5
    split = split_at_punctuation(lines, period=2.0, min_words=2)
    assert texts(split)[4:6] == ["Mais pas sur nos pleurs,",
                                 "comment puis-je encore m'investir ici"]
    assert split[5].start == lines[4].words[5].start
    assert len(split) == len(lines) + 1
    # A line within one period holds one sung line; no period, no measurable pace: unchanged.
    assert split_at_punctuation(lines, period=4.0, min_words=2) == lines
    assert split_at_punctuation(lines, period=None, min_words=2) == lines
    # A piece never falls under min_words ("pleurs," is the 5th of 10 words).
    assert split_at_punctuation(lines, period=2.0, min_words=6) == lines


def test_punctuation_is_no_cue_where_whisper_scatters_it():
    scattered = ["Un coup, c'est la guerre", "Un coup, c'est la fête", "Je sais, tu sais",
                 "Mais pas sur nos pleurs, comment puis-je encore m'investir ici", "Fin, fin"]
    lines = song(scattered)
    assert punctuation_likelihood_ratio(lines) < 1  # commas inside lines, none at their ends
    assert split_at_punctuation(lines, period=2.0, min_words=2) == lines


def test_a_passage_split_in_one_rendition_is_split_in_a_tie():
    first = ["Et j'ai plus quoi faire maintenant", "Que t'es partie",
             "Je pense à avant j'attends seulement que tu reviennes"]
    second = ["Et j'ai plus quoi faire maintenant que t'es partie", "Je pense à avant",
              "J'attends seulement que tu reviennes"]
    lines = song(first + ["Un pont au milieu de la chanson"] + second)
    laid = repeat_layout(lines, min_words=2)
    assert texts(laid) == [*first[:2], "Je pense à avant", "j'attends seulement que tu reviennes",
                           "Un pont au milieu de la chanson",
                           "Et j'ai plus quoi faire maintenant", "que t'es partie", *second[1:]]
    assert laid[3].words[0] is lines[2].words[4]  # the split falls between the same words


def test_the_majority_of_renditions_decides_and_lookalike_halves_do_not_count():
    chorus = "DJ ponga el perreo todo el mundo puesto pa guayeteo"
    lines = song([chorus, "Las gatas piden perreo", chorus, "Las gatas piden perreo",
                  "DJ ponga el perreo", "Todo el mundo puesto pa guayeteo", chorus])
    laid = repeat_layout(lines, min_words=2)
    # Three renditions sing it as one line, one as two: that one is joined, none split.
    assert texts(laid)[4] == "DJ ponga el perreo todo el mundo puesto pa guayeteo"
    assert len(laid) == len(lines) - 1
    # A line that is only the first half of another is not a rendition of it.
    halves = song(["Et j'ai plus quoi faire maintenant", "Que des regrets",
                   "Et j'ai plus quoi faire maintenant que des regrets"])
    assert len(repeat_layout(halves, min_words=2)) == 4
    # Two lines with a bar's rest between them stay two, whatever the other renditions do.
    apart = song([chorus, chorus, "DJ ponga el perreo"]) + song(
        ["Todo el mundo puesto pa guayeteo"])
    apart[3] = sung(apart[3].text, apart[2].end + 2.0)
    assert len(repeat_layout(apart, min_words=2)) == 4
    lone = song(["Et j'ai plus quoi faire maintenant", "Que des regrets", "Rien d'autre ici"])
    assert repeat_layout(lone, min_words=2) == lone


def test_a_short_line_ending_on_a_pickup_joins_the_next_line():
    lines = [sung("Non, je", 0.0), sung("Voulais pas te mentir", 0.7)]
    assert texts(join_pickup_lines(lines, "fr", min_words=2)) == [
        "Non, je voulais pas te mentir"]
    far = [sung("Non, je", 0.0), sung("Voulais pas te mentir", 5.0)]
    assert join_pickup_lines(far, "fr", min_words=2) == far  # over a bar apart
    content = [sung("Non, merci", 0.0), sung("Voulais pas te mentir", 0.7)]
    assert join_pickup_lines(content, "fr", min_words=2) == content
    assert join_pickup_lines(lines, "xx", min_words=2) == lines  # no word list: as it is


def test_layout_runs_the_three_levers_by_default_and_each_turns_off():
    lines = song(MARKED)
    assert line_period(lines) == pytest.approx(2.35)
    steady = VoiceEnvelope(np.full(1000, 0.8, dtype=np.float32), 0.02, quiet=0.1)
    off = LayoutOptions(line_punctuation=False, line_repeats=False, pickup_joins=False)
    assert texts(layout_lines(lines, language="fr", voice=steady))[4:6] == [
        "Mais pas sur nos pleurs,", "Comment puis-je encore m'investir ici"]
    assert len(layout_lines(lines, language="fr")) == len(lines)  # no envelope: no period
    assert texts(layout_lines(lines, options=off, language="fr", voice=steady)) == MARKED
    joined = [sung("Non, je", 0.0), sung("Voulais pas te mentir", 0.7)]
    assert texts(layout_lines(joined, language="fr")) == ["Non, je voulais pas te mentir"]
    assert texts(layout_lines(joined, options=off, language="fr")) == [
        "Non, je", "Voulais pas te mentir"]


def test_pickups_move_first_and_only_a_line_still_ending_on_one_joins():
    # "de" moves on, making "de acuerdo La" three words: its "La" can move on in turn, so
    # nothing is joined (joining "acuerdo La" first would glue the phrase "crisis" to it).
    lines = song(["Y palpita en el de", "acuerdo La", "crisis es muy extraña"])
    assert texts(layout_lines(lines, language="es")) == [
        "Y palpita en el", "De acuerdo", "La crisis es muy extraña"]
