"""Every setting of alt, declared once: its default, flag, help text and valid range.

Why one declaration: a setting used to be spelt four times (the dataclass field, the click
flag, the bench variant key and the README table) and the copies drifted.  Here each field of
an options dataclass carries a :class:`Setting` in its metadata; the CLI builds its flags from
it (:mod:`alt_cli.cli`), ``alt bench --variant`` accepts the same flag names
(:func:`find_setting`), every value is range-checked when an options object is built (so the
Python API rejects ``VadOptions(onset=nan)`` as the CLI does), and the README's options table is
compared with :func:`options_table` by a test.

This module is light on purpose (no torch, whisper or librosa): ``alt --help`` imports it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from alt_cli.errors import AltError

WHISPER_WINDOW = 30.0  # seconds: Whisper's fixed input length
SECTION_GAP = 4.0  # seconds of vocal rest between lines that start a new section
DEMUCS_MODEL = "mdx_extra"  # the paper's separator
DEFAULT_BATCH_SIZE = 8  # windows decoded together on a CPU
# On a GPU a decoding step costs about the same for 32 rows as for 8, and 4 songs together
# have ~24 windows: one round instead of three (H200: 2.51 s -> 1.09 s for 16 windows vs 16).
GPU_BATCH_SIZE = 32
SEPARATORS = ("auto", "demucs", "spleeter", "none")
SEGMENTERS = ("rmsvad", "native")
ASR_INPUTS = ("mix", "vocals", "blend")
DEVICES = ("auto", "cpu", "cuda")
FORMATS = ("txt", "lrc", "elrc", "ass", "srt", "vtt", "json")
# File extension per format where it is not the format's name: players look for enhanced
# (word-timed) LRC in song.lrc, so elrc and lrc cannot both be written in one run.
FORMAT_EXTENSIONS = {"elrc": "lrc"}
# The audio Whisper hears when --asr-input is not given, by the separator that ran.  Measured
# on the dev songs (base): Spleeter's vocals alone transcribe worse than the mix (60.6 vs 53.0 %
# WER: its artefacts hurt more than the accompaniment), the mix with the vocals added once more
# (+6 dB voice) best (51.4 %); the paper found Demucs vocals better than the mix with large-v2.
DEFAULT_ASR_INPUT = {"spleeter": "blend", "demucs": "vocals", "none": "mix", "stem": "vocals"}
AUDIO_EXTENSIONS = ("mp3", "wav", "flac", "ogg", "opus", "m4a", "aac", "wma", "aiff", "aif")
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")


class OptionError(AltError):
    """A setting with a value outside its range: the user's to fix (exit status 2)."""


@dataclass(frozen=True)
class Setting:
    """How one option field is offered to users.

    kind: "float", "int", "bool", "choice", "text", "path", "floats" (comma list), "list"
    (comma list of words, each one of ``choices`` if given) or "multi" (a repeatable flag).
    ``off`` names the word that stands for None (``--pack-gap keep``); ``low``/``high`` bound
    numbers (inclusive unless ``low_open``); ``shown`` is the default as the README and
    ``--help`` say it when the value itself would not tell (None, a computed default).
    """

    flag: str
    help: str
    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()
    off: str | None = None
    negative: str | None = None  # the flag that sets a bool False (``--keep-gaps``)
    short: str | None = None  # one-letter alias (``-m``)
    shown: str | None = None
    metavar: str | None = None
    bare: str | None = None  # the value of the flag given alone (``--ray`` = ``--ray local``)

    @property
    def name(self) -> str:
        """The flag without dashes: the key ``--variant`` accepts (``beam-size``)."""
        return self.flag.lstrip("-")


def setting(default: Any, flag: str, help: str, kind: str, **declared: Any) -> Any:  # noqa: A002
    """A dataclass field with its user-facing declaration in the metadata."""
    meta = {"setting": Setting(flag, help, kind, **declared)}
    if isinstance(default, list | dict | set):
        raise TypeError("mutable defaults need a factory")
    return field(default=default, metadata=meta)


def declared(options_type: type) -> Iterator[tuple[str, Setting, Any]]:
    """(field name, setting, default) for every declared field of an options dataclass."""
    for item in fields(options_type):
        if "setting" in item.metadata:
            default = item.default if item.default is not MISSING else item.default_factory()
            yield item.name, item.metadata["setting"], default


