"""One option vocabulary: declarations, CLI flags, bench variants and the README agree, values
are range-checked, and the CLI's help paths import nothing heavy."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from alt_cli.bench.configs import BENCH_PER_CONFIG, BenchRequest
from alt_cli.cli import bench, cli, transcribe
from alt_cli.errors import AltError
from alt_cli.options import (
    NESTED,
    AlignOptions,
    AsrOptions,
    BatchOptions,
    TranscribeOptions,
    VadOptions,
    declared,
    find_setting,
    options_table,
    transcribe_settings,
)

README = Path(__file__).resolve().parents[1] / "README.md"
HEAVY = ("torch", "whisper", "librosa", "demucs")


def _flags(command) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


def test_readme_tables_are_the_declarations():
    readme = README.read_text(encoding="utf-8")
    assert options_table() in readme, "README's alt transcribe table drifted: regenerate it " \
        "with `python -m alt_cli.options`"
    assert options_table((BenchRequest,)) in readme, "README's alt bench table drifted"
    assert options_table((AlignOptions,)) in readme, "README's alt align table drifted"


def test_every_setting_is_a_flag_of_transcribe_and_bench():
    transcribe_flags, bench_flags = _flags(transcribe), _flags(bench)
    for path, spec, _ in transcribe_settings():
        assert spec.flag in transcribe_flags, path
        if spec.negative:
            assert spec.negative in transcribe_flags, path
        if path not in BENCH_PER_CONFIG:
            assert spec.flag in bench_flags, path
    for _, spec, _ in declared(BatchOptions):
        assert spec.flag in transcribe_flags
    names = [spec.name for _, spec, _ in transcribe_settings()]
    assert len(names) == len(set(names)), "two settings share a flag"


def test_variant_keys_are_flag_names_or_field_paths():
    assert find_setting("beam-size")[0] == "asr.beam_size"
    assert find_setting("--vad-cut-silence")[0] == "vad.min_silence_at_max"
    assert find_setting("cpu-fp32")[0] == "asr.cpu_bf16_matmul"
    assert find_setting("asr.cpu_bf16_matmul")[0] == "asr.cpu_bf16_matmul"
    with pytest.raises(AltError, match="unknown setting"):
        find_setting("beam_width")


def test_nested_groups_are_all_in_transcribe_options():
    assert set(NESTED) == {name for name in TranscribeOptions.__dataclass_fields__
                           if name in NESTED}


@pytest.mark.parametrize(("factory", "flag"), [
    (lambda: VadOptions(onset=math.nan), "--vad-onset"),
    (lambda: VadOptions(frame_length=10_000_000), "--vad-frame-length"),
    (lambda: AsrOptions(beam_size=0), "--beam-size"),
    (lambda: AsrOptions(temperatures=()), "--temperatures"),
    (lambda: AsrOptions(fallback_pick="worst"), "--fallback-pick"),
    (lambda: TranscribeOptions(segmenter="magic"), "--segmenter"),
    (lambda: BatchOptions(formats=("txt", "docx")), "--format"),
])
def test_the_api_refuses_what_the_cli_refuses(factory, flag):
    with pytest.raises(AltError, match=flag):
        factory()


@pytest.mark.parametrize("args", [
    ["--vad-frame-length", "10000000"], ["--vad-padding", "-5"], ["--vad-max-segment", "0"],
    ["--vad-onset", "5"], ["--vad-onset", "nan"], ["--section-gap", "-4"],
    ["--beam-size", "0"], ["--pack-gap", "-1"], ["--max-words-per-second", "0"],
    ["-f", "txt,docx"], ["--device", "tpu"],
])
def test_out_of_range_flags_exit_2_naming_the_range(args, tmp_path):
    song = tmp_path / "song.wav"
    song.write_bytes(b"")
    result = CliRunner().invoke(cli, ["transcribe", str(song), *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert any(word in result.output for word in (">=", "<=", ">", "one of", "comma list"))


def test_help_and_version_import_nothing_heavy():
    code = ("import sys; from click.testing import CliRunner; import alt_cli.cli as c; "
            "r = CliRunner(); "
            "[r.invoke(c.cli, a) for a in (['--help'], ['--version'], ['transcribe', '--help'], "
            "['bench', '--help'], ['score', '--help'])]; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.strip() == "[]", proc.stdout
