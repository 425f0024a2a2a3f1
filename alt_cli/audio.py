"""Audio in: decode any common format, then shape it for each stage.

Separation models want 44.1 kHz stereo; the VAD and Whisper want 16 kHz mono.  We decode once,
keep the 44.1 kHz stereo signal as the song's canonical form, and derive the 16 kHz mono views
from it (never decoding the file twice).

Decoding goes through libsndfile (wav, flac, ogg, mp3 with libsndfile >= 1.1) and falls back to an
``ffmpeg`` executable for everything else (m4a/aac, wma, opus in mp4...).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from alt_cli.errors import AudioError
from alt_cli.fileio import sha256_files
from alt_cli.signals import BLOCK_SECONDS, Signal, blocks, grown, new_signal, slice_of

SEPARATION_SAMPLE_RATE = 44100  # Hz, what Demucs and Spleeter were trained on
ASR_SAMPLE_RATE = 16000  # Hz, Whisper's input rate
MIN_DURATION = 1.0  # seconds; shorter inputs cannot hold a sung line
# Float files may exceed full scale far (a +34 dBFS master gives Spleeter nothing to mask);
# one whose peak passes HOT_PEAK is scaled to a peak of 1.  Decoders' small overshoots of an
# mp3 (peaks ~1.1) stay as they are, so ordinary songs are untouched.
HOT_PEAK = 2.0
# Files longer than this are decoded to disk when the caller gives a spill folder (an
# ordinary song stays in memory, where it costs ~21 MB a minute and no disk traffic).
SPILL_AFTER_SECONDS = 600.0
# Left and right in opposite phase (a wiring or mastering fault) cancel in a mono downmix:
# when the mid signal holds less than this share of the side signal's energy, fold R onto L.
ANTIPHASE_RATIO = 0.1
# ffmpeg's closing lines that say nothing about why a file failed.
_GENERIC_FFMPEG = ("invalid argument", "error marking filters as finished", "conversion failed",
                   "error while decoding", "nothing was written")


@dataclass(frozen=True)
class SongAudio:
    """A decoded song: the 44.1 kHz stereo mix, and where its long derived signals may spill.

    ``stereo`` is an ndarray for ordinary songs and a :class:`~alt_cli.signals.DiskSignal` for
    files longer than :data:`SPILL_AFTER_SECONDS` decoded with a spill folder; every stage reads
    it in blocks, so both behave the same.
    """

    path: Path
    stereo: Signal  # (2, n) float32 at SEPARATION_SAMPLE_RATE
    content_hash: str  # sha256 of the file bytes: the cache key for separated stems
    title: str | None = None
    artist: str | None = None
    notes: tuple[str, ...] = ()  # what was done to the signal on the way in (level, phase)
    spill_dir: Path | None = None  # where this song's long signals live (None: in memory)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.stereo.shape[1] / SEPARATION_SAMPLE_RATE

    def mono16k(self) -> Signal:
        """The mix as Whisper hears it."""
        return stereo_to_mono16k(self.stereo, self.spill_dir)


def stereo_to_mono16k(stereo: Signal, spill_dir: Path | None = None) -> Signal:
    """Downmix a (2, n) 44.1 kHz signal and resample it to 16 kHz mono float32, in blocks
    (the result spills to ``spill_dir`` when one is given)."""
    step = int(BLOCK_SECONDS * SEPARATION_SAMPLE_RATE)
    mono = (slice_of(stereo, a, b).mean(axis=0, dtype=np.float32)
            for a, b in blocks(stereo.shape[1], step))
    return resample_blocks(mono, stereo.shape[1], 1, SEPARATION_SAMPLE_RATE, ASR_SAMPLE_RATE,
                           spill_dir)


def resample_blocks(parts: Iterable[np.ndarray], n_in: int, channels: int, rate_in: int,
                    rate_out: int, spill_dir: Path | None) -> Signal:
    """Resample a signal that arrives in blocks (``(n,)`` or ``(channels, n)`` each) into one
    float32 signal, in memory or spilled to ``spill_dir``.

    soxr's stream resampler gives bit-identical output to its one-shot call, so block size
    never changes a result; only the last block is held twice.
    """
    stream = (soxr.ResampleStream(rate_in, rate_out, channels, dtype="float32", quality="HQ")
              if rate_in != rate_out else None)
    capacity = int(np.ceil(n_in * rate_out / rate_in)) + 64
    shape = (capacity,) if channels == 1 else (channels, capacity)
    out = new_signal(shape, np.float32, spill_dir)
    written = 0

    def put(chunk: np.ndarray) -> None:
        nonlocal written
        k = chunk.shape[-1]
        nonlocal out
        if written + k > out.shape[-1]:  # a header that undercounts its frames
            out = grown(out, written, 2 * (written + k), spill_dir)
        if channels == 1:
            out[written:written + k] = chunk
        else:
            out[:, written:written + k] = chunk
        written += k

    for part in parts:
        part = np.asarray(part, dtype=np.float32)
        if stream is None:
            put(part)
            continue
        samples_first = np.ascontiguousarray(part.T) if channels > 1 else part
        put(stream.resample_chunk(samples_first).T)
    if stream is not None:
        empty = np.zeros((0, channels) if channels > 1 else (0,), dtype=np.float32)
        put(stream.resample_chunk(empty, last=True).T)
    if isinstance(out, np.ndarray):
        return out[..., :written]
    return out.truncated(written)


def to_stereo(channels: np.ndarray) -> np.ndarray:
    """Map any channel count to stereo.

    Mono is duplicated; more than two channels are folded onto left/right by parity
    (L, R, C, LFE, Ls, Rs ... -> even indices left, odd right) so no voice channel is dropped.
    """
    if channels.shape[0] == 1:
        return np.repeat(channels, 2, axis=0)
    if channels.shape[0] == 2:
        return channels
    left = channels[0::2].mean(axis=0)
    right = channels[1::2].mean(axis=0)
    return np.stack([left, right]).astype(np.float32)


def file_sha256(path: Path) -> str:
    """Content hash of a file, streamed so a long song never sits in memory twice."""
    return sha256_files([path])


def _check_readable(path: Path) -> None:
    """Fail early with a precise reason instead of a decoder's cryptic one."""
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{path}: permission denied")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")


