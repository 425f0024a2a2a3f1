"""What `alt bench` compares: its own settings, the configurations, and the variants.

Light (no torch): the CLI builds `alt bench`'s flags from :class:`BenchRequest` for ``--help``.
A configuration is one column of the comparison; every other setting is an `alt transcribe`
flag given once for all configurations, and ``--variant NAME:FLAG=VALUE`` repeats every
configuration with settings changed, using the same flag names.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alt_cli.errors import AltError
from alt_cli.options import (
    ASR_INPUTS,
    DEFAULT_ASR_INPUT,
    SEGMENTERS,
    SEPARATORS,
    Checked,
    OptionError,
    TranscribeOptions,
    apply_text_settings,
    setting,
    with_settings,
)

MODES = ("long", "short")
TASKS = ("transcribe", "align", "layout")
ASR_INPUT_STEM = "stem"  # the benchmark's true vocal stem (MUSDB-ALT)
# TranscribeOptions settings that a configuration or a song decides, not a bench-wide flag.
BENCH_PER_CONFIG = frozenset({"model", "separation.separator", "segmenter", "asr_input",
                              "asr.language"})


@dataclass(frozen=True)
class BenchRequest(Checked):
    """The settings of `alt bench` itself (every `alt transcribe` setting is accepted too)."""

    data_dir: Path | None = setting(
        None, "--data-dir", "Local copy of the benchmark (audio/, lyrics/, optional "
        "lyrics_tagged/, line_timings/, stems/, metadata.csv).", "path",
        shown="download from the Hub", metavar="DIR")
    mode: str = setting("long", "--mode", "long = whole songs; short = reference lines and "
                        "grouped lines.", "choice", choices=MODES)
    task: str = setting("transcribe", "--task", "transcribe = lyrics from audio (WER); align = "
                        "`alt align` of lyrics_jamendo/ scored against word_timings/ (onset "
                        "errors); layout = the layout alone on the reference words at their "
                        "human times (word_timings/, no audio), with baselines.", "choice",
                        choices=TASKS)
    models: tuple[str, ...] | None = setting(
        None, "--model", "Comma list of Whisper models.", "list", short="-m",
        shown="large-v2 on a GPU, base on a CPU", metavar="LIST")
    separators: tuple[str, ...] = setting(("auto",), "--separator",
                                          "Comma list of separators.", "list",
                                          choices=SEPARATORS, metavar="LIST")
    segmenters: tuple[str, ...] = setting(("rmsvad",), "--segmenter", "Comma list: rmsvad, "
                                          "native.", "list", choices=SEGMENTERS, metavar="LIST")
    asr_inputs: tuple[str, ...] = setting(
        ("auto",), "--asr-input", "Comma list: auto (alt's default for the separator; the mix "
        "for native), mix, vocals, blend, stem (the true vocal stem, MUSDB-ALT).", "list",
        choices=("auto", *ASR_INPUTS, ASR_INPUT_STEM), metavar="LIST")
    variants: tuple[str, ...] = setting(
        (), "--variant", "Also run every configuration with these settings changed, labelled "
        "NAME (repeatable; keys are `alt transcribe` flag names such as beam-size, or field "
        "paths such as asr.beam_size).", "multi", metavar="NAME:KEY=VALUE[,KEY=VALUE]")
    songs: tuple[str, ...] | None = setting(None, "--songs", "Comma list of song names to run.",
                                            "list", shown="all", metavar="LIST")
    languages: tuple[str, ...] | None = setting(
        None, "--language", "Comma list of languages to keep (en, fr, de, es).", "list",
        short="-l", shown="all", metavar="LIST")
    limit: int | None = setting(None, "--limit", "At most N songs.", "int", low=1, off="all",
                                shown="all")
    out: Path | None = setting(None, "--out", "Results folder; re-running with the same folder "
                               "resumes.", "path", short="-o", shown="results/<dataset>-<mode>",
                               metavar="DIR")


@dataclass(frozen=True)
class BenchConfig:
    """One column of the comparison."""

    model: str
    separator: str
    segmenter: str
    asr_input: str
    variant: str = ""  # name of a settings variant; "" = the base settings

    @property
    def label(self) -> str:
        """File-name-safe and readable: base.spleeter.rmsvad.mix (+ .variant)"""
        parts = [part for part in (self.model.replace("/", "_"), self.separator,
                                   self.segmenter, self.asr_input) if part]
        return ".".join(parts + ([self.variant] if self.variant else []))


@dataclass(frozen=True)
class Variant:
    """A named set of setting changes: ``NAME:KEY=VALUE[,KEY=VALUE]``."""

    name: str
    changes: tuple[tuple[str, str], ...]  # (flag name or field path, value as typed)

    def apply(self, options: TranscribeOptions) -> TranscribeOptions:
        return apply_text_settings(options, list(self.changes))


def parse_variant(spec: str) -> Variant:
    """``greedy:beam-size=1`` -> Variant; keys are checked against the declarations now."""
    name, sep, body = spec.partition(":")
    if not sep or not name or not name.replace("-", "").replace("_", "").isalnum():
        raise OptionError(f"--variant {spec!r}: expected NAME:KEY=VALUE[,KEY=VALUE]")
    changes = []
    for item in filter(None, body.split(",")):
        key, eq, raw = item.partition("=")
        if not eq:
            raise OptionError(f"--variant {spec!r}: {item!r} is not KEY=VALUE")
        changes.append((key.strip(), raw.strip()))
    variant = Variant(name, tuple(changes))
    try:
        variant.apply(TranscribeOptions())  # a misspelt key or bad value fails before any work
    except OptionError as exc:
        raise OptionError(f"--variant {spec!r}: {exc}") from None
    return variant


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


def config_options(config: BenchConfig, base: TranscribeOptions, variants: Sequence[Variant],
                   language: str) -> TranscribeOptions:
    """The TranscribeOptions one song is transcribed with under ``config``."""
    separator = config.separator if config.separator != "stem" else "none"
    options = with_settings(base, {
        "model": config.model,
        "segmenter": "native" if config.segmenter == "native" else "rmsvad",
        "asr_input": "vocals" if config.asr_input == ASR_INPUT_STEM else config.asr_input,
        "separation.separator": separator,
        "asr.language": language,
    })
    for variant in variants:
        if variant.name == config.variant:
            options = variant.apply(options)
    return options


def check_configs(configs: Sequence[BenchConfig]) -> None:
    unknown = {c.asr_input for c in configs} - {*ASR_INPUTS, ASR_INPUT_STEM}
    if unknown:
        raise AltError(f"unknown --asr-input {', '.join(sorted(unknown))} "
                       f"({', '.join((*ASR_INPUTS, ASR_INPUT_STEM))})")
