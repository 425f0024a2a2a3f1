"""Runs every song x configuration of a benchmark, reusing models and finished transcripts.

Benchmark-only behaviour lives here, not in the product pipeline: the true vocal stem as
Whisper's input (MUSDB-ALT), the short-form task (Whisper on given clips), and models shared
between configurations.  A run's folder is determined by its command, and every transcript is
kept in it, so re-running the same command resumes where it stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from alt_cli.alignment import Aligner
from alt_cli.audio import SongAudio, load_song
from alt_cli.bench.configs import ASR_INPUT_STEM, BenchConfig, Variant, config_options
from alt_cli.bench.datasets import BenchSong
from alt_cli.bench.instrumental import instrumental_seconds, instrumental_words
from alt_cli.bench.shortform import read_line_timings, short_form_items, strip_tags
from alt_cli.bench.timing import onset_errors, read_word_timings
from alt_cli.errors import AltError
from alt_cli.fileio import atomic_write_text
from alt_cli.formats import render_json, render_txt
from alt_cli.options import TranscribeOptions, settings_key, with_settings
from alt_cli.pipeline import ModelStore, Transcriber
from alt_cli.progress import Reporter
from alt_cli.runtime import resolve_device
from alt_cli.schema import Segment, SeparationResult, Window
from alt_cli.transcription import WindowTranscriber


@dataclass(frozen=True)
class BenchPlan:
    """Everything that decides a bench run."""

    configs: tuple[BenchConfig, ...]
    out_dir: Path
    base: TranscribeOptions  # the settings every configuration starts from
    mode: str = "long"
    variants: tuple[Variant, ...] = ()
    task: str = "transcribe"


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
    # Words in instrumental passages and the instrumental minutes (long mode, with line
    # timings); see :mod:`alt_cli.bench.instrumental`.
    instrumental: dict[str, float] | None = None
    # Word-onset errors against human timings (long mode, with word_timings/); see
    # :mod:`alt_cli.bench.timing`.
    timing: dict | None = None


def reference_line_spans(song: BenchSong) -> list[tuple[float, float]] | None:
    """Where the reference lyrics are sung, from line_timings/ (None without them)."""
    if song.line_timings is None:
        return None
    return [(line.start, line.end) for line in read_line_timings(song.line_timings)]


def true_stem(song: BenchSong, audio: SongAudio) -> SeparationResult:
    """The benchmark's vocal stem as a separation result, trimmed to the mix (stems are often
    a few samples longer)."""
    if song.vocals_stem is None:
        raise AltError(f"{song.name}: no stems/{song.name}/vocals.wav for --asr-input stem")
    stereo = load_song(song.vocals_stem).stereo
    length = audio.stereo.shape[1]
    if stereo.shape[1] < length:
        raise AltError(f"{song.name}: vocal stem is shorter than the mix")
    return SeparationResult(stereo[:, :length], "stem", "true-stem", cached=True, seconds=0.0)


def transcribe_clips(transcriber: Transcriber, song: SongAudio, spans: list[tuple[float, float]],
                     language: str, separated: SeparationResult | None) -> list[str]:
    """Whisper on given clips of a song (the short-form task): one text per span.

    Each clip is one Whisper input; Whisper's segments inside it become lines.  Clip texts are
    all that is scored, so word alignment is skipped.
    """
    _, _, audio16k, _ = transcriber.views(song, separated)
    windows = [Window((Segment(start, end),)) for start, end in spans]
    asr = replace(transcriber.options.asr, word_timestamps=False)
    results = WindowTranscriber(transcriber.whisper_model, asr).transcribe(audio16k, windows,
                                                                           language)
    return ["\n".join(seg.text for seg in window.segments) for window in results]


class BenchRunner:
    """Transcribes (or reloads) every song x configuration, reusing models across configs."""

    def __init__(self, plan: BenchPlan, reporter: Reporter, models: ModelStore | None = None):
        self.plan = plan
        self.reporter = reporter
        self.models = models or ModelStore(reporter, reuse_asr=True)
        self._transcribers: dict[tuple[BenchConfig, str], Transcriber] = {}

    def options_for(self, config: BenchConfig, language: str) -> TranscribeOptions:
        return config_options(config, self.plan.base, self.plan.variants, language)

    def transcriber(self, config: BenchConfig, language: str) -> Transcriber:
        key = (config, language)
        if key not in self._transcribers:
            self._transcribers[key] = Transcriber(self.options_for(config, language),
                                                  self.reporter, self.models)
        return self._transcribers[key]

    def model_hashes(self) -> dict[str, str | None]:
        """sha256 of each Whisper checkpoint used (None when never loaded: all reused)."""
        hashes: dict[str, str | None] = {}
        for transcriber in self._transcribers.values():
            loaded = self.models.loaded_whisper(transcriber.model_name, transcriber.device)
            hashes[transcriber.model_name] = loaded.sha256 if loaded else None
        return hashes

    def hyp_path(self, config: BenchConfig, level: str, song: BenchSong) -> Path:
        task = "" if self.plan.task == "transcribe" else f"-{self.plan.task}"
        folder = self.plan.out_dir / f"hypotheses{task}" / config.label
        if level != "song":
            folder = folder / level
        return folder / f"{song.name}.txt"

    def run_song(self, song: BenchSong, configs: Sequence[BenchConfig]) -> list[SongRun]:
        """All configurations for one song; the audio is decoded at most once."""
        audio: SongAudio | None = None
        runs = []
        levels = ("song",) if self.plan.mode == "long" else ("line", "group")
        for config in configs:
            paths = {level: self.hyp_path(config, level, song) for level in levels}
            timings_path = paths[levels[0]].with_suffix(".json")
            made_with = self.options_for(config, song.language)
            # "auto" and the device it stands for here are the same setting.
            made_with = with_settings(made_with, {"device": resolve_device(made_with.device)})
            settings = settings_key(made_with, task=self.plan.task)
            saved = (json.loads(timings_path.read_text(encoding="utf-8"))
                     if timings_path.is_file() else {})
            # Reused only if made with the same settings (a changed default redoes the song).
            if all(p.is_file() for p in paths.values()) and saved.get("settings") == settings:
                texts = {level: p.read_text(encoding="utf-8") for level, p in paths.items()}
                refs = saved["references"]
                duration, timings = saved["duration"], saved["timings"]
                instrumental, timing = saved.get("instrumental"), saved.get("timing")
                self.reporter.debug(f"{song.name} [{config.label}]: reused")
            else:
                decode_s = 0.0
                if audio is None:
                    started = time.perf_counter()
                    audio = load_song(song.audio)
                    decode_s = time.perf_counter() - started
                texts, refs, timings, instrumental, timing = self._transcribe(song, audio, config)
                timings = {**timings, "decode": decode_s,
                           "total": timings.get("total", 0.0) + decode_s}
                duration = audio.duration
                for level, path in paths.items():
                    atomic_write_text(path, texts[level])
                atomic_write_text(timings_path, render_json(
                    {"duration": duration, "timings": timings, "references": refs,
                     "settings": settings, "instrumental": instrumental, "timing": timing}))
            for level in levels:
                runs.append(SongRun(song, config, level, texts[level], refs[level]["plain"],
                                    refs[level]["tagged"], duration, timings, instrumental,
                                    timing))
        return runs

    def _transcribe(self, song: BenchSong, audio: SongAudio, config: BenchConfig):
        transcriber = self.transcriber(config, song.language)
        stem = true_stem(song, audio) if config.asr_input == ASR_INPUT_STEM else None
        started = time.perf_counter()
        if self.plan.mode == "long":
            subject = transcriber
            if self.plan.task == "align":
                if song.lyrics_jamendo is None or song.word_timings is None:
                    raise AltError(f"{song.name}: --task align needs lyrics_jamendo/ and "
                                   f"word_timings/ for it")
                subject = Aligner(transcriber, {song.audio: song.lyrics_jamendo}, force=True)
            result = subject.transcribe(audio, separated=stem)
            timing = (onset_errors(result.lines, read_word_timings(song.word_timings))
                      if song.word_timings is not None else None)
            refs = {"song": {"plain": song.lyrics, "tagged": song.lyrics_tagged}}
            spans = reference_line_spans(song)
            instrumental = None if spans is None else {
                "words": instrumental_words(result.lines, spans),
                "minutes": round(instrumental_seconds(spans, audio.duration) / 60, 4),
            }
            return {"song": render_txt(result.lines)}, refs, result.timings, instrumental, timing
        if song.line_timings is None:
            raise AltError(f"{song.name}: no line_timings/{song.name}.csv for --mode short")
        items = short_form_items(read_line_timings(song.line_timings), duration=audio.duration)
        separated = stem if stem is not None else (
            transcriber.separate(audio) if transcriber.hears_vocals() else None)
        texts, refs = {}, {}
        for level, chosen in (("line", items.lines), ("group", items.groups)):
            spans = [(item.start, item.end) for item in chosen]
            hyps = transcribe_clips(transcriber, audio, spans, song.language, separated)
            texts[level] = "\n".join(h for h in hyps) + "\n"
            tagged = "\n".join(item.text for item in chosen) + "\n"
            refs[level] = {"plain": "\n".join(strip_tags(item.text) for item in chosen) + "\n",
                           "tagged": tagged}
        elapsed = time.perf_counter() - started
        return texts, refs, {"total": elapsed, "asr": elapsed}, None, None
