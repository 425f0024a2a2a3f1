"""The ``alt`` command: a thin layer that builds option dataclasses and calls the Python API.

Flags are generated from the declarations in :mod:`alt_cli.options` (one place for a setting's
default, help and range), so this module holds no setting of its own.  It imports nothing heavy
at module level: ``alt --help`` and ``alt --version`` never load torch, Whisper or librosa.
Errors the user can cause print one line (``alt: error: ...``) and exit non-zero; tracebacks
only with ``--verbose``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from alt_cli.errors import AltError
from alt_cli.options import (
    ALIGN_FORMATS,
    NESTED,
    AlignOptions,
    BatchOptions,
    OptionError,
    Setting,
    TranscribeOptions,
    check_value,
    declared,
    metavar,
    parse_value,
    shown_default,
)

EXIT_OK = 0
EXIT_ERROR = 1  # every song failed, or nothing could start (bad setting, no input)
EXIT_USAGE = 2  # click's code for bad options
EXIT_SOME_FAILED = 3  # some songs failed; the others are done
EXIT_INTERRUPTED = 130
SEP = "__"  # joins a nested field path in click's parameter names: asr__beam_size


class SettingType(click.ParamType):
    """A click type that parses and range-checks with the setting's own declaration."""

    def __init__(self, spec: Setting):
        self.spec = spec
        self.name = spec.kind

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if not isinstance(value, str):
            return value
        try:
            parsed = parse_value(value, self.spec)
            check_value(parsed, self.spec)
        except OptionError as exc:
            self.fail(str(exc), param, ctx)
        return parsed


def setting_option(dest: str, spec: Setting, default: Any) -> Callable:
    """The click option for one declared setting; not given = the dataclass default."""
    names = [spec.flag] if spec.negative is None else [f"{spec.flag}/{spec.negative}"]
    if spec.short:
        names.insert(0, spec.short)
    common = {"default": None, "help": f"{spec.help}  [default: {shown_default(spec, default)}]"}
    if spec.kind == "bool":
        return click.option(*names, dest, is_flag=True, flag_value=True, **common) \
            if spec.negative is None else click.option(*names, dest, **common)
    if spec.kind == "multi":
        return click.option(*names, dest, multiple=True, metavar=metavar(spec), help=spec.help)
    if spec.bare is not None:  # a value is optional: the flag alone means `bare`
        return click.option(*names, dest, type=SettingType(spec), metavar=metavar(spec),
                            is_flag=False, flag_value=spec.bare, **common)
    return click.option(*names, dest, type=SettingType(spec), metavar=metavar(spec), **common)


def settings_options(groups: Iterable[tuple[str, type]], skip: Iterable[str] = ()) -> Callable:
    """Decorator adding the flags of every declared setting of the (prefix, dataclass) groups."""
    skipped = set(skip)
    decorators = [setting_option(f"{prefix}{name}", spec, default)
                  for prefix, group in groups
                  for name, spec, default in declared(group)
                  if f"{prefix}{name}".replace(SEP, ".") not in skipped]

    def apply(command: Callable) -> Callable:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


TRANSCRIBE_GROUPS = (("", TranscribeOptions),
                     *((f"{name}{SEP}", group) for name, group in NESTED.items()))


def _given(params: dict[str, Any], prefix: str, group: type) -> dict[str, Any]:
    return {name: params[prefix + name] for name, _, _ in declared(group)
            if params.get(prefix + name) is not None}


def transcribe_options_from(params: dict[str, Any]) -> TranscribeOptions:
    """TranscribeOptions from click's parameters: only what was given overrides a default."""
    nested = {name: group(**_given(params, f"{name}{SEP}", group))
              for name, group in NESTED.items()}
    return TranscribeOptions(**_given(params, "", TranscribeOptions), **nested)


def batch_options_from(params: dict[str, Any]) -> BatchOptions:
    return BatchOptions(**_given(params, "batch" + SEP, BatchOptions))


def _run_on_ray(jobs, options: TranscribeOptions, runner, reporter, batch: BatchOptions):
    """The batch run over Ray; a cluster that cannot run it is one clear error."""
    from alt_cli.ray_runner import run_on_ray

    try:
        return run_on_ray(jobs, options, runner, reporter, batch)
    except AltError as exc:
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - Ray's own errors (a worker that cannot start)
        lines = [line for line in str(exc).splitlines() if line.strip()]
        cause = next((line for line in reversed(lines) if "Error" in line), lines[-1] if lines
                     else type(exc).__name__)
        _fail(f"ray: {cause.strip()[:300]}")


