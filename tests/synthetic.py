"""Songs with nobody singing, made with numpy: white noise, digital silence, and an
instrumental (drums + bass + chords).  What alt must answer with empty lyrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

RATE = 44100
BPM = 110
CHORDS = ((220.0, 277.18, 329.63), (196.0, 246.94, 293.66), (174.61, 220.0, 261.63),
          (196.0, 246.94, 293.66))  # A, G, F, G triads
BASS = (55.0, 49.0, 43.65, 49.0)


def white_noise(seconds: float, level_db: float = -20.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (10 ** (level_db / 20) * rng.standard_normal((int(seconds * RATE), 2))).astype(
        np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros((int(seconds * RATE), 2), dtype=np.float32)


def _decay(n: int, tau_s: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (tau_s * RATE))


def instrumental(seconds: float, seed: int = 0) -> np.ndarray:
    """Four-on-the-floor kick, backbeat snare, eighth-note hats, a bass line and triads."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    out = np.zeros(n)
    beat = int(RATE * 60 / BPM)
    t_beat = np.arange(beat) / RATE
    kick = np.sin(2 * np.pi * 50 * t_beat * (1 + 2 * _decay(beat, 0.02))) * _decay(beat, 0.15)
    snare = rng.standard_normal(beat) * _decay(beat, 0.06) * 0.5
    half = beat // 2
    hat = np.diff(rng.standard_normal(half + 1)) * _decay(half, 0.01) * 0.15
    for index, start in enumerate(range(0, n - beat, beat)):
        out[start:start + beat] += kick
        if index % 2:
            out[start:start + beat] += snare
        out[start:start + half] += hat
        out[start + half:start + 2 * half] += hat
        bar, _ = divmod(index, 4)
        chord, bass = CHORDS[bar % 4], BASS[bar % 4]
        env = _decay(beat, 0.8)
        out[start:start + beat] += 0.3 * np.sign(np.sin(2 * np.pi * bass * t_beat)) * env
        out[start:start + beat] += sum(0.12 * np.sin(2 * np.pi * f * t_beat) for f in chord) * env
    out *= 0.5 / np.abs(out).max()
    return np.stack([out, out], axis=1).astype(np.float32)


def write(path: Path, samples: np.ndarray) -> Path:
    soundfile.write(str(path), samples, RATE, subtype="PCM_16")
    return path


def nobody_sings(folder: Path, seconds: float = 60.0) -> dict[str, Path]:
    """The three files, written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "noise": write(folder / "noise.wav", white_noise(seconds)),
        "silence": write(folder / "silence.wav", silence(seconds)),
        "instrumental": write(folder / "instrumental.wav", instrumental(seconds)),
    }