def _describe_range(spec: Setting) -> str:
    if spec.choices:
        return "one of " + ", ".join(spec.choices)
    low = "" if spec.low is None else (f"> {spec.low:g}" if spec.low_open else f">= {spec.low:g}")
    high = "" if spec.high is None else f"<= {spec.high:g}"
    words = " and ".join(part for part in (low, high) if part)
    return words + (f", or {spec.off}" if spec.off else "")


def _number_ok(value: float, spec: Setting) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return False
    if spec.low is not None and (value <= spec.low if spec.low_open else value < spec.low):
        return False
    return spec.high is None or value <= spec.high


def check_value(value: Any, spec: Setting) -> None:
    """Raise :class:`OptionError` when ``value`` is not valid for ``spec`` (NaN never is)."""
    if value is None and (spec.off or spec.kind in ("text", "path", "choice")):
        return
    ok = True
    if spec.kind in ("float", "int"):
        ok = _number_ok(value, spec) and (spec.kind == "float" or isinstance(value, int))
    elif spec.kind == "bool":
        ok = isinstance(value, bool)
    elif spec.kind == "choice":
        ok = value in spec.choices
    elif spec.kind == "floats":
        ok = bool(value) and all(_number_ok(v, spec) for v in value)
    elif spec.kind == "list" and spec.choices:
        ok = value is None or all(item in spec.choices for item in value)
    if not ok:
        raise OptionError(f"{spec.flag} must be {_describe_range(spec) or spec.kind} "
                          f"(got {value!r})")


def check_options(options: Any) -> None:
    """Check every declared field of an options dataclass (called from ``__post_init__``)."""
    for name, spec, default in declared(type(options)):
        value = getattr(options, name)
        if value is None and default is None:
            continue  # None is the declared "not set" (torch's threads, the detected language)
        check_value(value, spec)


def parse_value(text: str, spec: Setting) -> Any:
    """A value as typed on the command line (or in a ``--variant``) -> the field's value."""
    text = text.strip()
    if spec.off and text.lower() in (spec.off, "none"):
        return None
    try:
        if spec.kind == "float":
            return float(text)
        if spec.kind == "int":
            return int(text)
        if spec.kind == "floats":
            return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise OptionError(f"{spec.flag} must be {_describe_range(spec) or spec.kind} "
                          f"(got {text!r})") from None
    if spec.kind == "bool":
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise OptionError(f"{spec.flag} must be true or false (got {text!r})")
    if spec.kind == "path":
        return Path(text).expanduser()
    if spec.kind == "list":
        return tuple(part.strip() for part in text.split(",") if part.strip())
    return text


class Checked:
    """Mixin: an options dataclass whose declared values are checked when it is built."""

    def __post_init__(self) -> None:
        check_options(self)


@dataclass(frozen=True)
class SeparatorOptions(Checked):
    """Which separator extracts the vocals, and where its weights come from."""

    separator: str = setting(
        "auto", "--separator", "Vocal separator: auto = Demucs if its weights are on this "
        "machine, else Spleeter.", "choice", choices=SEPARATORS)
    demucs_model: str = setting(DEMUCS_MODEL, "--demucs-model",
                                "Demucs model name (the paper used mdx_extra).", "text")
    demucs_repo: Path | None = setting(
        None, "--demucs-repo", "Local folder of Demucs weights (.th) and model files (.yaml).",
        "path", shown="—", metavar="DIR")