@contextmanager
def _silenced_native_stderr() -> Iterator[None]:
    """Hide what C decoders print straight to fd 2 (libmpg123's "Cannot read next header").

    Their warnings are not for the user: a file either decodes or gets our one-line error.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (embedded use): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@dataclass
class _Decoded:
    """A decoder's output before resampling: its rate, frame count and blocks of samples."""

    rate: int
    frames: int  # as declared by the container (a close estimate for some mp3s)
    channels: int
    parts: Iterator[np.ndarray]  # (channels, k) float32 blocks


def _decode_soundfile(path: Path) -> _Decoded:
    """Stream a file through libsndfile in blocks (opening it fails fast on formats it lacks)."""
    with _silenced_native_stderr():
        handle = soundfile.SoundFile(str(path))
    step = int(BLOCK_SECONDS * handle.samplerate)

    def parts() -> Iterator[np.ndarray]:
        with handle:
            while True:
                with _silenced_native_stderr():
                    data = handle.read(step, dtype="float32", always_2d=True)
                if not len(data):
                    return
                yield np.ascontiguousarray(data.T)

    return _Decoded(int(handle.samplerate), max(0, int(handle.frames)), handle.channels,
                    parts())


def _decode_ffmpeg(path: Path, spill_dir: Path | None) -> _Decoded:
    """Decode through ffmpeg straight to 44.1 kHz stereo float32.

    With a spill folder ffmpeg writes to an (immediately unlinked) file there, read back in
    blocks; otherwise its output is captured in memory.
    """
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(
            f"{path}: cannot decode this format without ffmpeg (install ffmpeg, "
            "or convert the file to wav/flac/mp3/ogg)"
        )
    command = [
        ffmpeg, "-nostdin", "-v", "error", "-i", str(path),
        "-f", "f32le", "-ac", "2", "-ar", str(SEPARATION_SAMPLE_RATE),
    ]  # fmt: skip
    if spill_dir is None:
        proc = subprocess.run([*command, "-"], capture_output=True, check=False)
        _check_ffmpeg(proc, path)
        samples = np.frombuffer(proc.stdout, dtype=np.float32).reshape(-1, 2)
        return _Decoded(SEPARATION_SAMPLE_RATE, len(samples), 2,
                        iter([np.ascontiguousarray(samples.T)]))
    spill_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(prefix=".alt-decode-", dir=spill_dir) as raw:
        proc = subprocess.run([*command, "-y", raw.name], capture_output=True, check=False)
        _check_ffmpeg(proc, path)
        handle = open(raw.name, "rb")  # noqa: SIM115 - closed by parts() below
    frames = os.fstat(handle.fileno()).st_size // 8
    step = int(BLOCK_SECONDS * SEPARATION_SAMPLE_RATE)

    def parts() -> Iterator[np.ndarray]:
        with handle:
            while chunk := handle.read(step * 8):
                yield np.ascontiguousarray(np.frombuffer(chunk, np.float32).reshape(-1, 2).T)

    return _Decoded(SEPARATION_SAMPLE_RATE, frames, 2, parts())