def _fail(message: str, code: int = EXIT_ERROR) -> None:
    click.echo(f"alt: error: {message}", err=True)
    sys.exit(code)


def _build(factory: Callable[[], Any]) -> Any:
    """Options from the command line; a value out of range is a usage error (exit 2)."""
    try:
        return factory()
    except OptionError as exc:
        _fail(str(exc), EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="alt-cli", prog_name="alt")
def cli() -> None:
    """alt: automatic lyrics transcription (vocal separation + RMS-VAD windows + Whisper)."""


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@settings_options([("batch" + SEP, BatchOptions), *TRANSCRIBE_GROUPS])
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.option("-v", "--verbose", is_flag=True, help="Print timings and tracebacks too.")
def transcribe(inputs: tuple[Path, ...], quiet: bool, verbose: bool, **params: Any) -> None:
    """Transcribe the lyrics of songs and music folders into txt / lrc / elrc / ass / srt /
    vtt / json.

    Folders are walked recursively; songs that alt already did with these settings are
    skipped, so re-running an interrupted command does only what is left, and files alt did
    not write are never replaced without --overwrite.  Exit status: 0 when nothing failed, 3 when
    some songs failed (the others are done), 1 when every song failed or nothing could start.
    """
    batch = _build(lambda: batch_options_from(params))
    _run_batch(inputs, batch, _build(lambda: transcribe_options_from(params)), quiet, verbose)


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@settings_options([("batch" + SEP, BatchOptions), ("align" + SEP, AlignOptions),
                   *TRANSCRIBE_GROUPS])
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.option("-v", "--verbose", is_flag=True, help="Print timings and tracebacks too.")
def align(inputs: tuple[Path, ...], quiet: bool, verbose: bool, **params: Any) -> None:
    """Place lyrics you already have on the audio: word-timed lrc, ass karaoke, srt, json.

    `alt align SONG LYRICS.txt` aligns one song; `alt align SONG_OR_FOLDER ...` pairs each song
    with the same-name .txt beside it (song.mp3 + song.txt).  The text is kept as written: one
    line per line, a blank line between sections.  Folders behave as in `alt transcribe`.
    Without -f it writes elrc (word-timed song.lrc), ass and json.
    """
    given = _given(params, "batch" + SEP, BatchOptions)
    given.setdefault("formats", ALIGN_FORMATS)
    batch = _build(lambda: BatchOptions(**given))
    if "txt" in batch.formats:
        _fail("alt align writes no txt: the lyrics .txt is its input", EXIT_USAGE)
    force = _build(lambda: AlignOptions(**_given(params, "align" + SEP, AlignOptions))).force
    pairs: dict[Path, Path] = {}
    if len(inputs) == 2 and inputs[1].suffix.lower() == ".txt" and not inputs[0].is_dir():
        pairs, inputs = {inputs[0]: inputs[1]}, inputs[:1]
    _run_batch(inputs, batch, _build(lambda: transcribe_options_from(params)), quiet, verbose,
               align=(pairs, force))