@dataclass(frozen=True)
class VadOptions(Checked):
    """RMS-VAD parameters; defaults are the paper's."""

    frame_length: int = setting(2048, "--vad-frame-length", "RMS frame, samples at 16 kHz.",
                                "int", low=16, high=16000)
    hop_length: int = setting(512, "--vad-hop-length", "RMS hop, samples at 16 kHz.", "int",
                              low=1, high=16000)
    onset: float = setting(0.1, "--vad-onset", "Normalised vocal RMS that opens a segment.",
                           "float", low=0.0, high=1.0, low_open=True)
    offset: float = setting(0.1, "--vad-offset",
                            "Normalised vocal RMS below which a frame is silent.", "float",
                            low=0.0, high=1.0)
    min_silence: float = setting(1.0, "--vad-min-silence",
                                 "Seconds of silence that close a segment.", "float",
                                 low=0.0, high=60.0, low_open=True)
    min_speech: float = setting(0.0, "--vad-min-speech",
                                "Seconds; shorter segments are dropped.", "float",
                                low=0.0, high=WHISPER_WINDOW)
    padding: float = setting(0.2, "--vad-padding", "Seconds added on each side of a segment "
                             "(the gap is split when segments are closer than twice this).",
                             "float", low=0.0, high=5.0)
    max_segment: float = setting(
        WHISPER_WINDOW, "--vad-max-segment", "Longest segment in seconds (padding included); a "
        "longer one is cut at its last silence >= --vad-cut-silence, else at its quietest frame "
        "in its second half.", "float", low=1.0, high=WHISPER_WINDOW)
    min_silence_at_max: float = setting(
        0.098, "--vad-cut-silence", "Seconds of silence preferred as the cut of a too-long "
        "segment.", "float", low=0.0, high=WHISPER_WINDOW)
    max_window: float = setting(WHISPER_WINDOW, "--max-window",
                                "Longest merged window in seconds (Whisper takes 30).", "float",
                                low=1.0, high=WHISPER_WINDOW)
    # An absolute floor under the relative thresholds above: they are fractions of the song's
    # loudest vocal frame, so an instrumental's bleed or a noise file always has "voiced"
    # frames.  Measured with Spleeter: the dev songs' voiced vocals sit 1-6 dB below the mix's
    # RMS, a synthetic instrumental's and white noise's 55-62 dB below it.
    floor_db: float | None = setting(
        -30.0, "--vad-floor", "Separated vocals this many dB below the mix's RMS are never "
        "voice (an instrumental's bleed, noise); off = no floor.", "float", low=-120.0,
        high=0.0, off="off")
    # Pack a window's segments end to end with this much silence between them, instead of
    # keeping the instrumental gaps: more voice per Whisper input and nothing to caption in
    # between (the paper's concatenated clips).  None: windows are spans of the song.
    pack_gap: float | None = setting(
        None, "--pack-gap", "Join a window's vocal segments with this many seconds of silence "
        "instead of keeping the instrumental gaps (keep = keep the gaps).", "float", low=0.0,
        high=10.0, off="keep", shown="keep")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hop_length > self.frame_length:
            raise OptionError(f"--vad-hop-length ({self.hop_length}) must not exceed "
                              f"--vad-frame-length ({self.frame_length})")
        if self.max_segment <= 2 * self.padding + self.frame_length / 16000:
            raise OptionError(f"--vad-max-segment ({self.max_segment:g} s) must exceed twice "
                              f"--vad-padding plus one frame")


@dataclass(frozen=True)
class AsrOptions(Checked):
    """How Whisper decodes; thresholds follow Whisper's own transcribe()."""

    language: str | None = setting(
        None, "--language", "ISO code of the sung language.", "text", short="-l",
        shown="detected", metavar="CODE")
    batch_size: int | None = setting(None, "--batch-size",
                                     "Windows decoded together (pays off on a GPU).", "int",
                                     low=1, high=1024, shown="32 on a GPU, 8 on a CPU",
                                     metavar="N")
    # Beam search at temperature 0 (the paper's 5; measured on the dev songs: -1.9 WER points;
    # with the beams sharing their window's cross-attention it costs about what greedy decoding
    # did before, see README "Performance").
    beam_size: int = setting(5, "--beam-size", "Beam search width at temperature 0 (1 = greedy).",
                             "int", low=1, high=64)
    best_of: int = setting(1, "--best-of", "Samples drawn per fallback temperature, best kept.",
                           "int", low=1, high=64)
    temperatures: tuple[float, ...] = setting(
        (0.0, 0.2, 0.4, 0.6, 0.8, 1.0), "--temperatures",
        "Decoding temperatures, tried in order while a window fails the checks.", "floats",
        low=0.0, high=2.0, metavar="LIST")
    compression_ratio_threshold: float = setting(
        2.4, "--compression-ratio-threshold",
        "Above: the text is repetitive (a loop); decode again hotter (inf: never).", "float",
        low=1.0)
    logprob_threshold: float = setting(
        -1.0, "--logprob-threshold", "Below (mean token log-probability): the decode is unsure; "
        "decode again hotter (-inf: never).", "float", high=0.0)
    no_speech_threshold: float = setting(
        0.6, "--no-speech-threshold",
        "Above (and unsure): the window is silent and yields no text (> 1: never).", "float",
        low=0.0)
    word_timestamps: bool = setting(
        True, "--word-timestamps", "Align words (line splitting at rests, precise times); "
        "off is faster, lines then split only at Whisper's segments.", "bool",
        negative="--no-word-timestamps", shown="on")
    sample_len: int | None = setting(None, "--sample-len",
                                     "Most tokens decoded per window (auto = Whisper's 224).",
                                     "int", low=1, high=448, off="auto", shown="auto")
    fp16: bool | None = setting(None, "--fp16", "Half precision (auto = on a GPU only).", "bool",
                                negative="--fp32", off="auto", shown="auto")
    # When every temperature fails the checks, keep the most confident attempt ("best") rather
    # than the last, hottest one ("last", Whisper's transcribe()).
    fallback_pick: str = setting(
        "last", "--fallback-pick", "When every temperature fails the checks, keep the last "
        "(hottest) attempt, as Whisper does, or the best (most confident) one.", "choice",
        choices=("last", "best"))
    # More words than this per second of voice cannot have been sung: decode again hotter.
    max_words_per_second: float | None = setting(
        None, "--max-words-per-second", "Re-decode a window with more words than this per "
        "second of voice (+3).", "float", low=0.0, high=100.0, low_open=True, off="off",
        shown="off")
    quiet_gaps: bool = setting(False, "--quiet-gaps",
                               "Silence the instrumental gaps inside an unpacked window.", "bool",
                               negative="--keep-gaps", shown="keep")
    # On a CPU, let oneDNN compute Whisper's linear layers with bfloat16 units where the CPU has
    # them (AVX512-BF16, AMX; elsewhere nothing changes).  Measured on the dev songs in one
    # `alt bench` run: RTF 0.081 vs 0.102, identical lyrics on all five, same peak memory.
    cpu_bf16_matmul: bool = setting(
        True, "--cpu-bf16", "On CPUs with bfloat16 units, Whisper's linear layers from "
        "bfloat16 parts of the float32 operands (~20 % faster, same lyrics on the dev songs).",
        "bool", negative="--cpu-fp32", shown="bf16")


