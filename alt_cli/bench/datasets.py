"""Benchmark datasets: Jam-ALT, MUSDB-ALT and UltraStar from a local folder (Jam-ALT and
MUSDB-ALT also from the Hugging Face Hub).

Folder layout (that of ``../shared/jam-alt-dev`` and ``../shared/ultrastar-dev``)::

    audio/<name>.(mp3|wav|flac|ogg|...)  the mixes (any of options.AUDIO_EXTENSIONS)
    lyrics/<name>.txt                reference lyrics (lines, blank line between sections;
                                     UltraStar's have no section breaks)
    lyrics_tagged/<name>.txt         optional: the same with <nl>...</nl> around vocables
    line_timings/<name>.csv          optional: start,end,text per line (short-form task)
    stems/<name>/vocals.wav          optional (MUSDB-ALT): the true vocal stem
    lyrics_jamendo/<name>.txt        optional: the text given to `alt align` (--task align)
    word_timings/<name>.csv          optional: word,start,end,line_end (--task align and
                                     --task layout, which needs no audio/)
    metadata.csv                     optional: name, language, artist, title, ...

The song list and languages come from the manifest in ``data_manifests/`` when there is one,
else from the folder itself (and the loader says so).  No audio or lyrics live in this repo.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alt_cli.errors import AltError
from alt_cli.options import AUDIO_EXTENSIONS as AUDIO_NAMES

AUDIO_SUFFIXES = tuple(f".{ext}" for ext in AUDIO_NAMES)  # in the order looked for
MANIFEST_DIR = Path(__file__).resolve().parents[2] / "data_manifests"


@dataclass(frozen=True)
class DatasetInfo:
    """Where a benchmark's song list and public copy are."""

    name: str
    manifest: str | None  # file in data_manifests/, None when the list is not established
    hub_repo: str | None  # Hugging Face dataset repository; None when there is no public copy
    sections: bool = True  # its references mark sections (blank lines); scored only if so


DATASETS = {
    "jam-alt": DatasetInfo("jam-alt", "jam-alt.csv", "jamendolyrics/jam-alt"),
    # The 39 MUSDB18 test songs that have lyrics: no public list we could verify offline, so
    # the song list is taken from the data folder.
    "musdb-alt": DatasetInfo("musdb-alt", None, "audioshake/musdb-alt"),
    # English Creative Commons songs of UltraStar-Deluxe/songs with karaoke line and word
    # timings (``../shared/ultrastar-dev``): local only, songs taken from the folder.
    "ultrastar": DatasetInfo("ultrastar", None, None, sections=False),
}
# What each task needs of a song beyond audio/ and lyrics/ (BenchSong fields, and the folders
# they come from); songs without it are left out of that task's selection, with a note.
TASK_NEEDS = {
    "transcribe": (),
    "align": (("lyrics_jamendo", "lyrics_jamendo/"), ("word_timings", "word_timings/")),
    # The layout bench needs no audio: the reference's words at their human times.
    "layout": (("word_timings", "word_timings/"),),
}
NO_AUDIO_TASKS = frozenset({"layout"})


@dataclass(frozen=True)
class BenchSong:
    """One song of a benchmark with every reference the folder has for it."""

    name: str
    language: str
    audio: Path | None  # None only for tasks that need no audio (the layout bench)
    lyrics: str
    lyrics_tagged: str | None = None
    line_timings: Path | None = None
    vocals_stem: Path | None = None
    artist: str = ""
    title: str = ""
    # JamendoLyrics' own lyrics text and its human word timings (the alignment task).
    lyrics_jamendo: Path | None = None
    word_timings: Path | None = None
    sections: bool = True  # the dataset's references mark sections (see scoring)


