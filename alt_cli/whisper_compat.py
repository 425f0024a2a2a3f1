"""Every place alt reaches into openai-whisper's or torch's internals, in one guarded module.

alt needs four things Whisper's public API does not give, each written against the versions in
:data:`TESTED_WHISPER_VERSIONS` and each tested against the installed one
(``tests/test_whisper_compat.py``):

1. **Batched beam search** (:class:`GroupedDecodingTask`): openai-whisper decodes a window with
   beam search (or best-of sampling) by repeating it: every one of the n beams gets its own copy
   of the window's audio features, its own cross-attention keys and values (computed n times
   from identical input) and reads them at every token step.  On a CPU that reading is the
   cost: for `base`, 5 beams and 8 windows it is ~150 MB of keys and values per layer and step.
   Here each window's cross-attention keys and values are computed once and its beams' queries
   are attended against them together, which gives the same numbers (each query row of
   attention is independent of the others) for a fifth of the traffic.  Overrides
   ``DecodingTask._get_audio_features``, ``_detect_language`` and ``_main_loop`` and patches
   ``MultiHeadAttention.qkv_attention`` on live modules, removed afterwards.
2. **Word alignment on encoder output** (:class:`EncodedWindow`): ``timing.add_word_timestamps``
   calls ``model(mel, tokens)``; the wrapper makes that call run the decoder only.
3. **The official checkpoints' table** (:func:`official_checkpoint`, :func:`official_heads`):
   ``whisper._MODELS`` and ``whisper._ALIGNMENT_HEADS`` are private.
4. **bfloat16-split linear layers on the CPU** (:func:`cpu_matmul_precision`), a process-wide
   torch flag flipped around each linear layer, only where a probe shows that the CPU keeps
   float32 accuracy in that mode (:func:`bf16_split_is_accurate`).  Left as it is, knowingly:
   with ``--jobs 2`` a Demucs separation running in the prefetch thread at that moment may also
   get bf16-split products (error ~1e-6 relative; Spleeter is convolution-only, unaffected).

:func:`check_whisper` runs when the pipeline loads a model: another openai-whisper version gives
one warning naming the tested ones (reported through the progress channel); a version whose
internals moved is a clear error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata

import torch
import whisper
from whisper.decoding import DecodingTask
from whisper.model import MultiHeadAttention

from alt_cli.errors import AltError

TESTED_WHISPER_VERSIONS = ("20250625",)  # openai-whisper releases these patches were tested on
_PATCHED_METHODS = (
    (DecodingTask, "_get_audio_features"), (DecodingTask, "_detect_language"),
    (DecodingTask, "_main_loop"), (MultiHeadAttention, "qkv_attention"),
)  # fmt: skip
_checked = False

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


def whisper_version() -> str:
    try:
        return metadata.version("openai-whisper")
    except metadata.PackageNotFoundError:
        return "unknown"


def check_whisper() -> str | None:
    """Check the installed openai-whisper against what the patches above need.

    Returns a warning text (once per process) for an untested version whose internals are still
    in place; raises :class:`AltError` when they moved, since decoding would then be wrong.
    """
    global _checked
    missing = [f"{cls.__name__}.{name}" for cls, name in _PATCHED_METHODS
               if not callable(getattr(cls, name, None))]
    missing += [name for name in ("_MODELS", "_ALIGNMENT_HEADS") if not hasattr(whisper, name)]
    version = whisper_version()
    tested = ", ".join(TESTED_WHISPER_VERSIONS)
    if missing:
        raise AltError(f"openai-whisper {version} lacks {', '.join(missing)}, which alt's "
                       f"decoding relies on: pip install openai-whisper=={tested}")
    if version in TESTED_WHISPER_VERSIONS or _checked:
        return None
    _checked = True
    message = (f"openai-whisper {version} is installed; alt's decoding patches were tested "
               f"with {tested} (pip install openai-whisper=={TESTED_WHISPER_VERSIONS[-1]})")
    return message


def official_checkpoint(name: str) -> tuple[str, str, str]:
    """(file name in whisper's cache, expected sha256, URL) -- whisper encodes all in its URL."""
    url = whisper._MODELS[name]
    return url.split("/")[-1], url.split("/")[-2], url


def official_heads(sha256: str | None) -> bytes | None:
    """whisper's own word-timing heads for a byte-identical official checkpoint, else None."""
    for name, url in whisper._MODELS.items():
        if sha256 and url.split("/")[-2] == sha256:
            return whisper._ALIGNMENT_HEADS[name]
    return None


SPLIT_PROBE_TOLERANCE = 5e-4  # largest relative error of a bf16-split product we accept
_split_accurate: bool | None = None


def bf16_split_is_accurate() -> bool:
    """Whether this CPU's bfloat16 matmul mode keeps float32 accuracy (measured once).

    Where oneDNN splits each float32 operand into bfloat16 parts (measured on an AMD EPYC with
    AVX512-BF16: ~1e-6 relative) the mode is a free speed-up; on CPUs where it is a plain
    bfloat16 cast (measured on an Intel Xeon with AMX: 2.5e-3 relative, enough to change
    lyrics) it is not used.  A 64 x 512 x 512 product in both modes tells them apart in ~1 ms.
    """
    global _split_accurate
    backend = getattr(torch.backends.mkldnn, "matmul", None)  # torch >= 2.9 only
    if not hasattr(backend, "fp32_precision"):
        return False
    if _split_accurate is None:
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(64, 512, generator=generator)
        w = torch.randn(512, 512, generator=generator) / 512**0.5
        previous = backend.fp32_precision
        with torch.inference_mode():
            exact = torch.nn.functional.linear(x, w)
            try:
                backend.fp32_precision = "bf16"
                split = torch.nn.functional.linear(x, w)
            finally:
                backend.fp32_precision = previous
        error = float((split - exact).abs().max() / exact.abs().max())
        _split_accurate = error < SPLIT_PROBE_TOLERANCE
    return _split_accurate


@contextmanager
def cpu_matmul_precision(model: whisper.model.Whisper, bf16: bool) -> Iterator[None]:
    """Whisper's linear layers as bfloat16-split products inside the block (CPU only).

    oneDNN splits each float32 operand into bfloat16 parts, so the result stays close to float32
    (unlike a plain bfloat16 cast); CPUs without bfloat16 units, and torch before 2.9 (which has
    no such switch), compute in float32 as before.  Only the linear layers and the decoder's
    vocabulary projection, switched on around each of them: their shapes repeat, so oneDNN's
    cache of prepared kernels stays small.  Switched on for everything, the attention products
    (a new shape at every token) filled that cache with ~1 GB and ran slower.
    """
    backend = getattr(torch.backends.mkldnn, "matmul", None)  # torch >= 2.9 only
    if not bf16 or model.device.type != "cpu" or not bf16_split_is_accurate():
        yield
        return
    previous = backend.fp32_precision

    def on(*_) -> None:
        backend.fp32_precision = "bf16"

    def off(*_) -> None:
        backend.fp32_precision = previous

    decoder = model.decoder
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    handles = [hook for m in linears
               for hook in (m.register_forward_pre_hook(on), m.register_forward_hook(off))]
    # The vocabulary projection follows the final layer norm, inside the decoder's forward.
    handles += [decoder.ln.register_forward_pre_hook(on), decoder.register_forward_hook(off)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        backend.fp32_precision = previous
