"""Whisper's decoder run on a batch of windows with beams, without redundant work.

openai-whisper decodes a window with beam search (or best-of sampling) by repeating it: every
one of the n beams gets its own copy of the window's audio features, its own cross-attention
keys and values (computed n times from identical input) and reads them at every token step.
On a CPU that reading is the cost: for `base`, 5 beams and 8 windows it is ~150 MB of keys and
values per layer and step.  Here each window's cross-attention keys and values are computed
once and its beams' queries are attended against them together, which gives the same numbers
(each query row of attention is independent of the others) for a fifth of the traffic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import whisper
from whisper.decoding import DecodingTask
from whisper.model import MultiHeadAttention

AttentionFn = Callable[..., tuple[torch.Tensor, torch.Tensor | None]]


def grouped_attention(attention: AttentionFn, n_head: int) -> AttentionFn:
    """Wrap a `qkv_attention` so that queries may come in groups per key/value row.

    With q of shape (rows * group, n_ctx, d) and k, v of shape (rows, n_kv, d), the queries of
    a group (a window's beams, consecutive rows) are laid end to end and attend together.
    Without a mask only: a causal mask would not survive the reshape (cross-attention has none).
    """

    def attend(q, k, v, mask=None):
        rows = k.shape[0]
        if q.shape[0] == rows:
            return attention(q, k, v, mask)
        if mask is not None or q.shape[0] % rows:
            raise ValueError(f"cannot group {q.shape[0]} query rows over {rows} key rows")
        group, n_ctx = q.shape[0] // rows, q.shape[1]
        out, qk = attention(q.reshape(rows, group * n_ctx, q.shape[2]), k, v, None)
        out = out.reshape(rows * group, n_ctx, out.shape[-1])
        if qk is not None:  # (rows, heads, group * n_ctx, n_kv) -> (rows * group, heads, ...)
            qk = qk.reshape(rows, n_head, group, n_ctx, -1).transpose(1, 2)
            qk = qk.reshape(rows * group, n_head, n_ctx, -1)
        return out, qk

    return attend


@contextmanager
def shared_cross_attention(decoder: torch.nn.Module) -> Iterator[None]:
    """While active, the decoder accepts one audio-feature row per group of token rows."""
    patched: list[MultiHeadAttention] = []
    try:
        for block in decoder.blocks:
            attn = block.cross_attn
            if attn is not None:
                # An instance attribute shadows the class's method for this module only.
                attn.qkv_attention = grouped_attention(attn.qkv_attention, attn.n_head)
                patched.append(attn)
        yield
    finally:
        for attn in patched:
            del attn.qkv_attention


class GroupedDecodingTask(DecodingTask):
    """Whisper's DecodingTask for beam search / best-of on a batch of windows.

    Two changes.  openai-whisper 20250625 repeats each window's prompt n_group times but not
    its audio features, which only broadcasts for a single window: the features are repeated
    here, so a batch of windows decodes with beams.  And the decoding loop itself sees each
    window's features once, with its beams grouped in the cross-attention (see the module).
    """

    def _get_audio_features(self, mel: torch.Tensor) -> torch.Tensor:
        features = super()._get_audio_features(mel)
        return features.repeat_interleave(self.n_group, dim=0) if self.n_group > 1 else features

    def _detect_language(self, audio_features: torch.Tensor, tokens: torch.Tensor):
        # Runs before the prompts are repeated: one row per window.
        return super()._detect_language(audio_features[:: self.n_group], tokens)

    def _main_loop(self, audio_features: torch.Tensor, tokens: torch.Tensor):
        if self.n_group == 1:
            return super()._main_loop(audio_features, tokens)
        with shared_cross_attention(self.model.decoder):
            return super()._main_loop(audio_features[:: self.n_group], tokens)


class EncodedWindow:
    """A Whisper model whose call takes the window's encoder output instead of its mel.

    Whisper's word aligner calls ``model(mel, tokens)``, which would encode the window a second
    time; given this wrapper and the features, it only runs the decoder.
    """

    def __init__(self, model: whisper.model.Whisper):
        self._model = model

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def __call__(self, features: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        return self._model.decoder(tokens, features)
