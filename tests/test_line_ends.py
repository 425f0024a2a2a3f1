"""A line never ends on a pickup word (article, preposition, conjunction, clitic)."""

from __future__ import annotations

from alt_cli.layout.pickups import move_pickups
from alt_cli.options import LayoutOptions
from alt_cli.schema import LyricLine, Word
from tests.layout_helpers import layout_lines


def _line(text: str, start: float, step: float = 0.4) -> LyricLine:
    words = tuple(Word((" " if i else "") + token, start + i * step, start + i * step + 0.3)
                  for i, token in enumerate(text.split()))
    return LyricLine(words[0].start, words[-1].end, text, 0, words)


def test_a_line_ending_on_pickups_hands_them_to_the_next_line():
    lines = [_line("Soy un fantasma que se", 0.0), _line("Asusta de sí mismo", 2.2)]
    moved = move_pickups(lines, "es")
    # One word moves, the syllable or two before the downbeat ("que" may end a line).
    assert [line.text for line in moved] == ["Soy un fantasma que", "se asusta de sí mismo"]
    assert moved[1].start == lines[0].words[4].start  # the line starts with its pickup
    assert [w.text.strip() for w in moved[1].words][:2] == ["se", "Asusta"]
    kept = [_line("No te", 0.0), _line("Cesas muy extraño", 1.5)]
    assert move_pickups(kept, "es", min_words=2) == kept  # "No" alone would be a line


def test_content_words_questions_far_lines_and_unknown_languages_stay():
    far = [_line("Je trouve plus les clés de", 0.0), _line("ma bagnole", 6.0)]
    assert move_pickups(far, "fr") == far  # the next line starts over a bar later
    ending = [_line("Je cherche toujours", 0.0), _line("de bonne humeur", 1.6)]
    assert move_pickups(ending, "fr") == ending
    duet = [_line("It was you and I", 0.0), _line("Under the stars", 2.2)]
    assert move_pickups(duet, "en") == duet  # "I" ends a phrase: not a pickup
    question = [_line("Qui, qui ?", 0.0), _line("Pas moi", 1.5)]
    assert move_pickups(question, "fr") == question
    assert move_pickups([_line("auf der Straße und", 0.0), _line("weiter", 2.0)], "xx") == [
        _line("auf der Straße und", 0.0), _line("weiter", 2.0)]


def test_a_line_of_pickups_alone_joins_the_next_and_english_i_keeps_its_capital():
    lines = [_line("Au", 0.0), _line("Revoir mon ami", 0.8)]
    assert [line.text for line in move_pickups(lines, "fr")] == ["Au revoir mon ami"]
    english = [_line("I will be there and", 0.0), _line("I know the way", 2.2)]
    assert [line.text for line in move_pickups(english, "en")] == [
        "I will be there", "and I know the way"]
    assert move_pickups([_line("Take me up", 0.0), _line("There", 1.4)], "en")[0].text == (
        "Take me up")  # a verb particle ends a phrase


def test_layout_moves_pickups_by_default_and_not_when_turned_off():
    raw = [_line("On me la joue de", 0.0), _line("Bonheur toute la nuit", 2.2)]
    on = layout_lines(raw, language="fr")
    off = layout_lines(raw, options=LayoutOptions(line_pickups=False), language="fr")
    assert [line.text for line in on] == ["On me la joue", "De bonheur toute la nuit"]
    assert [line.text for line in off] == ["On me la joue de", "Bonheur toute la nuit"]
