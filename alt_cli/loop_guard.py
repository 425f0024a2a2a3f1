"""Stop Whisper's repetition loops as they start, instead of 224 tokens later.

On music Whisper sometimes falls into a loop ("oh oh oh ...", one line over and over) and, left
alone, decodes to its token limit: slow, and the words are wrong.  A loop shows as an exact
period in the token sequence *including timestamp tokens*: a chorus really sung four times gets
new timestamps each time, a hallucinated loop does not.  When the tail of a sequence is such a
repetition we force end-of-text; the window then fails the loop check and is decoded again at a
higher temperature, like any other window that looped.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from whisper.decoding import LogitFilter

MAX_PERIOD = 20  # tokens: the longest repeating unit looked for (about one sung line)
MIN_REPEATS = 4  # a unit repeated this many times in a row, with no timestamp between...
MIN_SPAN = 24  # ...covering at least this many tokens, is a loop ("oh" x 24, a line x 4)


def loop_span(tokens: Sequence[int]) -> int:
    """Length of the periodic tail that counts as a loop (0 when there is none)."""
    n = len(tokens)
    for period in range(1, MAX_PERIOD + 1):
        repeats = max(MIN_REPEATS, -(-MIN_SPAN // period))
        span = period * repeats
        if span > n:
            break
        unit = list(tokens[n - period :])
        if list(tokens[n - span :]) == unit * repeats:
            return span
    return 0


def trim_loop(tokens: Sequence[int]) -> list[int]:
    """Drop a loop from the end of a token sequence, keeping its unit once."""
    tokens = list(tokens)
    while span := loop_span(tokens):
        period = next(p for p in range(1, MAX_PERIOD + 1) if span % p == 0 and
                      tokens[-span:] == tokens[-p:] * (span // p))
        tokens = tokens[: len(tokens) - span + period]
    return tokens


class StopLoops(LogitFilter):
    """Force end-of-text for any sequence whose sampled tail has become a loop."""

    def __init__(self, eot: int, sample_begin: int):
        self.eot = eot
        self.sample_begin = sample_begin
        self.window = MAX_PERIOD * MIN_REPEATS  # longest tail that can hold a loop

    def apply(self, logits: torch.Tensor, tokens: torch.Tensor) -> None:
        if tokens.shape[1] - self.sample_begin < MIN_SPAN:
            return
        tails = tokens[:, max(self.sample_begin, tokens.shape[1] - self.window) :].tolist()
        for row, tail in enumerate(tails):
            if tail[-1] != self.eot and loop_span(tail):
                logits[row, :] = -float("inf")
                logits[row, self.eot] = 0.0
