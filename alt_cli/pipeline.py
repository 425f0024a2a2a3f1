"""The whole method for one song: audio -> vocals -> windows -> Whisper -> lyrics lines.

:class:`Transcriber` holds the loaded models so a batch loads them once; each call to
:meth:`Transcriber.transcribe` returns a plain :class:`SongTranscript` that the writers in
:mod:`alt_cli.outputs` turn into files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from alt_cli.audio import ASR_SAMPLE_RATE, SongAudio, load_song, stereo_to_mono16k
from alt_cli.errors import AltError
from alt_cli.lyrics import SECTION_GAP, LyricLine, layout_lines
from alt_cli.models import ResolvedModel, load_whisper
from alt_cli.progress import Reporter
from alt_cli.segmentation import Segment, VadOptions, Window, segment_vocals
from alt_cli.separation import (
    SeparationResult,
    Separator,
    SeparatorOptions,
    default_cache_dir,
    make_separator,
    separate_cached,
)
from alt_cli.transcription import (
    AsrOptions,
    AsrSegment,
    WindowTranscriber,
    WindowTranscript,
    detect_language,
    resolve_device,
    transcribe_native,
)

SEGMENTERS = ("rmsvad", "native")
ASR_INPUTS = ("mix", "vocals", "blend")
# Which audio Whisper hears, by separator.  Measured on the dev songs (base): Spleeter's vocals
# alone transcribe worse than the mix (60.6 vs 53.0 % WER: its artefacts hurt more than the
# accompaniment), the mix with the vocals added once more (+6 dB voice) best (51.4 %); the paper
# found Demucs vocals better than the mix with large-v2.
DEFAULT_ASR_INPUT = {"spleeter": "blend", "demucs": "vocals", "none": "mix", "stem": "vocals"}
GPU_DEFAULT_MODEL = "large-v2"  # the paper's model
CPU_DEFAULT_MODEL = "base"  # large-v2 runs ~1x real time on a laptop CPU; base ~0.2x


@dataclass(frozen=True)
class TranscribeOptions:
    """Everything that decides a transcript (recorded in the JSON output)."""

    model: str | None = None  # None: large-v2 on a GPU, base on a CPU
    device: str = "auto"  # auto | cpu | cuda
    segmenter: str = "rmsvad"  # rmsvad | native
    asr_input: str | None = None  # mix | vocals; None: the measured best for the separator
    separation: SeparatorOptions = field(default_factory=SeparatorOptions)
    vad: VadOptions = field(default_factory=VadOptions)
    asr: AsrOptions = field(default_factory=AsrOptions)
    section_gap: float = SECTION_GAP  # seconds of vocal rest that start a new section
    # Drop a Whisper segment when less than this share of its time span is vocal activity:
    # text over an instrumental stretch is a caption Whisper invented (0: keep everything).
    min_voiced_fraction: float = 0.0
    script_filter: bool = True  # drop words in a script the song's language is not written in
    lyrics_conventions: bool = False  # Jam-ALT layout: capital line starts, no , . at line ends
    cache_dir: Path | None = None  # None: the user cache folder


@dataclass
class SongTranscript:
    """One song's result: the lyric lines plus what produced them."""

    path: Path
    duration: float
    language: str
    language_probability: float
    lines: list[LyricLine]
    title: str | None = None
    artist: str | None = None
    segmenter: str = "rmsvad"
    asr_input: str = "mix"
    separator: str = "none"
    separator_model: str = "none"
    separation_cached: bool = False
    model: ResolvedModel | None = None
    segments: list[Segment] = field(default_factory=list)
    windows: list[WindowTranscript] = field(default_factory=list)
    native_segments: list[AsrSegment] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def vocal_rests(segments: list[Segment]) -> list[tuple[float, float]]:
    """Gaps between consecutive vocal segments: where a sung line must end."""
    return [(a.end, b.start) for a, b in zip(segments, segments[1:], strict=False)]


def voiced_fraction(start: float, end: float, segments: list[Segment]) -> float:
    """Share of [start, end] covered by vocal segments (1.0 for an empty span)."""
    if end <= start:
        return 1.0
    covered = sum(max(0.0, min(end, s.end) - max(start, s.start)) for s in segments)
    return covered / (end - start)


def blend_vocals(mix16k: np.ndarray, vocals16k: np.ndarray) -> np.ndarray:
    """The mix with the separated vocals added once more: voice +6 dB over the band, and none
    of the separation's artefacts alone (they stay masked by the accompaniment)."""
    return (0.5 * (mix16k + vocals16k)).astype(np.float32)


def asr_audio(mix16k: np.ndarray, vocals16k: np.ndarray | None, asr_input: str) -> np.ndarray:
    """What Whisper hears: the mix, the separated vocals, or the blend of both."""
    if vocals16k is None or asr_input == "mix":
        return mix16k
    return vocals16k if asr_input == "vocals" else blend_vocals(mix16k, vocals16k)


