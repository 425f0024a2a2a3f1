"""The whole method for one song, in a straight line: audio -> vocals -> windows -> Whisper ->
lyrics lines -> one :class:`SongTranscript`.

:class:`Transcriber` holds the loaded models (through a :class:`ModelStore`, which a batch or a
benchmark may share between transcribers) so a batch loads them once.  Everything it needs is
decided when it is built: the device, the model name, the separator ``auto`` stands for, the
audio Whisper hears.  The options themselves are never changed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from whisper.tokenizer import LANGUAGES

from alt_cli.audio import SongAudio, load_song, stereo_to_mono16k, whisper_input
from alt_cli.fileio import ensure_writable_dir
from alt_cli.layout import LayoutCues, VoiceEnvelope, lay_out
from alt_cli.layout.music_structure import structure_changes
from alt_cli.models import load_whisper
from alt_cli.options import (
    DEFAULT_ASR_INPUT,
    LayoutOptions,
    OptionError,
    SeparatorOptions,
    TranscribeOptions,
    settings_key,
)
from alt_cli.progress import Reporter
from alt_cli.runtime import default_cache_dir, resolve_device, set_threads
from alt_cli.schema import (
    LyricLine,
    ResolvedModel,
    SeparationResult,
    SongTranscript,
    VocalActivity,
    VocalsVerdict,
    WindowTranscript,
)
from alt_cli.segmentation import detect_vocal_activity
from alt_cli.separation import (
    Separator,
    make_separator,
    remove_stale_stems,
    resolve_separator,
    separate_cached,
    separate_cached_many,
)
from alt_cli.signals import Signal
from alt_cli.transcription import (
    WindowJob,
    WindowTranscriber,
    detect_language,
    transcribe_native,
)
from alt_cli.whisper_compat import check_whisper

DECODED_KEPT = 16  # songs whose decoded windows a benchmark keeps for its layout variants
WORK_SUBDIR = "work"  # cache_dir/work holds long songs' spilled signals while they run
GPU_DEFAULT_MODEL = "large-v2"  # the paper's model
CPU_DEFAULT_MODEL = "base"  # large-v2 runs ~1x real time on a laptop CPU; base ~0.2x


def check_language(language: str | None, model_name: str | None = None) -> None:
    """A language Whisper knows (and, given the model's name, that it can write); raises
    :class:`OptionError`."""
    if language is None:
        return
    if language not in LANGUAGES:
        examples = ", ".join(list(LANGUAGES)[:6])
        raise OptionError(f"--language {language!r} is not a language code Whisper knows "
                          f"(such as {examples}; `alt transcribe` detects it when not given)")
    if model_name is not None and model_name.endswith(".en") and language != "en":
        raise OptionError(f"--model {model_name} transcribes English only; --language "
                          f"{language} needs a multilingual model ({model_name[:-3]})")


NO_SPEECH_DOUBT = 0.5  # median no-speech probability above which Whisper doubts the voice
WEAK_VOICE_DB = -20.0  # voiced vocals this far below the mix: bleed more likely than a singer
MIN_SUNG_SECONDS = 2.0  # less voiced time than this is not a song's vocal part
GUESS_CONFIDENCE = 0.01  # mean word probability under which a doubtful song's line is a guess


def vocals_verdict(activity: VocalActivity | None, windows: tuple[WindowTranscript, ...],
                   lines: tuple[LyricLine, ...]) -> VocalsVerdict:
    """Does anybody sing: "yes", "no" or "uncertain", with the numbers behind it."""
    probs = sorted(w.no_speech_prob for w in windows)
    no_speech = round(probs[len(probs) // 2], 3) if probs else None
    if activity is None:
        return VocalsVerdict("uncertain", "vocals were not separated (plain Whisper on the mix)",
                             0.0, None, no_speech)
    voiced, level = round(activity.voiced_seconds, 1), activity.vocal_level_db
    if not activity.segments:
        reason = ("the separated vocals are below the floor: bleed or noise"
                  if activity.floored_seconds else "no vocal activity in the separated vocals")
        return VocalsVerdict("no", reason, 0.0, level, None)
    if not lines:
        return VocalsVerdict("no", "no words recognised in the vocal segments", voiced, level,
                             no_speech)
    doubts = []
    if voiced < MIN_SUNG_SECONDS:
        doubts.append(f"only {voiced:g} s voiced")
    if level is not None and level < WEAK_VOICE_DB:
        doubts.append(f"vocals {-level:.0f} dB below the mix")
    if no_speech is not None and no_speech > NO_SPEECH_DOUBT:
        doubts.append(f"Whisper's no-speech probability {no_speech:.2f}")
    reason = "; ".join(doubts) or "separated vocals with recognised words"
    return VocalsVerdict("uncertain" if doubts else "yes", reason, voiced, level, no_speech)


def drop_guesses(lines: tuple[LyricLine, ...], verdict: VocalsVerdict
                 ) -> tuple[tuple[LyricLine, ...], int]:
    """Where the voice itself is in doubt ("uncertain"), drop the lines whose words Whisper
    gives under :data:`GUESS_CONFIDENCE` probability on average: over sustained tones a
    separator mistakes for a voice, Whisper writes a word such as "check." with probability
    ~0.  Songs with a clear voice keep every line (a wrong line there is still lyrics)."""
    if verdict.vocals != "uncertain":
        return lines, 0
    kept = tuple(line for line in lines
                 if line.confidence is None or line.confidence >= GUESS_CONFIDENCE)
    return kept, len(lines) - len(kept)


def default_model(device: str) -> str:
    """The model `--model` stands for when not given, on a resolved device."""
    return GPU_DEFAULT_MODEL if device == "cuda" else CPU_DEFAULT_MODEL


class ModelStore:
    """Loaded models by what identifies them, so transcribers that agree share one copy."""

    def __init__(self, reporter: Reporter | None = None, reuse_asr: bool = False) -> None:
        self.reporter = reporter or Reporter(quiet=True)
        self._whisper: dict[tuple[str, str], tuple[object, ResolvedModel | None]] = {}
        self._separators: dict[tuple[SeparatorOptions, str], Separator] = {}
        # Decoded windows by (audio, every setting but the layout): a benchmark's layout
        # variants lay out the same Whisper output instead of decoding it again.
        self.decoded: OrderedDict[tuple[str, ...], tuple] | None = (
            OrderedDict() if reuse_asr else None)
        # What each song's layout was given, by audio path (the layout bench replays it with
        # other layout settings): kept only when asked for.
        self.layout_inputs: dict[str, tuple[tuple[LyricLine, ...], LayoutCues]] | None = None

    def remember_layout(self, path: Path, raw: Sequence[LyricLine], cues: LayoutCues) -> None:
        """Keep one song's layout input, if this store keeps them."""
        if self.layout_inputs is not None:
            self.layout_inputs[str(path)] = (tuple(raw), cues)

    def remember_decoded(self, key: tuple[str, ...], value: tuple) -> None:
        """Keep a song's decoded windows for layout variants (the most recent few songs)."""
        if self.decoded is not None:
            self.decoded[key] = value
            while len(self.decoded) > DECODED_KEPT:
                self.decoded.popitem(last=False)

    def whisper(self, name: str, device: str, cache_dir: Path):
        """(model, resolved) for a Whisper name or path on a device, loaded on first use."""
        key = (name, device)
        if key not in self._whisper:
            warning = check_whisper()
            if warning:
                self.reporter.info(f"warning: {warning}")
            started = time.perf_counter()
            model, resolved = load_whisper(name, device, cache_dir)
            self.reporter.info(f"model: whisper {name} on {device} ({resolved.source}, "
                               f"{time.perf_counter() - started:.1f} s to load)")
            self._whisper[key] = (model, resolved)
        return self._whisper[key]

    def loaded_whisper(self, name: str, device: str) -> ResolvedModel | None:
        """Where the loaded ``name`` came from, or None if it was never loaded here."""
        entry = self._whisper.get((name, device))
        return entry[1] if entry else None

    def add_whisper(self, name: str, device: str, model, resolved: ResolvedModel | None = None
                    ) -> None:
        """Use an already loaded Whisper model for ``name`` (benchmarks time the pipeline, not
        the load)."""
        self._whisper[(name, device)] = (model, resolved)

    def separator(self, options: SeparatorOptions, device: str) -> Separator:
        key = (options, device)
        if key not in self._separators:
            separator = make_separator(options, device)
            self.reporter.info(f"separator: {separator.name} ({separator.model})")
            self._separators[key] = separator
        return self._separators[key]


@dataclass
class _PreparedSong:
    """A song with everything but Whisper done (see ``Transcriber._prepare``)."""

    song: SongAudio
    separated: SeparationResult | None
    audio16k: Signal
    asr_input: str
    activity: VocalActivity | None
    timings: dict[str, float]
    started: float
    memo_key: tuple[str, ...] | None  # what decides Whisper's output (windows only)
    decoded: tuple | None = None  # (language, probability, windows' transcripts), if shared
    changes: tuple[float, ...] = ()  # where the music changes (section candidates), seconds


class Transcriber:
    """Transcribes any number of songs with one set of options and loaded models."""

    def __init__(self, options: TranscribeOptions, reporter: Reporter | None = None,
                 models: ModelStore | None = None):
        self.options = options
        self.reporter = reporter or Reporter(quiet=True)
        self.models = models or ModelStore(self.reporter)
        set_threads(options.threads)
        self.device = resolve_device(options.device)
        self.model_name = options.model or default_model(self.device)
        self.cache_dir = options.cache_dir or default_cache_dir()
        self.separator_name = resolve_separator(options.separation)
        # Threads for the CPU's share of prepare_songs beside the GPU's (0: one after the
        # other; on a CPU the separator already uses every core).
        self.cpu_workers = 4 if self.device.startswith("cuda") else 0
        if options.separation.separator == "auto":
            self.reporter.info(f"separator auto -> {self.separator_name}")
        check_language(options.asr.language)

    def prepare(self) -> None:
        """Check the cache folder and load every model now, so that a missing model, a model
        that cannot write the language or an unusable folder fails before the first song
        instead of once per song.  (A benchmark skips this: measuring tiny.en on Spanish is
        allowed there, if pointless.)"""
        check_language(self.options.asr.language, self.model_name)
        ensure_writable_dir(self.cache_dir, "cache folder",
                            "pass --cache-dir with a folder you can write to")
        removed = remove_stale_stems(self.cache_dir)
        if removed:
            self.reporter.debug(f"removed {removed} stem temporaries left by killed runs")
        model = self.whisper_model
        if not model.is_multilingual and self.options.asr.language not in (None, "en"):
            raise OptionError(f"--model {self.model_name} transcribes English only; --language "
                              f"{self.options.asr.language} needs a multilingual model")
        if self.needs_separation():
            self.models.separator(self.options.separation, self.device)

    @property
    def asr_key(self) -> str:
        """The settings that decide Whisper's output (all but the layout)."""
        return settings_key(replace(self.options, layout=LayoutOptions()), device=self.device,
                            model=self.model_name, separator=self.separator_name)

    @property
    def settings_key(self) -> str:
        """What decides this transcriber's results, ``auto`` resolved (for resume checks)."""
        return settings_key(self.options, device=self.device, model=self.model_name,
                            separator=self.separator_name)

    def problem(self, source: Path) -> str | None:
        """Why ``source`` cannot be done, known before any work (None: nothing known)."""
        return None

    def result_key(self, source: Path) -> str:
        """What decides the result for ``source``: the settings (the song does not add any)."""
        return self.settings_key

    @property
    def whisper_model(self):
        return self.models.whisper(self.model_name, self.device, self.cache_dir)[0]

    @property
    def resolved_model(self) -> ResolvedModel | None:
        return self.models.whisper(self.model_name, self.device, self.cache_dir)[1]

    def asr_input_for(self, separator_name: str) -> str:
        """The audio Whisper hears when vocals come from ``separator_name``."""
        return self.options.asr_input or DEFAULT_ASR_INPUT.get(separator_name, "mix")

    def needs_separation(self) -> bool:
        """Native long-form on the mix is the plain-Whisper baseline: no separation at all."""
        return self.options.segmenter == "rmsvad" or self.hears_vocals()

    def hears_vocals(self) -> bool:
        """Whisper's input was asked to contain the separated vocals."""
        return self.options.asr_input in ("vocals", "blend")

    def separate(self, song: SongAudio) -> SeparationResult | None:
        """Separated vocals (from the cache when possible), or None where none are needed."""
        if not self.needs_separation():
            return None
        separator = self.models.separator(self.options.separation, self.device)
        result = separate_cached(separator, song.stereo, song.content_hash, self.cache_dir,
                                 warn=lambda message: self.reporter.info(f"warning: {message}"),
                                 spill_dir=song.spill_dir)
        how = "from the cache" if result.cached else f"separated in {result.seconds:.1f} s"
        self.reporter.info(f"{song.path.name}: vocals {how}")
        return result

    def separate_songs(self, songs: Sequence[SongAudio]) -> list[SeparationResult | None]:
        """:meth:`separate` for several songs, those in memory separated together (their
        segments share the separator's batches; long, spilled songs go alone)."""
        if not self.needs_separation():
            return [None] * len(songs)
        separator = self.models.separator(self.options.separation, self.device)
        short = [k for k, song in enumerate(songs) if song.spill_dir is None]
        results: list[SeparationResult | None] = [None] * len(songs)
        shared = separate_cached_many(
            separator, [(songs[k].stereo, songs[k].content_hash) for k in short],
            self.cache_dir, warn=lambda message: self.reporter.info(f"warning: {message}"))
        for k, result in zip(short, shared, strict=True):
            results[k] = result
        return [result if k in short else self.separate(songs[k])
                for k, result in enumerate(results)]

    def load(self, source: str | Path) -> SongAudio:
        """Decode a song; a long file spills its signals into the cache folder's ``work``
        subfolder (as unlinked files: nothing is left there, even after a crash)."""
        return load_song(source, spill_dir=self.cache_dir / WORK_SUBDIR)

    def views(self, song: SongAudio, separated: SeparationResult | None
              ) -> tuple[Signal | None, Signal, Signal, str]:
        """(vocals, mix, what Whisper hears, its name) at 16 kHz mono for one song."""
        asr_input = self.asr_input_for(separated.separator if separated else "none")
        vocals16k = stereo_to_mono16k(separated.vocals, song.spill_dir) if separated else None
        mix16k = song.mono16k()
        return vocals16k, mix16k, whisper_input(mix16k, vocals16k, asr_input,
                                                song.spill_dir), asr_input

    def transcribe(self, source: str | Path | SongAudio, *,
                   separated: SeparationResult | None = None) -> SongTranscript:
        """Transcribe one song (a path, or audio already decoded).

        `separated` is this song's separation done ahead of time (batch prefetching; a
        benchmark's true vocal stem).
        """
        return self._finish(self._prepare(source, separated))

    def transcribe_songs(self, sources: Sequence[str | Path | SongAudio]) -> list[SongTranscript]:
        """Transcribe several songs with their Whisper windows decoded in shared batches.

        Why: on a GPU a decoding step costs about the same for a song's 6 windows as for 16, so
        a few songs at a time take a fraction of the steps.  Each song's lyrics are what
        :meth:`transcribe` gives it alone (see ``WindowTranscriber.transcribe_many``); all the
        songs are held in memory together, so pass a handful at a time.
        """
        return self.finish_songs(self.prepare_songs(sources))

    def prepare_songs(self, sources: Sequence[str | Path | SongAudio]) -> list[_PreparedSong]:
        """Everything but Whisper for several songs: decode, separate them together (their
        segments share the separator's batches), find the vocal windows.

        With :attr:`cpu_workers` (on a GPU), the CPU's share runs beside the GPU's: each
        song's music-structure analysis (from the mix alone) in worker threads while the
        separator runs, then the songs' resampling and VAD side by side.  Why: on an H200 the
        separation of 12 min takes 4 s and Whisper 2 s, and the structure analysis, done song
        after song, added seconds more of an idle GPU.  The results are the same either way.
        """
        songs = [source if isinstance(source, SongAudio) else self.load(source)
                 for source in sources]
        if not self.cpu_workers:
            separated = self.separate_songs(songs)
            return [self._prepare(song, stems) for song, stems in zip(songs, separated,
                                                                      strict=True)]
        with ThreadPoolExecutor(max_workers=self.cpu_workers) as pool:
            changes = [pool.submit(self._music_changes, song) for song in songs]
            separated = self.separate_songs(songs)
            done = [pool.submit(self._prepare, song, stems, found.result())
                    for song, stems, found in zip(songs, separated, changes, strict=True)]
            return [future.result() for future in done]

    def finish_songs(self, prepared: Sequence[_PreparedSong]) -> list[SongTranscript]:
        """Whisper for the windows of songs from :meth:`prepare_songs`, in shared batches, then
        each song's lyrics."""
        model = self.whisper_model
        jobs: dict[int, tuple[WindowJob, float]] = {}
        for k, song in enumerate(prepared):
            if song.activity is None or not song.activity.windows or song.memo_key is None:
                continue
            if self.options.segmenter != "rmsvad" or song.memo_key in (self.models.decoded or {}):
                continue
            language, probability = self._language(model, song.audio16k, song.activity)
            jobs[k] = (WindowJob(song.audio16k, song.activity.windows, language), probability)
        started = time.perf_counter()
        decoder = WindowTranscriber(model, self.options.asr)
        decoded = decoder.transcribe_many([job for job, _ in jobs.values()])
        seconds = time.perf_counter() - started
        windows = sum(len(job.windows) for job, _ in jobs.values()) or 1
        results = []
        for k, song in enumerate(prepared):
            if k in jobs:
                job, probability = jobs[k]
                song.decoded = (job.language, probability, tuple(decoded.pop(0)))
                song.timings["asr_shared"] = seconds * len(job.windows) / windows
            results.append(self._finish(song))
        return results

    def _music_changes(self, song: SongAudio, mix16k: Signal | None = None
                       ) -> tuple[tuple[float, ...], float]:
        """Where the song's music changes (section candidates), if the layout uses them, and
        the seconds that took; `mix16k`: the song's 16-kHz mix, if made already."""
        if self.options.segmenter == "native" or not self.options.layout.section_changes:
            return (), 0.0
        started = time.perf_counter()
        mix16k = song.mono16k() if mix16k is None else mix16k
        return tuple(structure_changes(mix16k[0 : len(mix16k)])), time.perf_counter() - started

    def _prepare(self, source: str | Path | SongAudio,
                 separated: SeparationResult | None = None,
                 changes: tuple[tuple[float, ...], float] | None = None) -> _PreparedSong:
        """Decode, separate and find the vocal windows of one song (all but Whisper);
        `changes`: its music changes found already (:meth:`_music_changes`)."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        song = source if isinstance(source, SongAudio) else self.load(source)
        timings["decode"] = time.perf_counter() - started
        self.reporter.debug(f"{song.path.name}: {song.duration:.1f} s of audio")
        if separated is None:
            separated = self.separate(song)
        if separated is not None:
            timings["separation"] = separated.seconds
        vocals16k, mix16k, audio16k, asr_input = self.views(song, separated)
        activity = self._vad(vocals16k, mix16k, timings) if vocals16k is not None else None
        memo_key = None
        if self.options.segmenter != "native":
            memo_key = (song.content_hash, separated.separator if separated else "none",
                        separated.model if separated else "none", self.asr_key)
        changes, timings["structure"] = changes or self._music_changes(song, mix16k)
        return _PreparedSong(song, separated, audio16k, asr_input, activity, timings, started,
                             memo_key, changes=changes)

    def _finish(self, prepared: _PreparedSong) -> SongTranscript:
        """Whisper (unless done already) and the layout of one prepared song."""
        song, separated, activity = prepared.song, prepared.separated, prepared.activity
        timings = prepared.timings
        separator_name = separated.separator if separated else "none"
        model = self.whisper_model
        if self.options.segmenter == "native":
            decoded = self._native(song, model, prepared.audio16k, activity, timings)
        else:
            assert activity is not None and prepared.memo_key is not None
            decoded = self._windows(song, model, prepared.audio16k, activity, timings,
                                    prepared.memo_key, prepared.decoded, prepared.changes)
        language, probability, windows, lines, notes = decoded
        verdict = vocals_verdict(activity, windows, lines)
        lines, dropped = drop_guesses(lines, verdict)
        if dropped:
            notes = (*notes, f"dropped {dropped} line(s) Whisper gave under "
                             f"{100 * GUESS_CONFIDENCE:g} % probability, in a song whose voice "
                             f"is in doubt ({verdict.reason})")
            verdict = vocals_verdict(activity, windows, lines)
        timings["total"] = time.perf_counter() - prepared.started
        return SongTranscript(
            path=song.path, duration=song.duration, language=language,
            language_probability=probability, lines=lines, title=song.title,
            artist=song.artist, segmenter=self.options.segmenter, asr_input=prepared.asr_input,
            separator=separator_name, separator_model=separated.model if separated else "none",
            separation_cached=bool(separated and separated.cached), model=self.resolved_model,
            segments=activity.segments if activity else (), windows=windows, timings=timings,
            notes=(*song.notes, *notes), verdict=verdict,
        )  # fmt: skip

    def _vad(self, vocals16k: np.ndarray, mix16k: np.ndarray, timings: dict[str, float]
             ) -> VocalActivity:
        started = time.perf_counter()
        activity = detect_vocal_activity(vocals16k, self.options.vad, mix16k)
        timings["vad"] = time.perf_counter() - started
        return activity

    def _language(self, model, audio16k, activity: VocalActivity) -> tuple[str, float]:
        language = self.options.asr.language
        if language:
            return language, 1.0
        if not model.is_multilingual:
            return "en", 1.0
        language, probability = detect_language(model, audio16k, activity.windows,
                                                activity.window_energy())
        self.reporter.info(f"language: {language} (p={probability:.2f})")
        return language, probability

    def _windows(self, song: SongAudio, model, audio16k, activity: VocalActivity, timings,
                 key: tuple[str, ...], predecoded: tuple | None = None,
                 changes: Sequence[float] = ()):
        """The method: RMS-VAD windows of the separated vocals, each decoded by Whisper
        (`predecoded`: Whisper's results already, from batches shared with other songs)."""
        windows = activity.windows
        self.reporter.info(
            f"{song.path.name}: {len(activity.segments)} vocal segments, {len(windows)} "
            f"windows, {activity.voiced_seconds:.0f} of {song.duration:.0f} s voiced"
        )
        if not windows:
            note = "no vocals found: the song appears to be instrumental or silent"
            if activity.floored_seconds:
                note += (f" ({activity.floored_seconds:.0f} s of separated 'vocals' lie below "
                         f"the {self.options.vad.floor_db:g} dB floor: bleed or noise)")
            return self.options.asr.language or "", 0.0, (), (), (note,)
        started = time.perf_counter()
        memo = self.models.decoded
        if predecoded is not None:
            language, probability, decoded = predecoded
            self.models.remember_decoded(key, predecoded)
        elif memo is not None and key in memo:
            language, probability, decoded = memo[key]
            timings["asr_reused"] = 1.0
        else:
            language, probability = self._language(model, audio16k, activity)
            decoder = WindowTranscriber(model, self.options.asr)
            with self.reporter.bar(f"{song.path.name}: transcribing", len(windows),
                                   "win") as bar:
                decoded = tuple(decoder.transcribe(audio16k, windows, language, bar.update))
            self.models.remember_decoded(key, (language, probability, decoded))
        timings["asr"] = timings.pop("asr_shared", time.perf_counter() - started)
        floor = self.options.layout.min_voiced_fraction
        raw = [
            LyricLine(seg.start, seg.end, seg.text, 0, seg.words)
            for window in decoded
            for seg in window.segments
            if activity.voiced_fraction(seg.start, seg.end) >= floor
        ]
        voice = VoiceEnvelope(activity.envelope, activity.hop_seconds, self.options.vad.offset)
        cues = LayoutCues(language, tuple(activity.rests()), voice, tuple(changes),
                          self.options.layout)
        self.models.remember_layout(song.path, raw, cues)
        lines = lay_out(raw, cues)
        notes = () if lines else ("no lyrics recognised in the vocal segments",)
        return language, probability, decoded, lines, notes

    def _native(self, song: SongAudio, model, audio16k, activity: VocalActivity | None,
                timings):
        """The baseline: Whisper's own long-form loop over the whole song."""
        started = time.perf_counter()
        language = self.options.asr.language
        if not language:
            # Whisper's own choice for the baseline: its detection on the first 30 s.
            language = "en" if not model.is_multilingual else None
        segments, language = transcribe_native(model, audio16k, language, self.options.asr)
        probability = 1.0 if self.options.asr.language else 0.0
        timings["asr"] = time.perf_counter() - started
        raw = [LyricLine(s.start, s.end, s.text, 0, s.words) for s in segments]
        rests = tuple(activity.rests()) if activity else ()
        cues = LayoutCues(language, rests, options=self.options.layout)
        self.models.remember_layout(song.path, raw, cues)
        lines = lay_out(raw, cues)
        return language, probability, (), lines, ()
