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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

from alt_cli.errors import AudioError
from alt_cli.fileio import sha256_files

SEPARATION_SAMPLE_RATE = 44100  # Hz, what Demucs and Spleeter were trained on
ASR_SAMPLE_RATE = 16000  # Hz, Whisper's input rate
MIN_DURATION = 1.0  # seconds; shorter inputs cannot hold a sung line
# Float files may exceed full scale far (a +34 dBFS master gives Spleeter nothing to mask);
# one whose peak passes HOT_PEAK is scaled to a peak of 1.  Decoders' small overshoots of an
# mp3 (peaks ~1.1) stay as they are, so ordinary songs are untouched.
HOT_PEAK = 2.0
# Left and right in opposite phase (a wiring or mastering fault) cancel in a mono downmix:
# when the mid signal holds less than this share of the side signal's energy, fold R onto L.
ANTIPHASE_RATIO = 0.1
# ffmpeg's closing lines that say nothing about why a file failed.
_GENERIC_FFMPEG = ("invalid argument", "error marking filters as finished", "conversion failed",
                   "error while decoding", "nothing was written")


@dataclass(frozen=True)
class SongAudio:
    """A decoded song in the two forms the pipeline needs."""

    path: Path
    stereo: np.ndarray  # (2, n) float32 at SEPARATION_SAMPLE_RATE
    content_hash: str  # sha256 of the file bytes: the cache key for separated stems
    title: str | None = None
    artist: str | None = None
    notes: tuple[str, ...] = ()  # what was done to the signal on the way in (level, phase)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.stereo.shape[1] / SEPARATION_SAMPLE_RATE

    def mono16k(self) -> np.ndarray:
        """The mix as Whisper hears it."""
        return stereo_to_mono16k(self.stereo)


def stereo_to_mono16k(stereo: np.ndarray) -> np.ndarray:
    """Downmix a (2, n) 44.1 kHz signal and resample it to 16 kHz mono float32."""
    mono = stereo.mean(axis=0, dtype=np.float32)
    return resample(mono, SEPARATION_SAMPLE_RATE, ASR_SAMPLE_RATE)


def resample(signal: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample along the last axis with soxr (high quality, fast, no round trips)."""
    if rate_in == rate_out:
        return np.ascontiguousarray(signal, dtype=np.float32)
    if signal.ndim == 1:
        return soxr.resample(signal, rate_in, rate_out, quality="HQ").astype(np.float32)
    out = soxr.resample(np.ascontiguousarray(signal.T), rate_in, rate_out, quality="HQ")
    return np.ascontiguousarray(out.T, dtype=np.float32)


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


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int]:
    with _silenced_native_stderr():
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T), int(rate)


def _decode_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    """Decode through ffmpeg straight to 44.1 kHz stereo float32."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(
            f"{path}: cannot decode this format without ffmpeg (install ffmpeg, "
            "or convert the file to wav/flac/mp3/ogg)"
        )
    command = [
        ffmpeg, "-nostdin", "-v", "error", "-i", str(path),
        "-f", "f32le", "-ac", "2", "-ar", str(SEPARATION_SAMPLE_RATE), "-",
    ]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, check=False)
    if proc.returncode != 0:
        detail = _ffmpeg_reason(proc.stderr.decode(errors="replace"), path)
        raise AudioError(f"{path}: not a decodable audio file ({detail or 'ffmpeg failed'})")
    samples = np.frombuffer(proc.stdout, dtype=np.float32)
    return np.ascontiguousarray(samples.reshape(-1, 2).T), SEPARATION_SAMPLE_RATE


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


def fold_antiphase(stereo: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Flip the right channel when the two are in opposite phase (they would cancel in mono)."""
    mid = float(np.square(stereo[0] + stereo[1]).mean())
    side = float(np.square(stereo[0] - stereo[1]).mean())
    if side > 0 and mid < ANTIPHASE_RATIO * side:
        folded = np.stack([stereo[0], -stereo[1]]).astype(np.float32)
        return folded, "left and right were in opposite phase: the right channel was inverted"
    return stereo, None


def limit_peak(stereo: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Scale a signal that exceeds full scale (float files can) back to a peak of 1."""
    peak = float(np.abs(stereo).max()) if stereo.size else 0.0
    if peak > HOT_PEAK:
        scaled = (stereo / peak).astype(np.float32)
        return scaled, f"peak level {20 * np.log10(peak):+.1f} dBFS: scaled down to 0 dBFS"
    return stereo, None


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


def load_song(path: str | os.PathLike[str]) -> SongAudio:
    """Decode a file into a :class:`SongAudio`, or raise :class:`AudioError` in one line."""
    path = Path(path)
    _check_readable(path)
    try:
        channels, rate = _decode_soundfile(path)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        if shutil.which("ffmpeg") is None:
            reason = str(exc).replace(str(path), "").strip(" :") or type(exc).__name__
            raise AudioError(f"{path}: not a decodable audio file (libsndfile: {reason}; "
                             f"ffmpeg, which decodes more formats, is not installed)") from exc
        channels, rate = _decode_ffmpeg(path)
    except MemoryError as exc:
        raise AudioError(f"{path}: too large to decode in memory") from exc
    if channels.size == 0:
        raise AudioError(f"{path}: no audio samples")
    if not np.isfinite(channels).all():
        raise AudioError(f"{path}: audio contains invalid (NaN/inf) samples")
    stereo = resample(to_stereo(channels), rate, SEPARATION_SAMPLE_RATE)
    duration = stereo.shape[1] / SEPARATION_SAMPLE_RATE
    if duration < MIN_DURATION:
        raise AudioError(f"{path}: too short ({duration:.2f} s; at least {MIN_DURATION:.0f} s)")
    stereo, folded = fold_antiphase(stereo)
    stereo, limited = limit_peak(stereo)
    notes = tuple(note for note in (folded, limited) if note)
    title, artist = _read_tags(path)
    return SongAudio(path, stereo, file_sha256(path), title=title, artist=artist, notes=notes)


def blend_vocals(mix16k: np.ndarray, vocals16k: np.ndarray) -> np.ndarray:
    """The mix with the separated vocals added once more: voice +6 dB over the band, and none
    of the separation's artefacts alone (they stay masked by the accompaniment)."""
    return (0.5 * (mix16k + vocals16k)).astype(np.float32)


def whisper_input(mix16k: np.ndarray, vocals16k: np.ndarray | None, asr_input: str
                  ) -> np.ndarray:
    """What Whisper hears: the mix, the separated vocals, or the blend of both."""
    if vocals16k is None or asr_input == "mix":
        return mix16k
    return vocals16k if asr_input == "vocals" else blend_vocals(mix16k, vocals16k)
