"""Long signals kept on disk and worked on in blocks, so memory does not grow with a song's length.

A 3-hour recording is 1.9 GB as 44.1 kHz stereo float32, and every stage used to hold its own
copy (mix, vocals, 16 kHz views, intermediate arrays).  Stages now read and write their signals in
blocks through the small interface an ndarray already has (``shape``, ``dtype``, ``len`` and
slicing), so the same code runs on an in-memory array (ordinary songs: no disk traffic, nothing
changes) or on a :class:`DiskSignal` (long files), which reads and writes through ``pread`` /
``pwrite`` rather than ``mmap``: pages of a mapping would count in the process's resident memory
as they are touched, which is exactly the growth this module exists to stop.

A spilled temporary is unlinked as soon as it is created: the open descriptor keeps its bytes
alive and the file vanishes with the process, even under SIGKILL, so nothing is ever left behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

BLOCK_SECONDS = 30.0  # audio per block when a stage walks a whole signal
Signal = np.ndarray  # or DiskSignal: anything with shape, dtype, len() and slicing


class DiskSignal:
    """A C-ordered ``(n,)`` or ``(channels, n)`` array in a file, read and written by slices.

    Only the access patterns the pipeline uses are supported: ``x[a:b]`` on a 1-D signal, and
    ``x[:, a:b]``, ``x[c, a:b]`` or ``x[c]`` on a 2-D one (steps of 1).  Reads return fresh
    ndarrays; assignment writes through.
    """

    def __init__(self, fd: int, shape: tuple[int, ...], dtype: np.dtype | type,
                 offset: int = 0, *, owns_fd: bool = True) -> None:
        if len(shape) not in (1, 2):
            raise ValueError(f"a signal is 1-D or 2-D, not {shape}")
        self._fd = fd
        self._owns_fd = owns_fd
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.offset = offset  # bytes before the data (a .npy header)
        self._stride = self.shape[-1] * self.dtype.itemsize  # bytes per channel row

    @classmethod
    def temporary(cls, folder: Path, shape: tuple[int, ...], dtype: np.dtype | type
                  ) -> DiskSignal:
        """A new zero-filled signal in an already unlinked file in ``folder``."""
        fd, path = tempfile.mkstemp(prefix=".alt-signal-", dir=folder)
        os.unlink(path)
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        os.ftruncate(fd, size)
        return cls(fd, shape, dtype)

    @classmethod
    def open_npy(cls, path: Path, writable: bool = False) -> DiskSignal:
        """An existing C-ordered ``.npy`` file, without reading its data."""
        fd = os.open(path, os.O_RDWR if writable else os.O_RDONLY)
        try:
            with os.fdopen(os.dup(fd), "rb") as handle:
                version = np.lib.format.read_magic(handle)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(handle)
                offset = handle.tell()
            if fortran:
                raise ValueError(f"{path}: Fortran-ordered arrays are not supported")
            expected = offset + int(np.prod(shape)) * np.dtype(dtype).itemsize
            if os.fstat(fd).st_size != expected:
                raise ValueError(f"{path}: file size does not match its header")
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, shape, dtype, offset)

    @classmethod
    def create_npy(cls, path: Path, shape: tuple[int, ...], dtype: np.dtype | type
                   ) -> DiskSignal:
        """A new ``.npy`` file at ``path`` (which must not exist), zero-filled, to write into."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(os.dup(fd), "wb") as handle:
                header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                          "fortran_order": False, "shape": tuple(shape)}
                np.lib.format.write_array_header_1_0(handle, header)
                offset = handle.tell()
            os.ftruncate(fd, offset + int(np.prod(shape)) * np.dtype(dtype).itemsize)
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, shape, dtype, offset)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def sync(self) -> None:
        """Flush written data to disk (before a rename makes the file visible)."""
        os.fsync(self._fd)

    def close(self) -> None:
        if getattr(self, "_owns_fd", False) and self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()

    def truncated(self, n: int) -> DiskSignal:
        """The first ``n`` samples of every channel (a view sharing this file)."""
        if n > self.shape[-1]:
            raise ValueError("cannot grow a signal")
        view = DiskSignal(self._fd, (*self.shape[:-1], n), self.dtype, self.offset,
                          owns_fd=False)
        view._stride = self._stride
        view._parent = self  # keeps the descriptor open while the view lives
        return view

    def _rows_and_span(self, key) -> tuple[list[int], int, int, bool]:
        """(channel rows, first sample, end sample, squeeze the channel axis) for ``key``."""
        n = self.shape[-1]
        if self.ndim == 1:
            rows, span, squeeze = [0], key, True
        else:
            chan, span = key if isinstance(key, tuple) else (key, slice(None))
            if isinstance(chan, slice):
                rows, squeeze = list(range(self.shape[0]))[chan], False
            else:
                rows, squeeze = [range(self.shape[0])[int(chan)]], True
        if not isinstance(span, slice) or span.step not in (None, 1):
            raise TypeError(f"DiskSignal supports contiguous slices only, not {key!r}")
        start, stop, _ = span.indices(n)
        return rows, start, max(start, stop), squeeze

    def __getitem__(self, key) -> np.ndarray:
        rows, start, stop, squeeze = self._rows_and_span(key)
        count = stop - start
        out = np.empty((len(rows), count), dtype=self.dtype)
        for i, row in enumerate(rows):
            position = self.offset + row * self._stride + start * self.dtype.itemsize
            buffer = memoryview(out[i]).cast("B")
            done = 0
            while done < len(buffer):
                got = os.preadv(self._fd, [buffer[done:]], position + done)
                if got <= 0:
                    raise OSError(f"short read from a spilled signal ({done} of {len(buffer)})")
                done += got
        return out[0] if squeeze else out

    def __setitem__(self, key, value) -> None:
        rows, start, stop, _ = self._rows_and_span(key)
        data = np.broadcast_to(np.asarray(value, dtype=self.dtype), (len(rows), stop - start))
        for i, row in enumerate(rows):
            position = self.offset + row * self._stride + start * self.dtype.itemsize
            payload = np.ascontiguousarray(data[i]).tobytes()
            done = 0
            while done < len(payload):
                done += os.pwrite(self._fd, payload[done:], position + done)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """The whole signal in memory (for code that cannot work in blocks: plain Whisper's
        long-form loop)."""
        data = self[:] if self.ndim == 1 else self[:, :]
        return data if dtype is None else data.astype(dtype)


