"""Demucs vocal separation, and finding its weights without touching the network.

``demucs.pretrained.get_model(name)`` first asks the HuggingFace hub, then the legacy AWS
repo, and offline it spends ~25 s retrying before it fails.  A CLI that picks its separator
automatically cannot afford that on every run, so this module decides from the file system
alone whether a model's files are already here: in a local ``--demucs-repo`` folder, in torch
hub's checkpoint cache (where the legacy repo downloads to), or in the HuggingFace cache
(where demucs >= 4.1 downloads to).  Only when they all are is demucs asked to load them, by
a route that reads exactly those files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from alt_cli.audio import SEPARATION_SAMPLE_RATE
from alt_cli.errors import ModelUnavailableError
from alt_cli.options import DEMUCS_MODEL
from alt_cli.runtime import package_dir
from alt_cli.signals import Signal, blocks, slice_of

SAMPLE_RATE = SEPARATION_SAMPLE_RATE  # Hz; every released demucs model, and what we feed it
# Segments per forward pass on a GPU: measured on an H100 (benchmarks/gpu_levers.py, four
# hybrid Demucs, 12 min in 4 songs) 8 -> 87x real time, 24 (songs together) -> 157x, at ~1.8 GiB
# of GPU memory per 44-s segment; the batch is sized to the card, leaving room for Whisper.
GPU_SEGMENTS_MAX = 24
GPU_GIB_PER_SEGMENT = 2.0
GPU_GIB_RESERVED = 10.0  # Whisper large-v2 in fp16 with its batches, and the allocator's slack
SPLIT_OVERLAP = 0.25  # fraction of each segment overlapped with the next (demucs's default)
NORMALISE_EPS = 1e-8  # added to the mix's std so digital silence does not divide by zero
VOCALS = "vocals"
# Longer songs are separated in blocks (memory stays flat); shorter ones exactly as demucs does.
WHOLE_SONG_SECONDS = 600.0
BLOCK_SECONDS = 120.0
BLOCK_OVERLAP_SECONDS = 5.0


@dataclass(frozen=True)
class DemucsWeights:
    """Where a model's files were found, and which files it needs."""

    model: str
    source: str  # "repo" (a --demucs-repo folder) | "torch-hub" | "hf-cache"
    files: tuple[Path, ...]  # one weight file per model in the bag
    bag: Path | None  # the bag's yaml, when ``model`` names a bag rather than one signature
    repo: Path | None = None


def find_demucs_weights(model: str = DEMUCS_MODEL, repo: Path | None = None
                        ) -> DemucsWeights | None:
    """Locate every file ``model`` needs on this machine, or None; file-system checks only."""
    if repo is not None:
        return _find_in_local_repo(model, Path(repo))
    package = _demucs_package_dir()
    if package is None:
        return None
    return _find_in_torch_hub(model, package / "remote") or _find_in_hf_cache(model)


def demucs_weights_available(model: str = DEMUCS_MODEL, repo: Path | None = None) -> bool:
    """Whether ``model`` can be loaded offline right now (fast: no network, no model load)."""
    return find_demucs_weights(model, repo) is not None


def unavailable_message(model: str, repo: Path | None) -> str:
    """One line saying why ``model`` cannot be used and what to do about it."""
    if _demucs_package_dir() is None:
        return "demucs is not installed: `pip install demucs`, or use --separator spleeter"
    if repo is not None:
        return (f"demucs model {model!r} not found in {repo} (needs {model}.yaml and its "
                f"<signature>.th files, or <signature>.th); fix --demucs-repo or use "
                f"--separator spleeter")
    return (f"demucs model {model!r} is not on this machine: run `demucs -n {model}` once with "
            f"network to cache it, pass --demucs-repo DIR with its .yaml/.th files, or use "
            f"--separator spleeter")


