"""Which window each of the user's words is sung in (the part of `alt align` that decides where
a repeated chorus goes)."""

from alt_cli.alignment import assign_windows


def test_words_go_where_they_were_heard():
    assert assign_windows("a b c d e f".split(), [["a", "b", "c"], ["d", "e", "f"]]) == \
        [0, 0, 0, 1, 1, 1]


def test_a_chorus_sung_twice_keeps_one_copy_per_window():
    user = "la la la x y la la la z".split()
    heard = [["la", "la", "la", "x", "y"], ["la", "la", "la", "z"]]
    assert assign_windows(user, heard) == [0, 0, 0, 0, 0, 1, 1, 1, 1]


def test_a_copy_heard_once_still_fills_the_window_it_was_sung_in():
    # The second chorus was not heard, but window 0 was heard to hold twice its words.
    user = "oh my love oh my love end".split()
    heard = [["oh", "my", "love", "uh", "uh", "ah"], ["end"]]
    assert assign_windows(user, heard) == [0, 0, 0, 0, 0, 0, 1]


def test_empty_windows_and_no_windows():
    assert assign_windows(["a", "b"], [[], ["a", "b"], []]) == [1, 1]
    assert assign_windows(["a"], []) == [0]
