"""Re-run the hostile-user trial: each scenario of the "never touch a user's file" issue, with the
real tiny.en and Spleeter on the real example song, printed as | row | command | exit | first
line |.  Row 14 (memory against length) is `benchmarks/memory.py`.

    python benchmarks/trial.py            # a few minutes on 2 CPU cores
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from alt_cli.separation.spleeter import checkpoint_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import synthetic  # noqa: E402 - the generators the tests use

ALT = [sys.executable, "-m", "alt_cli.cli"]
FAST = ["--model", "tiny.en", "--separator", "spleeter"]


def run(args: list[str], env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.run([*ALT, *args], capture_output=True, text=True, env=env, check=False,
                          **kwargs)


def first_line(proc: subprocess.CompletedProcess) -> str:
    """The error line when there is one, else the first line that is not a model banner."""
    for line in proc.stderr.splitlines():
        if line.startswith(("alt: error", "Error:")):
            return line.strip()
    for text in (proc.stderr, proc.stdout):
        for line in text.splitlines():
            if line.strip() and not line.startswith(("model:", "separator:")):
                return line.strip()
    return ""


def row(number: str, shown: str, proc: subprocess.CompletedProcess, extra: str = "") -> None:
    line = first_line(proc).replace("|", "\\|")
    print(f"| {number} | `{shown}` | {proc.returncode} | {line[:110]} | {extra} |", flush=True)


def song_folder(root: Path, wav: Path, names: list[str]) -> Path:
    root.mkdir(parents=True)
    for name in names:
        shutil.copy(wav, root / name)
    return root


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="alt-trial-"))
    cache = ["--cache-dir", str(work / "cache")]
    example = checkpoint_dir() / "audio_example.mp3"
    data, rate = soundfile.read(str(example), dtype="float32", always_2d=True)
    wav = work / "example.wav"
    soundfile.write(str(wav), data, rate, subtype="PCM_16")
    run(["transcribe", str(wav), "-o", str(work / "warm"), *FAST, *cache])  # convert, cache

    print("| # | command | exit | first line | what else |")
    print("|---|---|---|---|---|")
    mine = song_folder(work / "r1", wav, ["mysong.wav"])
    (mine / "mysong.txt").write_text("my own lyrics\n", encoding="utf-8")
    proc = run(["transcribe", str(mine), *FAST, *cache, "--dry-run"])
    row("1", "alt transcribe r1 --dry-run", proc)
    proc = run(["transcribe", str(mine), *FAST, *cache])
    kept = (mine / "mysong.txt").read_text(encoding="utf-8") == "my own lyrics\n"
    row("1", "alt transcribe r1", proc, f"mysong.txt kept: {kept}")

    album_a = song_folder(work / "AlbumA", wav, ["01.wav"])
    album_b = work / "AlbumB"
    album_b.mkdir()
    soundfile.write(str(album_b / "01.wav"), data[::-1].copy(), rate, subtype="PCM_16")
    run(["transcribe", str(album_a), "-o", str(work / "Lyrics"), *FAST, *cache])
    proc = run(["transcribe", str(album_b), "-o", str(work / "Lyrics"), *FAST, *cache])
    row("2", "alt transcribe AlbumB -o Lyrics (after AlbumA)", proc)

    ref, hyp, empty = work / "ref.txt", work / "hyp.txt", work / "empty.txt"
    ref.write_text("Hello there\n", encoding="utf-8")
    hyp.write_text("hello\n", encoding="utf-8")
    empty.write_text("\n", encoding="utf-8")
    row("3", "alt score ref hyp -l xx", run(["score", str(ref), str(hyp), "-l", "xx"]))

    bench = work / "bench"
    (bench / "audio").mkdir(parents=True)
    (bench / "lyrics").mkdir()
    shutil.copy(wav, bench / "audio" / "song.wav")
    (bench / "lyrics" / "song.txt").write_text("It always seems\n", encoding="utf-8")
    (bench / "metadata.csv").write_text("name,language\nsong,xx\n", encoding="utf-8")
    proc = run(["bench", "musdb-alt", "--data-dir", str(bench), *FAST, "-o",
                str(work / "bench-out"), *cache])
    row("4", "alt bench (language=xx in metadata.csv)", proc)

    folder = song_folder(work / "music", wav, ["a.wav", "b.wav"])
    for shown, args in (("--model tinyy.en", ["--model", "tinyy.en"]),
                        ("--language zz", [*FAST, "--language", "zz"]),
                        ("-o /proc/lyrics", [*FAST, "-o", "/proc/lyrics"])):
        started = time.perf_counter()
        proc = run(["transcribe", str(folder), *args, *cache])
        row("5", f"alt transcribe music {shown}", proc,
            f"{time.perf_counter() - started:.1f} s to fail")
    blocker = work / "a-file"
    blocker.write_text("x", encoding="utf-8")
    for target in (str(blocker), "/proc/alt-cache"):
        row("6", f"--cache-dir {target.replace(str(work), '…')}",
            run(["transcribe", str(folder), *FAST, "--cache-dir", target]))

    interrupted = song_folder(work / "ctrl-c", wav, ["a.wav", "b.wav", "c.wav"])
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    child = subprocess.Popen([*ALT, "transcribe", str(interrupted), *FAST, *cache],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not (interrupted / "a.txt").exists():
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    last = subprocess.CompletedProcess([], child.returncode, out,
                                       err.strip().splitlines()[-1] if err.strip() else "")
    row("7", "Ctrl-C during a batch (last line shown)", last,
        f"a.txt kept: {(interrupted / 'a.txt').exists()}")

    for flag in (["--vad-frame-length", "10000000"], ["--vad-padding", "-5"],
                 ["--vad-max-segment", "0"], ["--vad-onset", "nan"], ["--section-gap", "-4"]):
        row("8", f"alt transcribe song {' '.join(flag)}",
            run(["transcribe", str(wav), *FAST, *cache, *flag, "-o", str(work / "r8")]))

    twice = song_folder(work / "twice", wav, [f"{i}.wav" for i in range(4)])
    procs = [subprocess.Popen([*ALT, "transcribe", str(twice), *FAST, *cache, "-v"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    summaries = [next((line.strip() for line in err.splitlines() if "done " in line and
                       "skipped" in line), "?") for _, err in results]
    print(f"| 9 | two `alt transcribe twice` at once (4 songs) | "
          f"{procs[0].returncode}, {procs[1].returncode} | {summaries[0]} | "
          f"other run: {summaries[1]} |", flush=True)

    seconds = 60
    t = np.arange(seconds * 44100) / 44100
    # Not in the list: bare sine chords over a pulsing bass, no drums, no timbre.
    bare = (np.sin(2 * np.pi * 55 * t) * (np.mod(t, 0.5) < 0.1)
            + 0.2 * sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)))
    timings = {}
    for name, signal_ in (("silence", synthetic.silence(seconds)),
                          ("noise", synthetic.white_noise(seconds)),
                          ("instrumental", synthetic.instrumental(seconds)),
                          ("sine-chords", np.repeat((0.3 * bare).astype(np.float32)[:, None],
                                                    2, axis=1))):
        path = work / f"{name}.wav"
        soundfile.write(str(path), signal_, 44100)
        started = time.perf_counter()
        proc = run(["transcribe", str(path), *FAST, *cache, "-o", str(work / "r10")])
        timings[name] = time.perf_counter() - started
        lyrics = (work / "r10" / f"{name}.txt").read_text(encoding="utf-8").strip()
        row("10", f"alt transcribe {name}.wav (60 s)", proc,
            f"{timings[name]:.1f} s = {timings[name] / timings['silence']:.2f}x silence; "
            f"lyrics: {lyrics!r}")

    row("11", "alt transcribe song --model tiny.en --language fr",
        run(["transcribe", str(wav), *FAST, *cache, "--language", "fr", "-o", str(work / "r11")]))
    hot = work / "hot.wav"
    soundfile.write(str(hot), data * 50.0, rate, subtype="FLOAT")
    flipped = work / "antiphase.wav"
    soundfile.write(str(flipped), np.stack([data.mean(1), -data.mean(1)], axis=1), rate)
    for path in (hot, flipped):
        proc = run(["transcribe", str(path), *FAST, *cache, "-o", str(work / "r12")])
        text = (work / "r12" / f"{path.stem}.txt").read_text(encoding="utf-8").strip()
        row("12", f"alt transcribe {path.name}", proc, f"lyrics: {text!r}")

    stems = work / "cache" / "stems"
    stale = stems / ".killed-v1.npy.abc.part"
    stale.write_bytes(b"half a stem")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    proc = run(["transcribe", str(wav), *FAST, *cache, "-o", str(work / "r13")])
    row("13", "alt transcribe (a 2-h-old stem .part in the cache)", proc,
        f"stale .part removed: {not stale.exists()}")

    proc = run(["transcribe", str(folder), *FAST, *cache, "-o", str(work / "r15"),
                "--overwrite"])
    row("15", "alt transcribe music 2>log (stderr not a terminal)", proc,
        f"{len(proc.stderr.splitlines())} plain lines, no \\r: {chr(13) not in proc.stderr}")

    row("16", "alt score empty.txt hyp", run(["score", str(empty), str(hyp)]))
    strict = run(["score", str(ref), str(hyp), "--json"])
    row("16", "alt score ref hyp --json", strict,
        f"NaN in output: {'NaN' in strict.stdout}, null: {'null' in strict.stdout}")
    broken = work / "broken.mp3"
    broken.write_bytes(example.read_bytes()[:2000] + os.urandom(20000))
    row("17", "alt transcribe broken.mp3", run(["transcribe", str(broken), *FAST, *cache]))
    proc = run(["transcribe", str(wav), *FAST, *cache, "-v", "-o", str(work / "r18")])
    threads = next((line for line in proc.stderr.splitlines() if "thread" in line), "")
    print(f"| 18 | `alt transcribe song -v` | {proc.returncode} | {threads} | |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
