"""RMS-VAD and window merging on synthetic envelopes with hand-worked boundaries.

Frames are 0.1 s here so the arithmetic is readable: min_silence 1.0 s = 10 frames,
padding 0.2 s = 2 frames, a preferred cut silence 0.098 s = 1 frame.
"""

import numpy as np
import pytest

from alt_cli.errors import AltError
from alt_cli.options import VadOptions
from alt_cli.schema import Segment
from alt_cli.segmentation import detect_frames, detect_vocal_activity, merge_windows, pad_segments

FRAME = 0.1


def env(*runs: tuple[float, int]) -> np.ndarray:
    """Envelope from (level, frame count) runs."""
    return np.concatenate([np.full(n, level, dtype=np.float32) for level, n in runs])


def test_onset_opens_and_long_silence_closes():
    assert detect_frames(env((0, 10), (1, 20), (0, 30)), FRAME) == [(10, 30)]


def test_short_silence_keeps_the_segment_open():
    assert detect_frames(env((1, 10), (0, 9), (1, 10), (0, 20)), FRAME) == [(0, 29)]


def test_exactly_min_silence_closes():
    # 10 silent frames = 1000 ms below the threshold: the segment ends where silence began.
    assert detect_frames(env((1, 10), (0, 10), (1, 10), (0, 20)), FRAME) == [(0, 10), (20, 30)]


def test_onset_threshold_is_inclusive_and_below_is_silence():
    assert detect_frames(env((0.09, 10), (0.1, 5), (0.05, 20)), FRAME) == [(10, 15)]


def test_min_speech_drops_short_blips():
    options = VadOptions(min_speech=0.5)
    assert detect_frames(env((1, 3), (0, 20), (1, 8), (0, 20)), FRAME, options) == [(23, 31)]


def test_song_ending_while_voiced_closes_at_the_end():
    assert detect_frames(env((0, 5), (1, 10)), FRAME) == [(5, 15)]


def test_too_long_segment_cut_at_last_short_silence():
    # Limit 3.0 s -> 30 - 2*2 (padding) - 1 = 25 frames.  A 3-frame pause at 12 is the cut;
    # the rest has no pause, so it is cut at the lowest frame of its second half (the first of
    # equals), and the final stretch ends at the silence.
    options = VadOptions(max_segment=3.0)
    got = detect_frames(env((1, 12), (0, 3), (1, 30), (0, 20)), FRAME, options)
    assert got == [(0, 12), (15, 27), (27, 45)]


def test_too_long_segment_without_silence_cut_at_lowest_energy():
    options = VadOptions(max_segment=3.0)
    envelope = env((1, 20), (0.3, 1), (1, 19), (0, 20))
    assert detect_frames(envelope, FRAME, options) == [(0, 20), (20, 40)]


def test_padding_and_gap_splitting():
    padded = pad_segments([(10, 30), (33, 50), (80, 95)], FRAME, duration=9.6, padding=0.2)
    assert padded == [Segment(0.8, 3.15), Segment(3.15, 5.2), Segment(7.8, 9.6)]


def test_padding_clipped_at_song_start():
    assert pad_segments([(1, 5)], FRAME, duration=10.0, padding=0.2) == [Segment(0.0, 0.7)]


def test_windows_merge_greedily_up_to_30_seconds():
    segments = [Segment(0, 10), Segment(12, 25), Segment(26, 31), Segment(40, 45)]
    windows = merge_windows(segments)
    assert [(w.start, w.end) for w in windows] == [(0, 25), (26, 45)]
    assert windows[0].segments == (Segment(0, 10), Segment(12, 25))


def test_window_of_exactly_30_seconds_is_allowed():
    windows = merge_windows([Segment(0, 10), Segment(20, 30)])
    assert len(windows) == 1 and windows[0].duration == 30


def test_silent_envelope_gives_nothing():
    assert detect_frames(np.zeros(100, dtype=np.float32), FRAME) == []
    activity = detect_vocal_activity(np.zeros(16000 * 5, dtype=np.float32))
    assert activity.segments == () and activity.windows == ()
    assert activity.rests() == [] and activity.voiced_seconds == 0


def test_vocal_activity_on_tone_bursts():
    rate = 16000
    t = np.arange(rate * 3) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    silence = np.zeros(rate * 3, dtype=np.float32)
    signal = np.concatenate([silence[: 2 * rate], tone, silence, tone[: 2 * rate], silence])
    activity = detect_vocal_activity(signal)
    segments, windows = activity.segments, activity.windows
    assert activity.envelope.max() == pytest.approx(1.0)
    # Tones at 2-5 s and 8-10 s; frames are 32 ms with a 128 ms window, padding 0.2 s.
    assert len(segments) == 2
    assert segments[0].start == pytest.approx(1.8, abs=0.1)
    assert segments[0].end == pytest.approx(5.2, abs=0.1)
    assert segments[1].start == pytest.approx(7.8, abs=0.1)
    assert segments[1].end == pytest.approx(10.2, abs=0.1)
    assert len(windows) == 1 and windows[0].duration < 30
    (rest,) = activity.rests()
    assert rest == (segments[0].end, segments[1].start)
    assert activity.voiced_fraction(segments[0].end, segments[1].start) == 0.0
    assert activity.voiced_fraction(3.0, 4.0) == 1.0
    (energy,) = activity.window_energy()
    assert energy == pytest.approx(activity.envelope.sum(), rel=0.05)


@pytest.mark.parametrize("changes", [
    {"frame_length": 10_000_000}, {"padding": -5.0}, {"max_segment": 0.0},
    {"onset": 5.0}, {"onset": float("nan")}, {"hop_length": 4096, "frame_length": 2048},
    {"max_segment": 1.0, "padding": 0.5}, {"min_silence": float("inf")},
])
def test_vad_options_out_of_range_are_refused_with_the_flag(changes):
    with pytest.raises(AltError, match="--vad|--max"):
        VadOptions(**changes)


def test_every_segment_fits_a_whisper_window():
    rng = np.random.default_rng(0)
    envelope = (rng.random(3000) > 0.02).astype(np.float32)  # 300 s, almost always voiced
    frames = detect_frames(envelope, FRAME)
    padded = pad_segments(frames, FRAME, duration=300.0, padding=0.2)
    assert len(padded) > 10
    assert all(seg.duration <= 30.0 + 1e-6 for seg in padded)
    assert all(w.duration <= 30.0 + 1e-6 for w in merge_windows(padded))