def _check_ffmpeg(proc: subprocess.CompletedProcess, path: Path) -> None:
    if proc.returncode != 0:
        detail = _ffmpeg_reason(proc.stderr.decode(errors="replace"), path)
        raise AudioError(f"{path}: not a decodable audio file ({detail or 'ffmpeg failed'})")


def _ffmpeg_reason(stderr: str, path: Path) -> str:
    """The informative line of ffmpeg's complaint, as "mp3 decoder: Failed to read frame"."""
    for line in stderr.strip().splitlines():
        line = line.replace(f"{path}: ", "").strip()
        match = re.match(r"\[(\w+) @ 0x[0-9a-f]+\]\s*(.*)", line)
        if match:
            line = f"{match[1]} decoder: {match[2]}"
        if line and not any(generic in line.lower() for generic in _GENERIC_FFMPEG):
            return line
    return ""


@dataclass
class _LevelStats:
    """What the level and phase checks need, gathered block by block during decoding."""

    peak: float = 0.0
    mid_energy: float = 0.0
    side_energy: float = 0.0

    def add(self, stereo: np.ndarray) -> None:
        if stereo.size:
            self.peak = max(self.peak, float(np.abs(stereo).max()))
            self.mid_energy += float(np.square(stereo[0] + stereo[1], dtype=np.float64).sum())
            self.side_energy += float(np.square(stereo[0] - stereo[1], dtype=np.float64).sum())

    def corrections(self) -> tuple[bool, float, list[str]]:
        """(invert the right channel, gain, notes for the user) for the whole song."""
        notes = []
        invert = self.side_energy > 0 and self.mid_energy < ANTIPHASE_RATIO * self.side_energy
        if invert:
            notes.append("left and right were in opposite phase: the right channel was inverted")
        gain = 1.0
        if self.peak > HOT_PEAK:
            gain = 1.0 / self.peak
            notes.append(f"peak level {20 * np.log10(self.peak):+.1f} dBFS: scaled down to "
                         f"0 dBFS")
        return invert, gain, notes


def _correct(stereo: Signal, invert: bool, gain: float) -> None:
    """Apply the phase fold and gain to the whole signal, in place, block by block."""
    factors = np.array([[gain], [-gain if invert else gain]], dtype=np.float32)
    step = int(BLOCK_SECONDS * SEPARATION_SAMPLE_RATE)
    for a, b in blocks(stereo.shape[1], step):
        stereo[:, a:b] = slice_of(stereo, a, b) * factors


def _read_tags(path: Path) -> tuple[str | None, str | None]:
    """Title and artist from the file's tags, for LRC headers; missing tags are normal."""
    try:
        import mutagen

        tags = mutagen.File(str(path), easy=True)
    except Exception:  # noqa: BLE001 - a broken tag block must not fail the song
        return None, None
    if not tags:
        return None, None

    def first(key: str) -> str | None:
        values = tags.get(key) or []
        return str(values[0]).strip() or None if values else None

    return first("title"), first("artist")