class DemucsSeparator:
    """Vocals from a demucs model (or bag of models), loaded once at construction."""

    name = "demucs"

    def __init__(self, model: str = DEMUCS_MODEL, repo: Path | None = None,
                 device: str = "cpu") -> None:
        """Load ``model`` from wherever :func:`find_demucs_weights` finds it, else raise."""
        weights = find_demucs_weights(model, repo)
        if weights is None:
            raise ModelUnavailableError(unavailable_message(model, repo))
        self.model = model
        self.device = device
        # Segments per forward pass: a GPU idles on one at a time; on a CPU one at a time is
        # as fast and holds the least memory (the results are the same either way).
        self.batch_size = gpu_segments_per_batch(device)
        self.autocast = None  # or torch.float16 / torch.bfloat16: see apply_batched
        # Local folders can hold any weights under any name, so the cache key needs more than
        # the name; the released models' files carry their checksum in their names already.
        self.weights_tag = _weights_tag(weights) if weights.source == "repo" else ""
        self._net = _load(weights)
        if self._net.samplerate != SAMPLE_RATE or self._net.audio_channels != 2:
            raise ModelUnavailableError(
                f"demucs model {model!r} works at {self._net.samplerate} Hz with "
                f"{self._net.audio_channels} channel(s); only 44.1 kHz stereo models are supported")
        if VOCALS not in self._net.sources:
            raise ModelUnavailableError(f"demucs model {model!r} has no vocals source "
                                        f"(sources: {', '.join(self._net.sources)})")
        self._vocals_index = list(self._net.sources).index(VOCALS)

    def separate(self, stereo: np.ndarray) -> np.ndarray:
        """Vocals of a ``(2, n)`` float32 44.1 kHz mix, as ``(2, n)`` float32."""
        if stereo.ndim != 2 or stereo.shape[0] != 2:
            raise ValueError(f"expected a (2, n) stereo array, got shape {stereo.shape}")
        out = np.zeros(stereo.shape, dtype=np.float32)

        def write(start: int, block: np.ndarray) -> None:
            out[:, start:start + block.shape[-1]] = block

        self.separate_into(stereo, write)
        return out

    def separate_into(self, stereo: Signal, write: Callable[[int, np.ndarray], None]) -> None:
        """Vocals of a ``(2, n)`` mix handed to ``write(start, block)`` in order.

        Normalised like ``demucs.api`` does (zero mean, unit std of the mono mix, over the whole
        song), because the models were trained on normalised input; the scaling is undone on
        the output.  A song up to :data:`WHOLE_SONG_SECONDS` goes through ``apply_model`` in one
        call, exactly as demucs separates it; a longer one in blocks of
        :data:`BLOCK_SECONDS` cross-faded over :data:`BLOCK_OVERLAP_SECONDS` (inside each block
        ``apply_model`` already cross-fades its own segments), so memory stays flat.
        """
        if stereo.ndim != 2 or stereo.shape[0] != 2:
            raise ValueError(f"expected a (2, n) stereo array, got shape {stereo.shape}")
        n = stereo.shape[1]
        if n == 0:
            return
        if n <= WHOLE_SONG_SECONDS * SAMPLE_RATE:
            mix = np.ascontiguousarray(slice_of(stereo, 0, n), dtype=np.float32)
            mean, std = _mono_mean_std(mix)
            write(0, self._vocals(mix, mean, std))
            return
        mean, std = _mono_stats_in_blocks(stereo)
        size, overlap = int(BLOCK_SECONDS * SAMPLE_RATE), int(BLOCK_OVERLAP_SECONDS * SAMPLE_RATE)
        pending: np.ndarray | None = None  # the previous block's tail, faded into this block
        start = 0
        while True:
            stop = min(n, start + size)
            vocals = self._vocals(np.ascontiguousarray(slice_of(stereo, start, stop),
                                                       dtype=np.float32), mean, std)
            if pending is not None:
                m = pending.shape[-1]
                ramp = np.linspace(0.0, 1.0, m + 2, dtype=np.float32)[1:-1]
                vocals[:, :m] = pending * (1.0 - ramp) + vocals[:, :m] * ramp
            if stop == n:
                write(start, vocals)
                return
            write(start, vocals[:, :size - overlap])
            pending = vocals[:, size - overlap:].copy()
            start += size - overlap

    def separate_many(self, stereos: list[np.ndarray]) -> list[np.ndarray]:
        """:meth:`separate` for several songs whose segments share the network's forward
        passes (on a GPU a 3-min song does not fill a batch).  Songs longer than
        :data:`WHOLE_SONG_SECONDS` are separated alone, in blocks, as :meth:`separate` does."""
        out: list[np.ndarray | None] = [None] * len(stereos)
        together = []
        for k, stereo in enumerate(stereos):
            if stereo.ndim != 2 or stereo.shape[0] != 2:
                raise ValueError(f"expected a (2, n) stereo array, got shape {stereo.shape}")
            if 0 < stereo.shape[1] <= WHOLE_SONG_SECONDS * SAMPLE_RATE:
                together.append(k)
            else:
                out[k] = self.separate(stereo)
        mixes = [np.ascontiguousarray(stereos[k], dtype=np.float32) for k in together]
        for k, vocals in zip(together, self._vocals_many(mixes), strict=True):
            out[k] = vocals
        return [vocals for vocals in out if vocals is not None]

    def _vocals(self, mix: np.ndarray, mean: float, std: float) -> np.ndarray:
        """The vocals ``apply_model`` finds in one ``(2, k)`` stretch, normalised by the song's
        ``mean`` and ``std``."""
        return self._vocals_many([mix], [(mean, std)])[0]

    def _vocals_many(self, mixes: list[np.ndarray],
                     stats: list[tuple[float, float]] | None = None) -> list[np.ndarray]:
        """:meth:`_vocals` of several stretches, each normalised by its own (mean, std) (by
        default its own mono mix's), their segments batched together."""
        import torch

        from alt_cli.separation.batched import apply_batched_many

        if not mixes:
            return []
        stats = stats if stats is not None else [_mono_mean_std(mix) for mix in mixes]
        with torch.inference_mode():
            # normalised on the model's device: the segments' overlap-add then stays there
            tensors = [((torch.from_numpy(mix).to(self.device) - mean) / std)[None]
                       for mix, (mean, std) in zip(mixes, stats, strict=True)]
            sources = apply_batched_many(self._net, tensors, overlap=SPLIT_OVERLAP,
                                         batch_size=self.batch_size, device=self.device,
                                         autocast=self.autocast)
            return [(out[0, self._vocals_index] * std + mean).to("cpu", torch.float32)
                    .contiguous().numpy() for out, (mean, std) in zip(sources, stats,
                                                                      strict=True)]


