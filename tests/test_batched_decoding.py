"""Beams that share their window's cross-attention keys and values decode what repeated
features decode (issue 5: the decoder's cost on a CPU is reading those keys and values)."""

from __future__ import annotations

import pytest
import torch
from whisper.model import MultiHeadAttention

from alt_cli.batched_decoding import grouped_attention, shared_cross_attention


@pytest.mark.parametrize("use_sdpa", [True, False])
def test_grouped_queries_attend_as_if_keys_were_repeated(use_sdpa, monkeypatch):
    monkeypatch.setattr(MultiHeadAttention, "use_sdpa", use_sdpa)
    torch.manual_seed(0)
    attn = MultiHeadAttention(n_state=32, n_head=4)
    rows, group, n_ctx, n_kv = 3, 5, 2, 7
    q = torch.randn(rows * group, n_ctx, 32)
    k, v = torch.randn(rows, n_kv, 32), torch.randn(rows, n_kv, 32)

    out, qk = grouped_attention(attn.qkv_attention, attn.n_head)(q, k, v)
    k_rep, v_rep = k.repeat_interleave(group, 0), v.repeat_interleave(group, 0)
    ref_out, ref_qk = attn.qkv_attention(q, k_rep, v_rep)

    assert out.shape == ref_out.shape == (rows * group, n_ctx, 32)
    torch.testing.assert_close(out, ref_out)
    if use_sdpa:
        assert qk is None and ref_qk is None
    else:  # the word aligner reads these weights
        torch.testing.assert_close(qk, ref_qk)


def test_grouping_refuses_rows_that_do_not_divide_or_a_mask():
    attn = MultiHeadAttention(n_state=8, n_head=2)
    attend = grouped_attention(attn.qkv_attention, attn.n_head)
    k = v = torch.randn(2, 3, 8)
    with pytest.raises(ValueError):
        attend(torch.randn(5, 1, 8), k, v)
    with pytest.raises(ValueError):
        attend(torch.randn(4, 1, 8), k, v, mask=torch.zeros(1, 1))
    same_rows, _ = attend(torch.randn(2, 1, 8), k, v)  # one query row per key row: unchanged
    assert same_rows.shape == (2, 1, 8)


def test_the_patch_is_removed_after_decoding():
    class Block:
        def __init__(self, cross: bool):
            self.cross_attn = MultiHeadAttention(8, 2) if cross else None

    class Decoder:
        blocks = [Block(True), Block(False), Block(True)]

    decoder = Decoder()
    with pytest.raises(RuntimeError), shared_cross_attention(decoder):
        assert "qkv_attention" in vars(decoder.blocks[0].cross_attn)
        raise RuntimeError("decoding failed")
    assert all("qkv_attention" not in vars(b.cross_attn) for b in decoder.blocks if b.cross_attn)


@pytest.mark.slow
def test_beam_search_with_shared_features_matches_whisper(example_song, session_cache):
    """Same tokens and scores as openai-whisper's own beam search on one window."""
    import whisper
    from whisper.decoding import DecodingOptions

    from alt_cli.audio import load_song
    from alt_cli.batched_decoding import GroupedDecodingTask
    from alt_cli.models import load_whisper
    from alt_cli.transcription import window_mels

    model, _ = load_whisper("tiny.en", "cpu", session_cache)
    mel = window_mels(model, [load_song(example_song).mono16k()])
    options = DecodingOptions(language="en", beam_size=4, without_timestamps=False, fp16=False)
    with torch.inference_mode():
        ours = GroupedDecodingTask(model, options).run(mel)[0]
        theirs = whisper.decode(model, mel[0], options)
    assert ours.tokens == theirs.tokens and "time" in ours.text.lower()
    assert ours.avg_logprob == pytest.approx(theirs.avg_logprob, abs=1e-4)


def test_bf16_matmul_is_scoped_to_the_block_and_to_cpus():
    from alt_cli.transcription import cpu_matmul_precision

    backend = torch.backends.mkldnn.matmul
    before = backend.fp32_precision
    with cpu_matmul_precision(torch.device("cpu"), bf16=True):
        assert backend.fp32_precision == "bf16"
        x, w = torch.randn(8, 512), torch.randn(1000, 512)
        close = x @ w.T  # split bfloat16 parts: near float32, not a bfloat16 cast (~0.1 off)
    torch.testing.assert_close(close, x.double().matmul(w.double().T).float(), atol=2e-3, rtol=0)
    assert backend.fp32_precision == before
    with cpu_matmul_precision(torch.device("cuda"), bf16=True):
        assert backend.fp32_precision == before
    with cpu_matmul_precision(torch.device("cpu"), bf16=False):
        assert backend.fp32_precision == before