@dataclass
class DatasetSelection:
    """The songs a run will use, and what was asked for but is not there."""

    dataset: str
    data_dir: Path
    songs: list[BenchSong]
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_metadata(path: Path) -> dict[str, dict[str, str]]:
    """name -> row of a metadata/manifest CSV (needs a 'name' column)."""
    try:
        with open(path, encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise AltError(f"{path}: cannot read ({exc})") from exc
    if rows and "name" not in rows[0]:
        raise AltError(f"{path}: no 'name' column")
    return {row["name"]: row for row in rows}


def _find_audio(data_dir: Path, name: str) -> Path | None:
    for ext in AUDIO_SUFFIXES:
        path = data_dir / "audio" / f"{name}{ext}"
        if path.is_file():
            return path
    return None


def _optional_text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def fetch_from_hub(info: DatasetInfo) -> Path:
    """Download a benchmark from the Hugging Face Hub (optional extra), or say what to do."""
    hint = f"pass --data-dir DIR with a local copy of {info.name}"
    if info.hub_repo is None:
        raise AltError(f"{info.name} has no public copy to download: {hint}")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise AltError(f"no local data: {hint} (or pip install 'alt-cli[hub]' to download "
                       f"{info.hub_repo})") from exc
    try:
        return Path(snapshot_download(info.hub_repo, repo_type="dataset"))
    except Exception as exc:  # noqa: BLE001 - offline, auth, missing repo: all one message
        raise AltError(f"cannot download {info.hub_repo} ({type(exc).__name__}); {hint}") from exc


def load_dataset(
    dataset: str,
    data_dir: Path | None = None,
    *,
    songs: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    limit: int | None = None,
    task: str = "transcribe",
) -> DatasetSelection:
    """Select the songs of a benchmark that are present in `data_dir`.

    Songs that lack what `task` needs (see TASK_NEEDS) are left out before `limit` applies,
    and a note names them: one song without word timings does not stop an align run.
    """
    if dataset not in DATASETS:
        raise AltError(f"unknown dataset {dataset!r} (choose from {', '.join(DATASETS)})")
    if task not in TASK_NEEDS:
        raise AltError(f"unknown task {task!r} (choose from {', '.join(TASK_NEEDS)})")
    info = DATASETS[dataset]
    data_dir = data_dir if data_dir is not None else fetch_from_hub(info)
    needs_audio = task not in NO_AUDIO_TASKS
    songs_folder = data_dir / ("audio" if needs_audio else "word_timings")
    if not songs_folder.is_dir():
        raise AltError(f"{data_dir}: no {songs_folder.name}/ folder (expected the {dataset} "
                       "layout)")
    notes: list[str] = []
    metadata = read_metadata(data_dir / "metadata.csv") if (
        data_dir / "metadata.csv").is_file() else {}
    if info.manifest and (MANIFEST_DIR / info.manifest).is_file():
        listed = read_metadata(MANIFEST_DIR / info.manifest)
    else:
        suffixes = AUDIO_SUFFIXES if needs_audio else (".csv",)
        listed = {p.stem: metadata.get(p.stem, {}) for p in sorted(songs_folder.iterdir())
                  if p.suffix.lower() in suffixes}
        notes.append(f"no verified {dataset} song list: using the {len(listed)} songs found in "
                     f"{songs_folder}")
    wanted = list(listed)
    if songs:
        unknown = [name for name in songs if name not in listed]
        if unknown:
            raise AltError(f"not in {dataset}: {', '.join(unknown)}")
        wanted = list(songs)

    selected, missing = [], []
    lacking: list[str] = []  # songs left out of the task, with what they lack
    for name in wanted:
        row = {**listed.get(name, {}), **metadata.get(name, {})}
        language = row.get("language", "")
        if languages and language not in languages:
            continue
        audio = _find_audio(data_dir, name)
        lyrics = _optional_text(data_dir / "lyrics" / f"{name}.txt")
        if lyrics is None or (audio is None and needs_audio):
            missing.append(name)
            continue
        if not language:
            raise AltError(f"{name}: no language in the manifest or {data_dir}/metadata.csv")
        timings = data_dir / "line_timings" / f"{name}.csv"
        stem = data_dir / "stems" / name / "vocals.wav"
        jamendo = data_dir / "lyrics_jamendo" / f"{name}.txt"
        word_timings = data_dir / "word_timings" / f"{name}.csv"
        song = BenchSong(
            name=name, language=language, audio=audio, lyrics=lyrics,
            lyrics_tagged=_optional_text(data_dir / "lyrics_tagged" / f"{name}.txt"),
            line_timings=timings if timings.is_file() else None,
            vocals_stem=stem if stem.is_file() else None,
            artist=row.get("artist", ""), title=row.get("title", ""),
            lyrics_jamendo=jamendo if jamendo.is_file() else None,
            word_timings=word_timings if word_timings.is_file() else None,
            sections=info.sections,
        )  # fmt: skip
        absent = [folder for attr, folder in TASK_NEEDS[task] if getattr(song, attr) is None]
        if absent:
            lacking.append(f"{name} (no {' or '.join(absent)})")
            continue
        selected.append(song)
        if limit and len(selected) >= limit:
            break
    left_out = (f"--task {task} leaves out {len(lacking)} song(s) it cannot score: "
                f"{', '.join(lacking)}") if lacking else ""
    if not selected:
        need = "".join(f", {folder}<name>" for _, folder in TASK_NEEDS[task])
        audio = "audio/<name>.<audio extension>, " if needs_audio else ""
        raise AltError(f"{data_dir}: no usable {dataset} song (need {audio}lyrics/<name>.txt"
                       f"{need})" + (left_out and f"; {left_out}"))
    if left_out:
        notes.append(left_out)
    return DatasetSelection(dataset, data_dir, selected, missing, notes)
