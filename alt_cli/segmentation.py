"""RMS-VAD: cut a song where the separated vocals are active, then merge into Whisper windows.

Why RMS energy rather than a speech VAD: singing is not speech, and once the accompaniment is
removed the vocal stem's loudness is a strong, model-free activity signal (Syed et al., 2025).
The state machine follows the familiar silero-vad conventions (onset/offset thresholds, a
minimum silence that closes a segment, padding, a maximum segment length with a preferred cut at
a short silence) applied to a normalised RMS envelope instead of a neural speech probability.

Everything here works on frames of the envelope, so it is testable with synthetic envelopes.
"""

from __future__ import annotations

import librosa
import numpy as np

from alt_cli.audio import ASR_SAMPLE_RATE
from alt_cli.options import WHISPER_WINDOW, VadOptions
from alt_cli.schema import Segment, VocalActivity, Window
from alt_cli.signals import Signal, blocks, read_padded, slice_of

FRAMES_PER_BLOCK = 4096  # VAD frames computed per block (~2 min at the default hop)


def frame_rms(signal: Signal, options: VadOptions = VadOptions()) -> np.ndarray:
    """RMS of each VAD frame of a 16 kHz signal, as ``librosa.feature.rms(center=True)``
    computes it, but block by block: librosa frames the whole signal at once, a temporary
    ``frame_length / hop_length`` times the signal's size (4x: ~1 GB for an hour)."""
    length, hop = options.frame_length, options.hop_length
    n_frames = 1 + len(signal) // hop
    parts = []
    for first, last in blocks(n_frames, FRAMES_PER_BLOCK):
        # Frame t is centred on sample t * hop; zeros stand for the padding beyond the ends.
        chunk = read_padded(signal, first * hop - length // 2, (last - 1) * hop + length // 2)
        parts.append(librosa.feature.rms(y=np.asarray(chunk, dtype=np.float32),
                                         frame_length=length, hop_length=hop, center=False)[0])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def mean_square(signal: Signal, spans: list[tuple[int, int]] | None = None) -> float:
    """Mean of the squared samples over ``spans`` (sample ranges; the whole signal when None),
    accumulated in float64 block by block."""
    spans = [(0, len(signal))] if spans is None else spans
    total, count = 0.0, 0
    for start, stop in spans:
        for a, b in blocks(stop - start, 1 << 20):
            chunk = slice_of(signal, start + a, start + b)
            total += float(np.square(chunk, dtype=np.float64).sum())
            count += b - a
    return total / count if count else 0.0


def rms_envelope(vocals16k: np.ndarray, options: VadOptions = VadOptions()) -> np.ndarray:
    """Frame RMS of the vocals, normalised by the song's maximum (a silent song stays zero)."""
    rms = frame_rms(vocals16k, options)
    peak = float(rms.max()) if rms.size else 0.0
    return rms / peak if peak > 0 else np.zeros_like(rms)


def _frames(seconds: float, frame_seconds: float) -> int:
    return int(round(seconds / frame_seconds))


def detect_frames(
    envelope: np.ndarray, frame_seconds: float, options: VadOptions = VadOptions()
) -> list[tuple[int, int]]:
    """Active stretches of a normalised envelope as (start, end) frame indices, before padding.

    A segment opens at the first frame >= onset and closes at the first frame of a silence
    (frames < offset) lasting >= min_silence.  Segments longer than the limit (the window minus
    both paddings and one frame) are cut at the last silence >= min_silence_at_max seen inside
    them, or, if there was none, at the lowest-energy frame of their second half.
    """
    pad = _frames(options.padding, frame_seconds)
    max_frames = _frames(options.max_segment, frame_seconds) - 2 * pad - 1
    min_silence = _frames(options.min_silence, frame_seconds)
    min_cut_silence = max(1, _frames(options.min_silence_at_max, frame_seconds))
    min_speech = _frames(options.min_speech, frame_seconds)

    segments: list[tuple[int, int]] = []
    start: int | None = None  # first frame of the open segment, if one is open
    silence_start: int | None = None  # first frame of the current silence, if in one
    cut_at: int | None = None  # start of the last long-enough silence: preferred cut
    resume_at: int | None = None  # where voice resumed after that silence

    def next_voice(begin: int, end: int) -> int | None:
        voiced = np.flatnonzero(envelope[begin : end + 1] >= options.onset)
        return begin + int(voiced[0]) if voiced.size else None

    for i, level in enumerate(envelope):
        if start is None:
            if level >= options.onset:
                start, silence_start, cut_at, resume_at = i, None, None, None
            continue
        if level >= options.onset and silence_start is not None:
            if i - silence_start >= min_cut_silence:
                cut_at, resume_at = silence_start, i
            silence_start = None
        if i - start >= max_frames:
            if cut_at is not None:
                end, restart = cut_at, resume_at
            else:
                half = start + (i - start) // 2
                end = half + int(np.argmin(envelope[half:i]))
                restart = next_voice(end, i)
            if end - start > min_speech:
                segments.append((start, end))
            start, cut_at, resume_at = restart, None, None
            silence_start = i if start is not None and level < options.offset else None
            continue
        if level < options.offset:
            if silence_start is None:
                silence_start = i
            if i - silence_start + 1 >= min_silence:
                if silence_start - start > min_speech:
                    segments.append((start, silence_start))
                start, silence_start = None, None
    if start is not None:
        end = silence_start if silence_start is not None else len(envelope)
        if end - start > min_speech:
            segments.append((start, end))
    return segments


def pad_segments(
    frames: list[tuple[int, int]], frame_seconds: float, duration: float, padding: float
) -> list[Segment]:
    """Pad each segment by `padding` seconds; when two are closer than twice that, split the gap."""
    times = [[s * frame_seconds, min(e * frame_seconds, duration)] for s, e in frames]
    for i, seg in enumerate(times):
        if i == 0:
            seg[0] = max(0.0, seg[0] - padding)
        if i + 1 < len(times):
            nxt = times[i + 1]
            gap = nxt[0] - seg[1]
            grow = gap / 2 if gap < 2 * padding else padding
            seg[1] += grow
            nxt[0] = max(0.0, nxt[0] - grow)
        else:
            seg[1] = min(duration, seg[1] + padding)
    return [Segment(round(s, 3), round(e, 3)) for s, e in times]


def merge_windows(
    segments: list[Segment], max_window: float = WHISPER_WINDOW, pack_gap: float | None = None
) -> list[Window]:
    """Greedily merge consecutive segments into windows of at most `max_window` seconds of
    Whisper input (a span of the song, or the packed segments when `pack_gap` is set)."""
    windows: list[Window] = []
    current: list[Segment] = []
    for seg in segments:
        if current and Window((*current, seg), pack_gap).duration > max_window:
            windows.append(Window(tuple(current), pack_gap))
            current = []
        current.append(seg)
    if current:
        windows.append(Window(tuple(current), pack_gap))
    return windows


def detect_vocal_activity(vocals16k: Signal, options: VadOptions = VadOptions(),
                          mix16k: Signal | None = None) -> VocalActivity:
    """Run the whole RMS-VAD on a 16 kHz mono vocal signal.

    With the mix, frames whose vocals lie below the absolute floor (``floor_db`` under the
    mix's RMS) are silence whatever the relative thresholds say, and the record carries the
    vocals' level relative to the mix.  The record keeps the normalised envelope too, so later
    stages can ask how much voice a stretch of time holds.
    """
    frame_seconds = options.hop_length / ASR_SAMPLE_RATE
    rms = frame_rms(vocals16k, options)
    peak = float(rms.max()) if rms.size else 0.0
    envelope = rms / peak if peak > 0 else np.zeros_like(rms)
    mix_rms, floored = None, 0.0
    if mix16k is not None:
        mix_rms = float(np.sqrt(mean_square(mix16k)))
        if options.floor_db is not None:
            below = rms < mix_rms * 10 ** (options.floor_db / 20)
            floored = float(np.count_nonzero(below & (envelope >= options.onset))) * frame_seconds
            envelope = np.where(below, 0.0, envelope).astype(envelope.dtype)
    frames = detect_frames(envelope, frame_seconds, options)
    duration = len(vocals16k) / ASR_SAMPLE_RATE
    segments = pad_segments(frames, frame_seconds, duration, options.padding)
    windows = merge_windows(segments, options.max_window, options.pack_gap)
    level = None
    if mix_rms is not None and segments:
        spans = [(int(s.start * ASR_SAMPLE_RATE), int(s.end * ASR_SAMPLE_RATE)) for s in segments]
        rms = float(np.sqrt(mean_square(vocals16k, spans)))
        level = round(20 * np.log10(max(rms, 1e-10) / max(mix_rms, 1e-10)), 1)
    return VocalActivity(tuple(segments), tuple(windows), envelope, frame_seconds, level,
                         round(floored, 2))