@dataclass(frozen=True)
class LayoutOptions(Checked):
    """How recognised text is laid out as lyrics (see :mod:`alt_cli.layout`)."""

    section_gap: float = setting(SECTION_GAP, "--section-gap",
                                 "Seconds of vocal rest that start a new section (blank line).",
                                 "float", low=0.5, high=3600.0)
    # Drop a Whisper segment when less than this share of its time span is vocal activity:
    # text over an instrumental stretch is a caption Whisper invented (0: keep everything).
    min_voiced_fraction: float = setting(
        0.0, "--min-voiced-fraction",
        "Drop recognised text whose time span is less than this share voiced.", "float",
        low=0.0, high=1.0)
    script_filter: bool = setting(
        True, "--script-filter", "Drop words written in a script the song's language does not "
        "use (Cyrillic or CJK letters in a Spanish song come from high-temperature samples).",
        "bool", negative="--no-script-filter", shown="on")
    # Sung phrases inside Whisper's segments (see alt_cli/layout/phrasing.py).
    line_breath: float | None = setting(
        0.3, "--line-breath", "A breath this many seconds long between two words ends a "
        "line (the separated vocals dip 10 dB under the phrase); off = lines end at Whisper's "
        "segments and the VAD's rests only.", "float", low=0.03, high=5.0, off="off")
    max_line_words: int | None = setting(
        12, "--max-line-words", "Split a longer line at its deepest breath (off: no limit).",
        "int", low=2, high=200, off="off")
    min_line_words: int = setting(
        2, "--min-line-words", "A shorter line joins the neighbour it is sung closest to "
        "(unless 1.5 s of rest isolate it); a split leaves at least this many words each side.",
        "int", low=1, high=20)
    line_period: bool = setting(
        True, "--line-period", "Re-cut a line spanning over 1.3 times the song's usual line "
        "spacing (sung lines come about a phrase apart) where the pieces match that spacing "
        "and the voice breathes or pauses.", "bool", negative="--no-line-period", shown="on")
    line_pickups: bool = setting(
        True, "--line-pickups", "A line never ends on a word that leads into the next one "
        "(an article, preposition, conjunction or clitic: 'de', 'the', 'se'): it moves "
        "to the next line (languages fr, es, en, de, it, pt).", "bool",
        negative="--no-line-pickups", shown="on")
    line_punctuation: bool = setting(
        True, "--line-punctuation", "Split a line spanning over the song's line spacing at "
        "Whisper's inner commas, in a song where Whisper's punctuation marks the line ends "
        "alt is sure of (5 times likelier there than inside lines).", "bool",
        negative="--no-line-punctuation", shown="on")
    line_repeats: bool = setting(
        True, "--line-repeats", "A passage sung several times (a chorus) keeps the line breaks "
        "most of its renditions have: split where the others split, joined where they sing "
        "it as one line.", "bool", negative="--no-line-repeats", shown="on")
    pickup_joins: bool = setting(
        True, "--pickup-joins", "A line that ends on a pickup word but would be too short "
        "without it ('Non, je') joins the next line.", "bool", negative="--no-pickup-joins",
        shown="on")
    line_capitals: bool = setting(
        True, "--line-capitals", "A capital at each line's first letter, as written lyrics "
        "have (Whisper capitalises sentences, not the lines cut inside them).", "bool",
        negative="--no-line-capitals", shown="on")
    section_changes: bool = setting(
        True, "--section-changes", "Also start a section at a line boundary where the music "
        "changes (the novelty of the mix's timbre and chords over 16 s): verse and chorus are "
        "rarely separated by a rest.", "bool", negative="--no-section-changes", shown="on")
    changes_at_repeats: bool = setting(
        True, "--changes-at-repeats", "A music change near several line starts opens its "
        "section where a block of lines sung again (a chorus) starts or ends, if one is "
        "there; off = after the longest rest.", "bool", negative="--changes-at-rests",
        shown="on")
    lyrics_conventions: bool = setting(
        False, "--lyrics-conventions", "Capital at each line start, no comma or full stop at "
        "line ends (the Jam-ALT guide); off keeps Whisper's punctuation.", "bool",
        negative="--whisper-punctuation", shown="Whisper's")


