"""Beams that share their window's cross-attention keys and values decode what repeated
features decode (issue 5: the decoder's cost on a CPU is reading those keys and values)."""

from __future__ import annotations

import pytest
import torch
from whisper.model import MultiHeadAttention

from alt_cli.whisper_compat import grouped_attention, shared_cross_attention


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
    from alt_cli.models import load_whisper
    from alt_cli.transcription import window_mels
    from alt_cli.whisper_compat import GroupedDecodingTask

    model, _ = load_whisper("tiny.en", "cpu", session_cache)
    mel = window_mels(model, [load_song(example_song).mono16k()])
    options = DecodingOptions(language="en", beam_size=4, without_timestamps=False, fp16=False)
    with torch.inference_mode():
        ours = GroupedDecodingTask(model, options).run(mel)[0]
        theirs = whisper.decode(model, mel[0], options)
    assert ours.tokens == theirs.tokens and "time" in ours.text.lower()
    assert ours.avg_logprob == pytest.approx(theirs.avg_logprob, abs=1e-4)


def _tiny_decoder_run(bf16: bool):
    """(exact, fast, precision seen inside a linear layer and a norm, hooks left) of a tiny
    random Whisper decoder run in float32 and under cpu_matmul_precision."""
    from whisper.model import ModelDimensions, Whisper

    from alt_cli.whisper_compat import cpu_matmul_precision

    torch.manual_seed(0)
    dims = ModelDimensions(n_mels=80, n_audio_ctx=10, n_audio_state=64, n_audio_head=2,
                           n_audio_layer=1, n_vocab=600, n_text_ctx=8, n_text_state=64,
                           n_text_head=2, n_text_layer=2)
    model = Whisper(dims).eval()
    with torch.no_grad():  # whisper leaves the text positions uninitialised (loaded later)
        model.decoder.positional_embedding.normal_(std=0.02)
    backend = torch.backends.mkldnn.matmul
    before = backend.fp32_precision
    features, tokens = torch.randn(3, 10, 64), torch.tensor([[1, 2, 3]] * 3)
    seen: dict[str, str] = {}
    with torch.inference_mode():
        exact = model.decoder(tokens, features)
        with cpu_matmul_precision(model, bf16=bf16):
            assert backend.fp32_precision == before  # nothing global between layers

            def spy(name: str):
                def record(*_) -> None:  # a pre-hook returning a value would replace the input
                    seen.setdefault(name, backend.fp32_precision)
                return record

            model.decoder.blocks[0].mlp[0].register_forward_pre_hook(spy("linear"))
            model.decoder.blocks[0].mlp_ln.register_forward_pre_hook(spy("norm"))  # after 8 linears
            fast = model.decoder(tokens, features)
            assert backend.fp32_precision == before
    assert not model.decoder.ln._forward_pre_hooks  # the switches are removed afterwards
    with cpu_matmul_precision(model.to("meta"), bf16=True):  # not a CPU: nothing changes
        assert not model.decoder.ln._forward_pre_hooks
    return exact, fast, seen, before


def test_bf16_products_are_scoped_to_the_linear_layers_where_the_cpu_keeps_accuracy(
        monkeypatch):
    import alt_cli.whisper_compat as compat

    accurate = compat.bf16_split_is_accurate()  # measured on this CPU
    monkeypatch.setattr(compat, "_split_accurate", True)  # the scoping, whatever this CPU does
    exact, fast, seen, before = _tiny_decoder_run(bf16=True)
    assert seen == {"linear": "bf16", "norm": before}
    if accurate:
        torch.testing.assert_close(fast, exact, atol=2e-3, rtol=0)  # near float32


def test_bf16_mode_is_left_off_where_it_would_be_a_plain_cast(monkeypatch):
    import alt_cli.whisper_compat as compat

    monkeypatch.setattr(compat, "_split_accurate", False)
    exact, fast, seen, before = _tiny_decoder_run(bf16=True)
    assert seen == {"linear": before, "norm": before}
    torch.testing.assert_close(fast, exact, atol=0, rtol=0)
    _, fp32, seen, before = _tiny_decoder_run(bf16=False)
    assert seen == {"linear": before, "norm": before}


def test_installed_whisper_is_the_tested_one_and_other_versions_are_named(monkeypatch):
    import alt_cli.whisper_compat as compat
    from alt_cli.errors import AltError

    assert compat.whisper_version() in compat.TESTED_WHISPER_VERSIONS  # pyproject pins it
    assert compat.check_whisper() is None
    monkeypatch.setattr(compat, "whisper_version", lambda: "20990101")
    monkeypatch.setattr(compat, "_checked", False)
    warning = compat.check_whisper()
    assert "20990101" in warning and compat.TESTED_WHISPER_VERSIONS[-1] in warning
    assert compat.check_whisper() is None  # said once per process
    monkeypatch.delattr(compat.DecodingTask, "_main_loop")
    with pytest.raises(AltError, match="DecodingTask._main_loop"):
        compat.check_whisper()


def test_official_checkpoint_table_is_readable():
    from alt_cli.whisper_compat import official_checkpoint, official_heads

    filename, sha, url = official_checkpoint("tiny.en")
    assert filename == "tiny.en.pt" and len(sha) == 64 and url.endswith(filename)
    assert isinstance(official_heads(sha), bytes)
    assert official_heads("0" * 64) is None and official_heads(None) is None