def new_signal(shape: tuple[int, ...], dtype: np.dtype | type, spill_dir: Path | None
               ) -> Signal | DiskSignal:
    """A zeroed signal in memory, or in an unlinked file under ``spill_dir`` when one is given."""
    if spill_dir is None:
        return np.zeros(shape, dtype=dtype)
    Path(spill_dir).mkdir(parents=True, exist_ok=True)
    return DiskSignal.temporary(Path(spill_dir), shape, dtype)


def grown(signal: Signal | DiskSignal, used: int, capacity: int, spill_dir: Path | None
          ) -> Signal | DiskSignal:
    """A larger copy of ``signal`` (its first ``used`` samples kept) with room for
    ``capacity`` samples, in memory or on disk as the original was."""
    bigger = new_signal((*signal.shape[:-1], capacity), signal.dtype,
                        None if isinstance(signal, np.ndarray) else spill_dir)
    step = 1 << 20
    for a, b in blocks(used, step):
        if bigger.ndim == 1:
            bigger[a:b] = slice_of(signal, a, b)
        else:
            bigger[:, a:b] = slice_of(signal, a, b)
    return bigger


def blocks(n: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, stop) pairs covering ``range(n)`` in steps of ``size``."""
    for start in range(0, n, size):
        yield start, min(n, start + size)


def read_padded(signal, start: int, stop: int) -> np.ndarray:
    """``signal[..., start:stop]`` where samples outside the signal read as zeros."""
    n = signal.shape[-1]
    lo, hi = max(0, start), min(n, stop)
    inner = slice_of(signal, lo, hi)
    if lo == start and hi == stop:
        return inner
    shape = (*signal.shape[:-1], stop - start)
    out = np.zeros(shape, dtype=signal.dtype)
    if hi > lo:
        out[..., lo - start:hi - start] = inner
    return out


def slice_of(signal, start: int, stop: int) -> np.ndarray:
    """``signal[..., start:stop]`` as an ndarray, for either kind of signal."""
    if isinstance(signal, np.ndarray):
        return signal[..., start:stop]
    return signal[start:stop] if signal.ndim == 1 else signal[:, start:stop]