@dataclass(frozen=True)
class TranscribeOptions(Checked):
    """Everything that decides a transcript (recorded in the JSON output)."""

    model: str | None = setting(
        None, "--model", "Whisper name (tiny, tiny.en, base, small, medium, large-v2, large-v3, "
        "turbo), an openai-whisper .pt checkpoint, or a CTranslate2/faster-whisper folder.",
        "text", short="-m", shown="large-v2 on a GPU, base on a CPU", metavar="NAME/PATH")
    device: str = setting("auto", "--device", "Where models run (fp16 on cuda).", "choice",
                          choices=DEVICES)
    segmenter: str = setting(
        "rmsvad", "--segmenter", "rmsvad = windows from the separated vocals' energy (the "
        "method); native = Whisper's own long-form transcribe(), the baseline.", "choice",
        choices=SEGMENTERS)
    asr_input: str | None = setting(
        None, "--asr-input", "The audio Whisper hears: mix, vocals, or blend (the mix with the "
        "separated vocals added once more: voice +6 dB, the separator's artefacts masked).",
        "choice", choices=ASR_INPUTS, shown="blend with Spleeter, vocals with Demucs")
    separation: SeparatorOptions = field(default_factory=SeparatorOptions)
    vad: VadOptions = field(default_factory=VadOptions)
    asr: AsrOptions = field(default_factory=AsrOptions)
    layout: LayoutOptions = field(default_factory=LayoutOptions)
    cache_dir: Path | None = setting(
        None, "--cache-dir", "Separated vocals, converted models, and the signals of files "
        "over 10 min while they run.", "path",
        shown="~/.cache/alt", metavar="DIR")
    threads: int | None = setting(None, "--threads", "CPU threads for torch.", "int", low=1,
                                  high=1024, shown="torch's")


