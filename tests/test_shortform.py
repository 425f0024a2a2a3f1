"""The short-form task built from line timings: each step on hand-worked timings, then the
whole pipeline and the CSV reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from alt_cli.bench.shortform import (
    MAX_ITEM,
    ShortForm,
    ShortItem,
    TimedLine,
    drop_long,
    group_items,
    merge_overlapping,
    pad_items,
    read_line_timings,
    short_form_items,
    strip_tags,
)
from alt_cli.errors import AltError

DEV_TIMINGS = Path(__file__).resolve().parents[1].parent / "shared" / "jam-alt-dev" / "line_timings"


def item(start: float, end: float, text: str = "x", index: int = 0) -> ShortItem:
    return ShortItem(start, end, text, (index,))


def spans(items) -> list[tuple[float, float]]:
    return [(pytest.approx(it.start), pytest.approx(it.end)) for it in items]


# --- drop ---------------------------------------------------------------------------------


def test_drop_removes_lines_over_30_s_and_keeps_exactly_30():
    lines = [TimedLine(0.0, 30.5, "too long"), TimedLine(40.0, 70.0, "exactly 30"),
             TimedLine(31.0, 33.0, "short")]
    kept = drop_long(lines)
    # sorted by time; indices point into the input list
    assert [(it.text, it.line_indices) for it in kept] == [("short", (2,)), ("exactly 30", (1,))]


def test_drop_tolerates_rounding_of_two_decimal_times():
    # 44.57 - 14.57 is 30.000000000000004 in floats: still a 30.00 s line
    assert len(drop_long([TimedLine(14.57, 44.57, "a")])) == 1


# --- merge --------------------------------------------------------------------------------


def test_overlap_of_025_merges_and_015_does_not():
    merged = merge_overlapping([item(10.0, 12.0, "a", 0), item(11.75, 14.0, "b", 1)])
    assert merged == [ShortItem(10.0, 14.0, "a\nb", (0, 1))]
    apart = merge_overlapping([item(10.0, 12.0, "a", 0), item(11.85, 14.0, "b", 1)])
    assert [it.line_indices for it in apart] == [(0,), (1,)]


def test_overlap_of_exactly_02_does_not_merge():
    # 14.56 - 14.36 is 0.20000000000000107 in floats: "more than 0.2" must not see it
    apart = merge_overlapping([item(10.0, 14.56, "a", 0), item(14.36, 16.0, "b", 1)])
    assert len(apart) == 2


def test_chain_of_overlaps_merges_into_one_item_in_time_order():
    merged = merge_overlapping([item(13.0, 16.0, "c", 2), item(10.0, 12.0, "a", 0),
                                item(11.5, 13.5, "b", 1)])
    assert merged == [ShortItem(10.0, 16.0, "a\nb\nc", (0, 1, 2))]


def test_merge_that_would_exceed_30_s_is_not_made():
    apart = merge_overlapping([item(0.0, 20.0, "a", 0), item(19.0, 31.0, "b", 1)])
    assert [it.line_indices for it in apart] == [(0,), (1,)]


# --- pad ----------------------------------------------------------------------------------


def test_far_neighbours_give_full_half_second():
    padded = pad_items([item(10.0, 12.0), item(20.0, 22.0)])
    assert spans(padded) == [(9.5, 12.5), (19.5, 22.5)]


def test_close_neighbours_share_the_gap_and_keep_01_s_apart():
    # gap 0.6: (0.6 - 0.1) / 2 = 0.25 each, leaving 0.1 between them
    padded = pad_items([item(10.0, 12.0), item(12.6, 14.0)])
    assert spans(padded) == [(9.5, 12.25), (12.35, 14.5)]
    assert padded[1].start - padded[0].end == pytest.approx(0.1)


def test_touching_and_overlapping_neighbours_do_not_grow_toward_each_other():
    touching = pad_items([item(10.0, 12.0), item(12.0, 14.0)])
    assert spans(touching) == [(9.5, 12.0), (12.0, 14.5)]
    # overlap 0.15: not merged, and not padded on the facing sides either
    overlapping = pad_items(merge_overlapping([item(10.0, 12.0, "a", 0),
                                               item(11.85, 14.0, "b", 1)]))
    assert spans(overlapping) == [(9.5, 12.0), (11.85, 14.5)]
    # gap 0.05 (already under 0.1): nothing added, nothing taken
    close = pad_items([item(10.0, 12.0), item(12.05, 14.0)])
    assert spans(close) == [(9.5, 12.0), (12.05, 14.5)]


def test_line_nested_in_a_longer_one_blocks_only_itself():
    padded = pad_items([item(10.0, 20.0), item(12.0, 12.1)])
    assert spans(padded) == [(9.5, 20.5), (12.0, 12.1)]


def test_padding_stops_at_zero_and_at_duration():
    padded = pad_items([item(0.3, 2.0), item(10.0, 59.8 - 30.0), item(50.0, 59.8)],
                       duration=59.8 + 0.2)
    assert spans(padded) == [(0.0, 2.5), (9.5, 30.3), (49.5, 60.0)]
    at_end = pad_items([item(50.0, 61.0)], duration=60.0)  # past the audio: kept, not grown
    assert spans(at_end) == [(49.5, 61.0)]


def test_padding_never_exceeds_30_s():
    # 29.6 s: 0.4 s to share, 0.2 per side
    assert spans(pad_items([item(10.0, 39.6)])) == [(9.8, 39.8)]
    # 29.5 s with 0.1 s of room on the left: the right side takes the rest
    assert spans(pad_items([item(0.1, 29.6)])) == [(0.0, 30.0)]


# --- group --------------------------------------------------------------------------------


def assert_valid_grouping(items: list[ShortItem], groups: list[ShortItem]) -> None:
    """Every item in exactly one group, in order; every group of several items under 30 s."""
    assert [i for g in groups for i in g.line_indices] == [i for it in items
                                                           for i in it.line_indices]
    for group in groups:
        assert group.end - group.start < MAX_ITEM or len(group.line_indices) == 1


def test_gap_over_7_s_splits_groups_and_7_s_does_not():
    items = [item(0.0, 2.0, "a", 0), item(9.0, 11.0, "b", 1), item(18.5, 20.0, "c", 2)]
    groups = group_items(items)
    # 2.0 -> 9.0 is exactly 7 s (kept together), 11.0 -> 18.5 is 7.5 s (split)
    assert groups == [ShortItem(0.0, 11.0, "a\nb", (0, 1)), ShortItem(18.5, 20.0, "c", (2,))]
    assert_valid_grouping(items, groups)


def test_max_min_partition_beats_greedy_packing():
    # A 0-10, B 10.5-15, C 15.5-25, D 25.5-31.5: all four span 31.5 s, so at least two groups.
    #   greedy from the left: [A B C] 0-25 = 25 s, then [D] = 6 s          -> shortest 6 s
    #   [A] 10 s, [B C D] 10.5-31.5 = 21 s                                  -> shortest 10 s
    #   [A B] 0-15 = 15 s, [C D] 15.5-31.5 = 16 s                           -> shortest 15 s
    #   three or four groups split one of these further                     -> shortest < 10 s
    # so the optimum is [A B] [C D].
    items = [item(0.0, 10.0, "a", 0), item(10.5, 15.0, "b", 1), item(15.5, 25.0, "c", 2),
             item(25.5, 31.5, "d", 3)]
    groups = group_items(items)
    assert groups == [ShortItem(0.0, 15.0, "a\nb", (0, 1)), ShortItem(15.5, 31.5, "c\nd", (2, 3))]
    assert_valid_grouping(items, groups)


def test_ties_go_to_fewest_groups_then_to_the_longest_first_group():
    # S (2 s) cannot join T (28.5 s): together 31 s.  So the shortest group is S, 2 s, whatever
    # happens to U, V, W; any partition of them is tied on the minimum.
    s, t = item(0.0, 2.0, "s", 0), item(2.5, 31.0, "t", 1)
    # U V W span 31.5-60 = 28.5 s: one group is the fewest (rather than e.g. [U] [V W]).
    fits = [s, t, item(31.5, 40.0, "u", 2), item(40.5, 50.0, "v", 3), item(50.5, 60.0, "w", 4)]
    assert [g.line_indices for g in group_items(fits)] == [(0,), (1,), (2, 3, 4)]
    # U V W span 31.5-65 = 33.5 s: two groups either way, [U V] [W] (18.5 s, 14.5 s) or
    # [U] [V W] (8.5 s, 24.5 s); the first group ending latest wins.
    spill = fits[:4] + [item(50.5, 65.0, "w", 4)]
    groups = group_items(spill)
    assert [g.line_indices for g in groups] == [(0,), (1,), (2, 3), (4,)]
    assert_valid_grouping(spill, groups)


def test_group_of_several_items_is_strictly_under_30_s():
    # together exactly 30 s: not allowed, so two groups
    items = [item(0.0, 14.0, "a", 0), item(14.5, 30.0, "b", 1)]
    assert [g.line_indices for g in group_items(items)] == [(0,), (1,)]


def test_single_item_of_30_s_is_its_own_group():
    items = [item(0.0, 30.0, "a", 0), item(30.5, 31.0, "b", 1)]
    groups = group_items(items)
    assert [g.line_indices for g in groups] == [(0,), (1,)]
    assert_valid_grouping(items, groups)


def test_nested_item_does_not_open_a_gap_or_end_a_group_early():
    # B sits inside A; C starts 5 s after A ends (not 15 s after B ends)
    items = [item(0.0, 20.0, "a", 0), item(2.0, 3.0, "b", 1), item(25.0, 28.0, "c", 2)]
    assert group_items(items) == [ShortItem(0.0, 28.0, "a\nb\nc", (0, 1, 2))]


def test_grouping_of_many_items_is_valid_and_no_group_is_needlessly_short():
    # 40 two-second items 0.5 s apart: 99.5 s in all, no gap; greedy would leave a short tail
    items = [item(2.5 * k, 2.5 * k + 2.0, str(k), k) for k in range(40)]
    groups = group_items(items)
    assert_valid_grouping(items, groups)
    # 12 items span 29.5 s, so 4 groups are needed; 10 items each (24.5 s) is the best minimum
    assert [len(g.line_indices) for g in groups] == [10, 10, 10, 10]


# --- whole pipeline -----------------------------------------------------------------------


def test_short_form_items_runs_every_step():
    lines = [
        TimedLine(0.2, 3.0, "<nl> Ah </nl>"),  # 0
        TimedLine(2.7, 5.0, "first line"),  # 1: overlaps 0 by 0.3 s -> merged
        TimedLine(5.6, 8.0, "second, line"),  # 2: 0.6 s after -> 0.25 s each
        TimedLine(10.0, 45.0, "a very long line"),  # 3: 35 s -> dropped
        TimedLine(50.0, 59.9, "last"),  # 4: > 7 s after 2 -> its own group; clipped at 60
    ]
    form = short_form_items(lines, duration=60.0)
    assert isinstance(form, ShortForm)
    assert [it.line_indices for it in form.lines] == [(0, 1), (2,), (4,)]
    assert form.lines[0].text == "<nl> Ah </nl>\nfirst line"
    assert spans(form.lines) == [(0.0, 5.25), (5.35, 8.5), (49.5, 60.0)]
    assert [g.line_indices for g in form.groups] == [(0, 1, 2), (4,)]
    assert form.groups[0].text == "<nl> Ah </nl>\nfirst line\nsecond, line"
    assert spans(form.groups) == [(0.0, 8.5), (49.5, 60.0)]


def test_no_lines_gives_empty_levels():
    assert short_form_items([]) == ShortForm(lines=(), groups=())


@pytest.mark.skipif(not DEV_TIMINGS.is_dir(), reason="dev songs' line timings not present")
def test_dev_songs_give_valid_items():
    for path in sorted(DEV_TIMINGS.glob("*.csv")):
        lines = read_line_timings(path)
        form = short_form_items(lines, duration=max(line.end for line in lines) + 1.0)
        assert_valid_grouping(list(form.lines), list(form.groups))
        for first, second in zip(form.lines, form.lines[1:], strict=False):
            assert second.start >= first.start
        for clip in form.lines:
            assert 0.0 <= clip.start < clip.end and clip.end - clip.start <= MAX_ITEM + 1e-6


# --- tags and CSV -------------------------------------------------------------------------


def test_strip_tags_removes_tags_and_tidies_spacing_but_keeps_lines():
    assert strip_tags("Guayeteo, <nl> ah </nl> ") == "Guayeteo, ah"
    assert strip_tags("Si t'es  déjà ( <NL>ah</nl> )\n<nl> oh </nl>\n\tnext") == (
        "Si t'es déjà ( ah )\noh\nnext")
    assert strip_tags("na<nl>-na</nl>") == "na-na"
    assert strip_tags("<nl> </nl>\nwords") == "words"


def test_read_line_timings_parses_quotes_and_skips_empty_text(tmp_path):
    path = tmp_path / "song.csv"
    path.write_text(
        "start,end,text\n"
        '10.57,14.56,"<nl> Ah, na-na-na, na-na </nl>"\n'
        "14.70,16.47,J'vois pas l'intérêt\n"
        "16.50,17.00,\n"
        "\n"
        '18.19,19.45,"Guayeteo, <nl> ah </nl> "\n',
        encoding="utf-8",
    )
    assert read_line_timings(path) == [
        TimedLine(10.57, 14.56, "<nl> Ah, na-na-na, na-na </nl>"),
        TimedLine(14.70, 16.47, "J'vois pas l'intérêt"),
        TimedLine(18.19, 19.45, "Guayeteo, <nl> ah </nl>"),
    ]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("start,end,text\n1.0,2.0,a,b\n", "line 2: expected 3 fields"),
        ("start,end,text\n1.0,2.0,a\nabc,2.0,b\n", "line 3: 'abc' is not a time"),
        ("start,end,text\n3.0,2.0,a\n", "line 2: line ends (2.0) before it starts (3.0)"),
        ("start,end,text\n-1.0,2.0,a\n", "line 2: '-1.0' is not a time"),
        ("start,end,text\nnan,2.0,a\n", "line 2: 'nan' is not a time"),
        ("begin,finish,lyrics\n1.0,2.0,a\n", "expected the header"),
        ("", "expected the header"),
        ('start,end,text\n1.0,2.0,"unclosed\n', "not a readable UTF-8 CSV"),
    ],
)
def test_malformed_timings_raise_one_line_alt_error(tmp_path, content, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AltError) as raised:
        read_line_timings(path)
    assert fragment in str(raised.value)
    assert "\n" not in str(raised.value)


def test_missing_or_undecodable_file_raises_alt_error(tmp_path):
    with pytest.raises(AltError, match="cannot read line timings"):
        read_line_timings(tmp_path / "absent.csv")
    path = tmp_path / "latin1.csv"
    path.write_bytes("start,end,text\n1.0,2.0,déjà\n".encode("latin-1"))
    with pytest.raises(AltError, match="not a readable UTF-8 CSV"):
        read_line_timings(path)