def _run_batch(inputs: tuple[Path, ...], batch: BatchOptions, options: TranscribeOptions,
               quiet: bool, verbose: bool, align: tuple[dict, bool] | None = None) -> None:
    """Discover the songs, check everything, run them, summarise, exit with the status."""
    from alt_cli.batch import BatchRunner, discover, select_shard
    from alt_cli.fileio import ensure_writable_dir
    from alt_cli.pipeline import Transcriber
    from alt_cli.progress import Reporter

    reporter = Reporter(quiet=quiet, verbose=verbose)
    jobs = discover(inputs, batch.formats, batch.output_dir, recursive=batch.recursive,
                    extensions=batch.extensions)
    if not jobs:
        _fail("no audio files found in " + ", ".join(str(p) for p in inputs))
    if batch.shard_parts is not None:
        found = len(jobs)
        jobs = select_shard(jobs, batch.shard_parts)
        reporter.info(f"shard {batch.shard}: {len(jobs)} of {found} songs")
        if not jobs:
            sys.exit(EXIT_OK)
    if options.threads is None and not batch.dry_run:
        from alt_cli.runtime import auto_threads, free_cores, set_threads

        cores, busy = free_cores()
        threads = auto_threads(cores, busy, batch.jobs)
        set_threads(threads)
        reporter.debug(f"threads: {threads} ({cores} cores, {busy} busy with other work, "
                       f"{batch.jobs} job(s); --threads N overrides)")
    try:
        subject = Transcriber(options, reporter)
        if align is not None:
            from alt_cli.alignment import Aligner

            subject = Aligner(subject, lyrics=align[0], force=align[1])
    except AltError as exc:
        _fail(str(exc), EXIT_USAGE if isinstance(exc, OptionError) else EXIT_ERROR)
    if batch.dry_run:
        planner = BatchRunner(subject, reporter, overwrite=batch.overwrite)
        for job in jobs:
            outputs = ", ".join(map(str, job.outputs.values()))
            click.echo(f"{planner.plan(job)}: {job.source} -> {outputs}")
        sys.exit(EXIT_OK)
    if batch.ray is not None:
        from alt_cli.ray_runner import ray_available

        if align is not None:
            _fail("--ray runs alt transcribe; alt align runs on one machine", EXIT_USAGE)
        if not ray_available():
            _fail("--ray needs Ray: pip install 'alt-cli[ray]'", EXIT_USAGE)
    try:  # everything that can fail for all songs fails now, before the first one
        if batch.output_dir is not None:
            ensure_writable_dir(batch.output_dir, "output folder", "choose another -o")
        if batch.ray is None:
            subject.prepare()
        else:  # the workers load the models (on their nodes); the driver loads none
            ensure_writable_dir(subject.cache_dir, "cache folder", "pass --cache-dir")
            if batch.ray == "local":  # this machine's workers will find the model here
                from alt_cli.models import resolve_model

                resolve_model(subject.model_name, subject.cache_dir)
    except AltError as exc:
        _fail(str(exc), EXIT_USAGE if isinstance(exc, OptionError) else EXIT_ERROR)
    report = open(batch.report, "a", encoding="utf-8") if batch.report else None  # noqa: SIM115
    try:
        together = batch.songs_at_once(subject.device.startswith("cuda"))
        runner = BatchRunner(subject, reporter, overwrite=batch.overwrite, jobs=batch.jobs,
                             report=report, songs_together=together)
        if batch.ray is None:
            summary = runner.run(jobs)
        else:
            summary = _run_on_ray(jobs, options, runner, reporter, batch)
    finally:
        if report is not None:
            report.close()
    if len(jobs) > 1 and (not quiet or summary.failed):
        click.echo(summary.render(), err=True)
    if not summary.failed:
        sys.exit(EXIT_OK)
    sys.exit(EXIT_SOME_FAILED if summary.done or summary.skipped else EXIT_ERROR)


def _bench_groups():
    from alt_cli.bench.configs import BENCH_PER_CONFIG, BenchRequest

    return [("bench" + SEP, BenchRequest), *TRANSCRIBE_GROUPS], BENCH_PER_CONFIG


_BENCH_GROUPS, _BENCH_SKIP = _bench_groups()


def _bench_datasets() -> list[str]:
    from alt_cli.bench.datasets import DATASETS  # light: no torch

    return list(DATASETS)


@cli.command()
@click.argument("dataset", type=click.Choice(_bench_datasets()))
@settings_options(_BENCH_GROUPS, skip=_BENCH_SKIP)
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.option("-v", "--verbose", is_flag=True, help="Print timings too.")
def bench(dataset: str, quiet: bool, verbose: bool, **params: Any) -> None:
    """Score configurations on Jam-ALT, MUSDB-ALT or UltraStar, side by side in one table.

    Every `alt transcribe` setting is accepted and applies to all configurations; --model,
    --separator, --segmenter and --asr-input take comma lists and the bench runs their product.
    """
    from alt_cli.bench.configs import BenchRequest
    from alt_cli.bench.report import bench_command
    from alt_cli.progress import Reporter

    request = _build(lambda: BenchRequest(**_given(params, "bench" + SEP, BenchRequest)))
    base = _build(lambda: transcribe_options_from(params))
    try:
        table = bench_command(dataset, request, base, Reporter(quiet=quiet, verbose=verbose))
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
    from alt_cli.bench.score_files import score_command

    try:
        click.echo(score_command(reference, hypothesis, language, as_json))
    except AltError as exc:
        _fail(str(exc), EXIT_USAGE if isinstance(exc, OptionError) else EXIT_ERROR)


@cli.command()
def example() -> None:
    """Print the path of the example song that the models extra installs (11 s, sung)."""
    from alt_cli.separation.spleeter import checkpoint_dir

    try:
        path = checkpoint_dir() / "audio_example.mp3"
    except AltError as exc:
        _fail(str(exc))
    if not path.is_file():
        _fail("the example song is missing: pip install 'alt-cli[models]'")
    click.echo(str(path))


def main() -> None:
    """Console entry point: Ctrl-C ends with one line and exit status 130, not click's
    "Aborted!" and 1; usage errors keep click's message and exit status 2."""
    try:
        cli.main(prog_name="alt", standalone_mode=False)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("alt: interrupted (what was finished is kept)", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