@dataclass(frozen=True)
class BatchOptions(Checked):
    """Which files a run reads and writes, and how a folder run behaves."""

    output_dir: Path | None = setting(None, "--output-dir", "Folder for the lyrics files.",
                                      "path", short="-o", shown="beside each song", metavar="DIR")
    formats: tuple[str, ...] = setting(("txt", "lrc", "json"), "--format",
                                       f"Comma list of output formats: {', '.join(FORMATS)}.",
                                       "list", short="-f", metavar="LIST")
    overwrite: bool = setting(False, "--overwrite", "Redo songs whose outputs already exist.",
                              "bool", shown="off")
    recursive: bool = setting(True, "--recursive", "Descend into sub-folders.", "bool",
                              negative="--no-recursive", shown="on")
    extensions: tuple[str, ...] = setting(AUDIO_EXTENSIONS, "--ext",
                                          "Extensions recognised as audio when walking folders.",
                                          "list", metavar="LIST", shown="mp3,wav,flac,...")
    dry_run: bool = setting(False, "--dry-run", "List what would be done, and do nothing.",
                            "bool", shown="off")
    report: Path | None = setting(None, "--report", "Append one JSON line per song (done, "
                                  "skipped, failed + reason) to FILE.", "path", shown="—",
                                  metavar="FILE")
    jobs: int = setting(1, "--jobs", "2 = decode and separate the next song while "
                        "transcribing this one.", "int", low=1, high=64, short="-j")
    songs_together: int | None = setting(
        None, "--songs-together", "Songs whose Demucs segments and Whisper windows share the "
        "models' batches (a GPU's big lever; each song's lyrics as when done alone).", "int",
        low=1, high=64, shown="4 on a GPU, 1 on a CPU", metavar="N")
    ray: str | None = setting(
        None, "--ray", "Run the songs on Ray (pip install 'alt-cli[ray]'): alone, a Ray "
        "started on this machine; auto or HOST:PORT, a cluster (files on storage every node "
        "sees).", "text", bare="local", metavar="[ADDRESS]", shown="off")
    ray_workers: int | None = setting(None, "--ray-workers", "Ray workers, each with the "
                                      "models loaded.", "int", low=1, high=100000,
                                      shown="one per GPU, else per CPU", metavar="N")
    shard: str | None = setting(
        None, "--shard", "Do only shard I of N of the songs (1/8 ... 8/8), for job arrays "
        "(Slurm, Kubernetes): N runs with I = 1..N do every song once between them.", "text",
        metavar="I/N", shown="all")

    @property
    def shard_parts(self) -> tuple[int, int] | None:
        """``"2/8"`` -> (2, 8); None for all songs."""
        if self.shard is None:
            return None
        index, _, count = self.shard.partition("/")
        return int(index), int(count)

    def __post_init__(self) -> None:
        super().__post_init__()
        # Normalised once here: formats lower-case without repeats, extensions without a dot.
        object.__setattr__(self, "formats", tuple(dict.fromkeys(f.lower() for f in self.formats)))
        object.__setattr__(self, "extensions",
                           tuple(e.lower().lstrip(".") for e in self.extensions))
        unknown = [name for name in self.formats if name not in FORMATS]
        if unknown or not self.formats:
            raise OptionError(f"--format must be a comma list of {', '.join(FORMATS)} "
                              f"(got {','.join(self.formats) or 'nothing'})")
        if not any(self.extensions):
            raise OptionError("--ext needs at least one extension")
        if self.shard is not None and not re.fullmatch(r"[1-9]\d*/[1-9]\d*", self.shard) or (
                self.shard_parts and self.shard_parts[0] > self.shard_parts[1]):
            raise OptionError(f"--shard must be I/N with 1 <= I <= N, such as 2/8 (got "
                              f"{self.shard!r})")
        if self.ray is not None and not re.fullmatch(
                r"local|auto|(ray://)?[\w.-]+:\d+", self.ray):
            raise OptionError(f"--ray takes nothing, local, auto or HOST:PORT (got "
                              f"{self.ray!r}; put --ray after the folder)")
        if "lrc" in self.formats and "elrc" in self.formats:
            raise OptionError("--format lrc and elrc both write song.lrc: choose one (elrc has "
                              "the line times of lrc plus a time per word)")

    def songs_at_once(self, on_gpu: bool) -> int:
        """``--songs-together``, or its default: 4 on a GPU (shared batches fill it), 1 on a
        CPU (nothing to fill: one song's windows already keep the cores busy)."""
        return self.songs_together or (4 if on_gpu else 1)


ALIGN_FORMATS = ("elrc", "ass", "json")  # what `alt align` writes unless -f says otherwise


@dataclass(frozen=True)
class AlignOptions(Checked):
    """What `alt align` adds to `alt transcribe`'s settings."""

    force: bool = setting(False, "--force", "Align lyrics even when most of their words were "
                          "not heard (they may belong to another song).", "bool", shown="off")


# Options groups nested in TranscribeOptions, by field name.
NESTED = {"separation": SeparatorOptions, "vad": VadOptions, "asr": AsrOptions,
          "layout": LayoutOptions}