def window_energy(envelope: np.ndarray, windows: list[Window], hop_seconds: float) -> list[float]:
    """Total vocal energy per window, to pick the most vocal windows for language detection."""
    return [
        float(envelope[int(w.start / hop_seconds) : int(w.end / hop_seconds) + 1].sum())
        for w in windows
    ]


class Transcriber:
    """Loads the separator and Whisper once; transcribes any number of songs."""

    def __init__(self, options: TranscribeOptions, reporter: Reporter | None = None):
        if options.segmenter not in SEGMENTERS:
            raise AltError(f"unknown segmenter {options.segmenter!r} (choose from rmsvad, native)")
        if options.asr_input is not None and options.asr_input not in ASR_INPUTS:
            raise AltError(f"unknown ASR input {options.asr_input!r} "
                           f"(choose from {', '.join(ASR_INPUTS)})")
        self.device = resolve_device(options.device)
        if self.device == "cuda" and not options.asr.fp16:
            options = replace(options, asr=replace(options.asr, fp16=True))  # half on GPU
        self.options = options
        self.reporter = reporter or Reporter(quiet=True)
        self.cache_dir = options.cache_dir or default_cache_dir()
        self._separator: Separator | None = None
        self._whisper = None
        self.resolved_model: ResolvedModel | None = None
        self.model_name = options.model or (
            GPU_DEFAULT_MODEL if self.device == "cuda" else CPU_DEFAULT_MODEL
        )

    @property
    def separator(self) -> Separator:
        if self._separator is None:
            sep_options = self.options.separation
            if sep_options.device != self.device:
                sep_options = replace(sep_options, device=self.device)
            self._separator = make_separator(sep_options)
            self.reporter.info(f"separator: {self._separator.name} ({self._separator.model})")
        return self._separator

    @property
    def whisper_model(self):
        if self._whisper is None:
            started = time.perf_counter()
            self._whisper, self.resolved_model = load_whisper(
                self.model_name, self.device, self.cache_dir
            )
            self.reporter.info(
                f"model: whisper {self.model_name} on {self.device} "
                f"({self.resolved_model.source}, {time.perf_counter() - started:.1f} s to load)"
            )
        return self._whisper

    def asr_input_for(self, separator_name: str) -> str:
        return self.options.asr_input or DEFAULT_ASR_INPUT.get(separator_name, "mix")

    def needs_separation(self) -> bool:
        """Native long-form on the mix is the plain-Whisper baseline: no separation at all."""
        return self.options.segmenter == "rmsvad" or self._hears_vocals()

    def _hears_vocals(self) -> bool:
        """Whisper's input was asked to contain the separated vocals."""
        return self.options.asr_input in ("vocals", "blend")

    def transcribe(
        self,
        source: str | Path | SongAudio,
        vocals: np.ndarray | None = None,
        *,
        separated: SeparationResult | None = None,
    ) -> SongTranscript:
        """Transcribe one song (a path, or audio already decoded).

        `vocals` (2, n) at 44.1 kHz replaces separation: the true vocal stem of a benchmark.
        `separated` is this song's separation done ahead of time (batch prefetching).
        """
        timings: dict[str, float] = {}
        started = time.perf_counter()
        song = source if isinstance(source, SongAudio) else load_song(source)
        timings["decode"] = time.perf_counter() - started
        self.reporter.debug(f"{song.path.name}: {song.duration:.1f} s of audio")
        if separated is None:
            separated = self.separate(song, vocals)
        if separated is not None:
            timings["separation"] = separated.seconds
        separator_name = separated.separator if separated else "none"
        asr_input = self.asr_input_for(separator_name)

        vocals16k = stereo_to_mono16k(separated.vocals) if separated else None
        audio16k = asr_audio(song.mono16k(), vocals16k, asr_input)

        result = SongTranscript(
            path=song.path, duration=song.duration, language="", language_probability=0.0,
            lines=[], title=song.title, artist=song.artist, segmenter=self.options.segmenter,
            asr_input=asr_input, separator=separator_name,
            separator_model=separated.model if separated else "none",
            separation_cached=bool(separated and separated.cached), timings=timings,
        )  # fmt: skip
        model = self.whisper_model
        result.model = self.resolved_model
        if self.options.segmenter == "native":
            self._run_native(result, model, audio16k, vocals16k)
        else:
            assert vocals16k is not None
            self._run_windows(result, model, audio16k, vocals16k)
        timings["total"] = time.perf_counter() - started
        return result

    def separate(
        self, song: SongAudio, vocals: np.ndarray | None = None
    ) -> SeparationResult | None:
        """Separated vocals (from the cache when possible), a given stem, or None if unneeded."""
        if vocals is not None:
            return SeparationResult(vocals, "stem", "true-stem", cached=True, seconds=0.0)
        if not self.needs_separation():
            return None
        result = separate_cached(self.separator, song.stereo, song.content_hash, self.cache_dir)
        how = "from the cache" if result.cached else f"separated in {result.seconds:.1f} s"
        self.reporter.info(f"{song.path.name}: vocals {how}")
        return result

    def transcribe_spans(
        self, song: SongAudio, spans: list[tuple[float, float]], language: str,
        vocals: np.ndarray | None = None,
    ) -> list[str]:
        """Whisper on given clips of a song (the short-form task): one text per span.

        Each clip is one Whisper input; Whisper's segments inside it become lines.
        """
        separated = self.separate(song, vocals) if (
            vocals is not None or self._hears_vocals()) else None
        vocals16k = stereo_to_mono16k(separated.vocals) if separated else None
        asr_input = self.asr_input_for(separated.separator if separated else "none")
        audio16k = asr_audio(song.mono16k(), vocals16k, asr_input)
        windows = [Window((Segment(start, end),)) for start, end in spans]
        # Clip texts are all that is scored: word alignment would only cost time here.
        asr = replace(self.options.asr, word_timestamps=False)
        results = WindowTranscriber(self.whisper_model, asr).transcribe(audio16k, windows, language)
        return ["\n".join(seg.text for seg in window.segments) for window in results]

    def use_whisper(self, model, resolved: ResolvedModel | None = None) -> None:
        """Use an already loaded Whisper model (benchmarks time the pipeline, not the load)."""
        self._whisper, self.resolved_model = model, resolved

    def share_models(self, other: Transcriber) -> None:
        """Reuse another transcriber's loaded models where they are the same ones."""
        if other._whisper is not None and other.model_name == self.model_name:
            self._whisper, self.resolved_model = other._whisper, other.resolved_model
        if other._separator is not None and other.options.separation == self.options.separation:
            self._separator = other._separator

    def _language(self, model, audio16k, windows, energy) -> tuple[str, float]:
        language = self.options.asr.language
        if language:
            return language, 1.0
        if not model.is_multilingual:
            return "en", 1.0
        language, probability = detect_language(model, audio16k, windows, energy)
        self.reporter.info(f"language: {language} (p={probability:.2f})")
        return language, probability

    def _run_windows(self, result: SongTranscript, model, audio16k, vocals16k) -> None:
        started = time.perf_counter()
        segments, windows, envelope = segment_vocals(vocals16k, self.options.vad)
        result.timings["vad"] = time.perf_counter() - started
        result.segments = segments
        voiced = sum(s.duration for s in segments)
        self.reporter.info(
            f"{result.path.name}: {len(segments)} vocal segments, {len(windows)} windows, "
            f"{voiced:.0f} of {result.duration:.0f} s voiced"
        )
        if not windows:
            result.notes.append("no vocals found: the song appears to be instrumental or silent")
            result.language = self.options.asr.language or ""
            return
        started = time.perf_counter()
        hop_seconds = self.options.vad.hop_length / ASR_SAMPLE_RATE
        energy = window_energy(envelope, windows, hop_seconds)
        result.language, result.language_probability = self._language(
            model, audio16k, windows, energy
        )
        decoder = WindowTranscriber(model, self.options.asr)
        with self.reporter.bar(f"{result.path.name}: transcribing", len(windows), "win") as bar:
            result.windows = decoder.transcribe(audio16k, windows, result.language, bar.update)
        result.timings["asr"] = time.perf_counter() - started
        raw = [
            LyricLine(seg.start, seg.end, seg.text, 0, seg.words)
            for window in result.windows
            for seg in window.segments
            if voiced_fraction(seg.start, seg.end, segments) >= self.options.min_voiced_fraction
        ]
        result.lines = self._layout(raw, vocal_rests(segments), result.language)
        if not result.lines:
            result.notes.append("no lyrics recognised in the vocal segments")

    def _run_native(self, result: SongTranscript, model, audio16k, vocals16k) -> None:
        started = time.perf_counter()
        rests: list[tuple[float, float]] = []
        if vocals16k is not None:
            segments, _, _ = segment_vocals(vocals16k, self.options.vad)
            result.segments = segments
            rests = vocal_rests(segments)
        language = self.options.asr.language
        if not language:
            # Whisper's own choice for the baseline: its detection on the first 30 s.
            language = "en" if not model.is_multilingual else None
        result.native_segments, result.language = transcribe_native(
            model, audio16k, language, self.options.asr
        )
        result.language_probability = 1.0 if self.options.asr.language else 0.0
        result.timings["asr"] = time.perf_counter() - started
        raw = [LyricLine(s.start, s.end, s.text, 0, s.words) for s in result.native_segments]
        result.lines = self._layout(raw, rests, result.language)

    def _layout(self, raw: list[LyricLine], rests: list[tuple[float, float]], language: str
                ) -> list[LyricLine]:
        return layout_lines(
            raw, rests, self.options.section_gap,
            language=language if self.options.script_filter else None,
            conventions=self.options.lyrics_conventions,
        )  # fmt: skip