def gpu_segments_per_batch(device: str) -> int:
    """Segments per forward pass: 1 on a CPU (as fast, and the least memory; the results are
    the same either way), on a GPU as many as its memory holds, up to GPU_SEGMENTS_MAX."""
    if not str(device).startswith("cuda"):
        return 1
    import torch

    total = torch.cuda.get_device_properties(torch.device(device)).total_memory / 2**30
    return int(max(1, min(GPU_SEGMENTS_MAX, (total - GPU_GIB_RESERVED) // GPU_GIB_PER_SEGMENT)))


def _mono_mean_std(mix: np.ndarray) -> tuple[float, float]:
    """Mean and std (+eps) of the mono mix, as ``demucs.api`` computes them (float32 torch)."""
    import torch

    ref = torch.from_numpy(mix).mean(0)
    mean = ref.mean()
    std = (ref.std() if ref.numel() > 1 else torch.tensor(0.0)) + NORMALISE_EPS
    return float(mean), float(std)


def _mono_stats_in_blocks(stereo: Signal) -> tuple[float, float]:
    """:func:`_mono_mean_std` over a long signal, accumulated in float64 block by block."""
    n = stereo.shape[1]
    total = squares = 0.0
    for a, b in blocks(n, int(BLOCK_SECONDS * SAMPLE_RATE)):
        mono = slice_of(stereo, a, b).mean(axis=0, dtype=np.float64)
        total += float(mono.sum())
        squares += float(np.square(mono).sum())
    mean = total / n
    variance = max(0.0, squares - n * mean * mean) / max(1, n - 1)
    return mean, float(np.sqrt(variance)) + NORMALISE_EPS


def _demucs_package_dir() -> Path | None:
    """The installed demucs package folder, found without importing demucs (and torch)."""
    return package_dir("demucs")


def _bag_signatures(yaml_file: Path) -> list[str] | None:
    """The model signatures a bag yaml lists, or None if it is unreadable or malformed."""
    try:
        bag = yaml.safe_load(yaml_file.read_text())
        signatures = bag["models"]
    except (OSError, yaml.YAMLError, TypeError, KeyError):
        return None
    if not isinstance(signatures, list) or not signatures:
        return None
    return [str(sig) for sig in signatures]


def _find_in_local_repo(model: str, repo: Path) -> DemucsWeights | None:
    """Resolve ``model`` in a folder laid out like demucs's LocalRepo + BagOnlyRepo.

    A ``.th`` file is named ``<sig>.th`` or ``<sig>-<checksum>.th``; a bag is ``<name>.yaml``.
    """
    if not repo.is_dir():
        return None
    by_sig = {}
    for file in repo.iterdir():
        if file.suffix == ".th":
            by_sig[file.stem.rsplit("-", 1)[0]] = file
    if model in by_sig:
        return DemucsWeights(model, "repo", (by_sig[model],), None, repo)
    bag = repo / f"{model}.yaml"
    signatures = _bag_signatures(bag) if bag.is_file() else None
    if signatures is None or any(sig not in by_sig for sig in signatures):
        return None
    return DemucsWeights(model, "repo", tuple(by_sig[sig] for sig in signatures), bag, repo)


def _remote_files(remote: Path) -> dict[str, str]:
    """Signature -> path below demucs's download root, parsed from ``remote/files.txt``.

    The format is demucs's own: ``root: <folder>/`` lines set a prefix for the file names
    (``<sig>-<checksum>.th``) that follow; ``#`` starts a comment.
    """
    files: dict[str, str] = {}
    root = ""
    try:
        lines = (remote / "files.txt").read_text().splitlines()
    except OSError:
        return files
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("root:"):
            root = line.split(":", 1)[1].strip()
        else:
            files[line.split("-", 1)[0]] = root + line
    return files


def _find_in_torch_hub(model: str, remote: Path) -> DemucsWeights | None:
    """Resolve a released model against torch hub's checkpoint folder.

    ``torch.hub.load_state_dict_from_url`` stores a download under its URL's file name, and
    uses that file without any network access when it exists.
    """
    import torch

    files = _remote_files(remote)
    bag = remote / f"{model}.yaml"
    if model in files:
        signatures, bag_file = [model], None
    elif bag.is_file():
        signatures, bag_file = _bag_signatures(bag), bag
    else:
        return None
    if not signatures or any(sig not in files for sig in signatures):
        return None
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    paths = tuple(checkpoints / Path(files[sig]).name for sig in signatures)
    if not all(path.is_file() for path in paths):
        return None
    return DemucsWeights(model, "torch-hub", paths, bag_file)


def _find_in_hf_cache(model: str) -> DemucsWeights | None:
    """Resolve a named model against the HuggingFace cache, as demucs >= 4.1 lays it out."""
    try:
        from demucs.hf import DEFAULT_NAMESPACE, hf_repo_name
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # older demucs, or no huggingface_hub: nothing can be cached there
        return None
    name = model.removeprefix("hf://")
    namespace, _, name = name.rpartition("/")
    repo_id = f"{namespace or DEFAULT_NAMESPACE}/{hf_repo_name(name)}"

    def cached(filename: str) -> Path | None:
        try:
            found = try_to_load_from_cache(repo_id, filename)
        except ValueError:  # a name that cannot be a HuggingFace repo id cannot be cached
            return None
        return Path(found) if isinstance(found, str) else None

    bag = cached(f"{name}.yaml")
    signatures = _bag_signatures(bag) if bag is not None else None
    if signatures is None:
        return None
    paths = [cached(f"{sig}.safetensors") for sig in signatures]
    if any(path is None for path in paths):
        return None
    return DemucsWeights(model, "hf-cache", tuple(paths), bag)  # type: ignore[arg-type]


def _load(weights: DemucsWeights):
    """Build the demucs model from files known to be present, by a network-free route."""
    try:
        if weights.source == "repo":
            from demucs.pretrained import get_model

            return get_model(weights.model, repo=weights.repo)
        if weights.source == "torch-hub":
            return _load_from_torch_hub(weights.model)
        return _load_from_hf_cache(weights)
    except SystemExit as exc:  # demucs calls sys.exit when a quantized model lacks diffq
        raise ModelUnavailableError(f"demucs model {weights.model!r} needs the diffq package: "
                                    f"`pip install diffq`, or use another model") from exc
    except ModelUnavailableError:
        raise
    except Exception as exc:  # demucs raises many kinds on bad files; the user needs one line
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelUnavailableError(f"cannot load demucs model {weights.model!r} "
                                    f"({weights.source}): {detail}") from exc


def _load_from_torch_hub(model: str):
    """Load a released model the way ``get_model`` does, minus its HuggingFace attempt."""
    from demucs.pretrained import REMOTE_ROOT, ROOT_URL
    from demucs.repo import AnyModelRepo, BagOnlyRepo, RemoteRepo

    urls = {sig: ROOT_URL + path for sig, path in _remote_files(REMOTE_ROOT).items()}
    model_repo = RemoteRepo(urls)
    net = AnyModelRepo(model_repo, BagOnlyRepo(REMOTE_ROOT, model_repo)).get_model(model)
    return net.eval()


def _load_from_hf_cache(weights: DemucsWeights):
    """Load a bag from cached safetensors files with demucs's own HuggingFace loader."""
    from demucs.apply import BagOfModels
    from demucs.hf import load_safetensors_model

    assert weights.bag is not None
    bag = yaml.safe_load(weights.bag.read_text())
    models = [load_safetensors_model(path) for path in weights.files]
    return BagOfModels(models, bag.get("weights"), bag.get("segment")).eval()


def _weights_tag(weights: DemucsWeights) -> str:
    """Short digest of the weight files' names and sizes: cheap, and changes with the weights."""
    digest = hashlib.sha256()
    for path in (*weights.files, *([weights.bag] if weights.bag else [])):
        digest.update(f"{path.name}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:8]
