"""Batched beam-search bookkeeping and timestamp rules decode exactly what openai-whisper's own
per-row code decodes (issue 11: the same tokens, without ~1000 GPU round trips per step)."""

from __future__ import annotations

import pytest
import torch
from whisper.decoding import ApplyTimestampRules, DecodingOptions
from whisper.tokenizer import get_tokenizer

from alt_cli.whisper_fast import BatchedTimestampRules

TOKENIZER = get_tokenizer(multilingual=False)
BEGIN, EOT = TOKENIZER.timestamp_begin, TOKENIZER.eot
SAMPLE_BEGIN = 3


def _rows(*tails: list[int]) -> torch.Tensor:
    prompt = [TOKENIZER.sot, TOKENIZER.no_speech or 1, TOKENIZER.transcribe][:SAMPLE_BEGIN]
    width = max(map(len, tails))
    return torch.tensor([prompt + [EOT] * (width - len(t)) + t for t in tails])


CASES = {
    "after text": [100, 200],
    "after a lone timestamp": [BEGIN + 5, 300],  # the stamp is not last: text may follow
    "lone timestamp last": [300, BEGIN + 40],
    "pair last": [BEGIN + 10, 400, BEGIN + 30, BEGIN + 30],
    "only one token, a stamp": [BEGIN + 7],
    "decreasing stamps written": [BEGIN + 50, 5, BEGIN + 20, 6],
}


@pytest.mark.parametrize("max_initial", [None, 50])
def test_timestamp_rules_as_masks_equal_whispers_row_loop(max_initial):
    torch.manual_seed(1)
    tokens = _rows(*CASES.values())
    vocab = BEGIN + 1501
    logits = torch.randn(tokens.shape[0], vocab) * 4
    logits[2, BEGIN:] += 6  # one row where the timestamps' total mass wins
    stock, ours = logits.clone(), logits.clone()
    rules = ApplyTimestampRules(TOKENIZER, SAMPLE_BEGIN, max_initial)
    rules.apply(stock, tokens)
    BatchedTimestampRules(rules).apply(ours, tokens)
    assert torch.equal(torch.isinf(stock), torch.isinf(ours))
    assert torch.equal(stock, ours)
    assert torch.isinf(stock).any(dim=1).all()  # every case masks something

    first = torch.tensor([[TOKENIZER.sot, 1, TOKENIZER.transcribe]] * 2)  # the first step
    stock, ours = logits[:2].clone(), logits[:2].clone()
    rules.apply(stock, first)
    BatchedTimestampRules(rules).apply(ours, first)
    assert torch.equal(stock, ours)


@pytest.mark.slow
@pytest.mark.parametrize("beams", [1, 5])
def test_batched_bookkeeping_decodes_whispers_tokens_on_real_windows(example_song,
                                                                      session_cache, beams):
    """tiny.en on three windows of the real example song, with timestamps: every token and
    score equal to openai-whisper's own beam search / greedy loop."""
    from alt_cli.audio import load_song
    from alt_cli.models import load_whisper
    from alt_cli.transcription import window_mels
    from alt_cli.whisper_compat import GroupedDecodingTask
    from alt_cli.whisper_fast import batch_bookkeeping

    model, _ = load_whisper("tiny.en", "cpu", session_cache)
    audio = load_song(example_song).mono16k()
    chunks = [audio, audio[16000 * 2:], audio[: 16000 * 7]]
    mel = window_mels(model, chunks)
    options = DecodingOptions(language="en", beam_size=beams if beams > 1 else None,
                              without_timestamps=False, fp16=False)
    with torch.inference_mode():
        theirs = GroupedDecodingTask(model, options).run(mel)
        ours = batch_bookkeeping(GroupedDecodingTask(model, options)).run(mel)
    assert [r.tokens for r in ours] == [r.tokens for r in theirs]
    assert [r.avg_logprob for r in ours] == [r.avg_logprob for r in theirs]
    assert any(t >= BEGIN for t in ours[0].tokens) and "time" in ours[0].text.lower()