def _decode_and_resample(decoded: _Decoded, path: Path, spill_dir: Path | None
                         ) -> tuple[Signal, bool]:
    """The decoder's blocks checked (finite), made stereo and resampled to 44.1 kHz; spilled
    to ``spill_dir`` when the file is longer than :data:`SPILL_AFTER_SECONDS`."""
    spill = spill_dir if decoded.frames > SPILL_AFTER_SECONDS * decoded.rate else None

    def checked() -> Iterator[np.ndarray]:
        for part in decoded.parts:
            if not np.isfinite(part).all():
                raise AudioError(f"{path}: audio contains invalid (NaN/inf) samples")
            yield to_stereo(part)

    try:
        stereo = resample_blocks(checked(), decoded.frames, 2, decoded.rate,
                                 SEPARATION_SAMPLE_RATE, spill)
    except MemoryError as exc:
        raise AudioError(f"{path}: too large to decode in memory") from exc
    return stereo, spill is not None


def load_song(path: str | os.PathLike[str], spill_dir: Path | None = None) -> SongAudio:
    """Decode a file into a :class:`SongAudio`, or raise :class:`AudioError` in one line.

    Decoding, resampling and the level checks run block by block.  A file longer than
    :data:`SPILL_AFTER_SECONDS` is decoded into ``spill_dir`` when one is given (and the
    song's derived signals follow it there), so memory stays flat however long the file is.
    """
    path = Path(path)
    _check_readable(path)
    try:
        stereo, spilled = _decode_and_resample(_decode_soundfile(path), path, spill_dir)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        # libsndfile refused the file, at once or part-way through (a damaged mp3): ffmpeg
        # decodes more formats and tolerates more damage, and names the decoder that failed.
        if shutil.which("ffmpeg") is None:
            reason = str(exc).replace(str(path), "").strip(" :") or type(exc).__name__
            raise AudioError(f"{path}: not a decodable audio file (libsndfile: {reason}; "
                             f"ffmpeg, which decodes more formats, is not installed)") from exc
        stereo, spilled = _decode_and_resample(_decode_ffmpeg(path, spill_dir), path,
                                               spill_dir)
    if stereo.shape[1] == 0:
        raise AudioError(f"{path}: no audio samples")
    duration = stereo.shape[1] / SEPARATION_SAMPLE_RATE
    if duration < MIN_DURATION:
        raise AudioError(f"{path}: too short ({duration:.2f} s; at least {MIN_DURATION:.0f} s)")
    stats = _LevelStats()
    for a, b in blocks(stereo.shape[1], int(BLOCK_SECONDS * SEPARATION_SAMPLE_RATE)):
        stats.add(slice_of(stereo, a, b))
    invert, gain, notes = stats.corrections()
    if invert or gain != 1.0:
        _correct(stereo, invert, gain)
    title, artist = _read_tags(path)
    return SongAudio(path, stereo, file_sha256(path), title=title, artist=artist,
                     notes=tuple(notes), spill_dir=spill_dir if spilled else None)


def blend_vocals(mix16k: Signal, vocals16k: Signal, spill_dir: Path | None = None) -> Signal:
    """The mix with the separated vocals added once more: voice +6 dB over the band, and none
    of the separation's artefacts alone (they stay masked by the accompaniment)."""
    if isinstance(mix16k, np.ndarray) and isinstance(vocals16k, np.ndarray) and spill_dir is None:
        return (0.5 * (mix16k + vocals16k)).astype(np.float32)
    out = new_signal((len(mix16k),), np.float32, spill_dir)
    for a, b in blocks(len(mix16k), int(BLOCK_SECONDS * ASR_SAMPLE_RATE)):
        out[a:b] = 0.5 * (mix16k[a:b] + vocals16k[a:b])
    return out


def whisper_input(mix16k: Signal, vocals16k: Signal | None, asr_input: str,
                  spill_dir: Path | None = None) -> Signal:
    """What Whisper hears: the mix, the separated vocals, or the blend of both."""
    if vocals16k is None or asr_input == "mix":
        return mix16k
    return vocals16k if asr_input == "vocals" else blend_vocals(mix16k, vocals16k, spill_dir)