def transcribe_settings() -> Iterator[tuple[str, Setting, Any]]:
    """(dotted path, setting, default) of every TranscribeOptions setting, nested ones too."""
    for name, spec, default in declared(TranscribeOptions):
        yield name, spec, default
    for group, group_type in NESTED.items():
        for name, spec, default in declared(group_type):
            yield f"{group}.{name}", spec, default


def find_setting(key: str) -> tuple[str, Setting]:
    """A TranscribeOptions setting by its flag name (``beam-size``) or dotted field path."""
    wanted = key.strip().lstrip("-")
    for path, spec, _ in transcribe_settings():
        if wanted in (path, spec.name, (spec.negative or "").lstrip("-")):
            return path, spec
    raise OptionError(f"unknown setting {key!r} (use a flag name of `alt transcribe`, such as "
                      f"beam-size, or a field path such as asr.beam_size)")


def with_settings(options: Any, settings: dict[str, Any] | list[tuple[str, Any]],
                  prefix: str = "") -> Any:
    """A copy of a (nested) frozen options dataclass with dotted fields replaced (and checked)."""
    items = settings.items() if isinstance(settings, dict) else settings
    for key, value in items:
        head, _, rest = key.partition(".")
        if not is_dataclass(options) or head not in {f.name for f in fields(options)}:
            raise OptionError(f"unknown setting {prefix + key!r}")
        if rest:
            value = with_settings(getattr(options, head), [(rest, value)], f"{prefix}{head}.")
        options = replace(options, **{head: value})
    return options


def apply_text_settings(options: TranscribeOptions, pairs: list[tuple[str, str]]
                        ) -> TranscribeOptions:
    """``[("beam-size", "1")]`` -> options with those settings parsed and applied."""
    changes = []
    for key, text in pairs:
        path, spec = find_setting(key)
        value = parse_value(text, spec)
        if (spec.negative or "").lstrip("-") == key.strip().lstrip("-") and spec.kind == "bool":
            value = not value  # "keep-gaps=true" means quiet_gaps False
        changes.append((path, value))
    return with_settings(options, changes)


# Settings that change where or how fast alt works, never what it writes.
NOT_IN_RESULT = ("cache_dir", "threads")


def settings_key(options: TranscribeOptions, **resolved: Any) -> str:
    """Every setting that decides a transcript, as text (what a saved result was made with).

    All fields count, defaults included (a changed default must redo what it affects), plus
    what ``auto`` settings resolved to (``device="cpu"``, ``model="base"``); the cache folder
    and the thread count do not.
    """
    data = {k: v for k, v in asdict(options).items() if k not in NOT_IN_RESULT}
    return json.dumps({**data, **resolved}, sort_keys=True, default=str)


def shown_default(spec: Setting, default: Any) -> str:
    """The default as the README and ``--help`` write it."""
    if spec.shown is not None:
        return spec.shown
    if isinstance(default, tuple):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in default)
    if isinstance(default, float):
        return f"{default:g}"
    return str(default)


def metavar(spec: Setting) -> str | None:
    """What a flag's value looks like in ``--help`` and the README (None for a bare flag)."""
    if spec.kind in ("bool",):
        return None
    if spec.metavar:
        return spec.metavar
    if spec.kind == "choice":
        return "|".join(spec.choices)
    if spec.kind in ("int", "float"):
        number = "N" if spec.kind == "int" else "X"
        return f"{number}|{spec.off}" if spec.off else number
    return "TEXT"


def flag_text(spec: Setting) -> str:
    """``-m, --model NAME/PATH`` or ``--quiet-gaps/--keep-gaps``, as the README lists it."""
    name = spec.flag if spec.negative is None else f"{spec.flag}/{spec.negative}"
    if spec.short:
        name = f"{spec.short}, {name}"
    shown = metavar(spec)
    return f"{name} {shown}" if shown else name


def options_table(groups: tuple[type, ...] = (BatchOptions, TranscribeOptions, *NESTED.values())
                  ) -> str:
    """The README's ``alt transcribe`` options table, generated from the declarations."""
    rows = ["| option | default | meaning |", "|---|---|---|"]
    for group in groups:
        for _, spec, default in declared(group):
            rows.append(f"| `{flag_text(spec)}` | {shown_default(spec, default)} | "
                        f"{spec.help} |")
    return "\n".join(rows) + "\n"


def comma_list(text: str | None) -> list[str] | None:
    """'a, b,' -> ['a', 'b']; None stays None."""
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


if __name__ == "__main__":  # python -m alt_cli.options: print the README table
    print(options_table(), end="")
