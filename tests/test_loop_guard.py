"""The loop guard: exact periods with no timestamp between repeats are loops, real repeats
(new timestamps each time) and short repeats are not."""

import torch

from alt_cli.loop_guard import StopLoops, loop_span, trim_loop

OH, NA, EOT = 1000, 1001, 50257


def test_single_token_loop_needs_24_repeats():
    assert loop_span([5, 6] + [OH] * 23) == 0
    assert loop_span([5, 6] + [OH] * 24) == 24


def test_line_repeated_four_times_without_timestamps_is_a_loop():
    line = [11, 12, 13, 14, 15, 16, 17]
    assert loop_span([1] + line * 3) == 0
    assert loop_span([1] + line * 4) == 28


def test_chorus_with_new_timestamps_is_not_a_loop():
    line = [11, 12, 13, 14, 15, 16]
    sung = []
    for i in range(6):
        sung += [50364 + 2 * i] + line + [50365 + 2 * i]
    assert loop_span(sung) == 0


def test_period_longer_than_limit_is_ignored():
    long_line = list(range(100, 125))  # 25 tokens
    assert loop_span(long_line * 4) == 0


def test_trim_keeps_one_unit():
    assert trim_loop([1, 2] + [OH, NA] * 12) == [1, 2, OH, NA]
    assert trim_loop([1, 2, 3]) == [1, 2, 3]


def test_filter_forces_end_of_text_only_on_looping_rows():
    sample_begin = 3
    looping = [0, 0, 0] + [OH] * 30
    fine = [0, 0, 0] + list(range(2000, 2030))
    tokens = torch.tensor([looping, fine])
    logits = torch.zeros(2, 51865)
    StopLoops(EOT, sample_begin).apply(logits, tokens)
    assert logits[0].argmax().item() == EOT and torch.isinf(logits[0, OH])
    assert torch.all(logits[1] == 0)
