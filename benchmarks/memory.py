"""Peak memory of one `alt transcribe` process against the length of the file.

Joins the dev songs (repeating them as needed) into files of the asked lengths, runs a fresh
`alt transcribe` process on each (cold stem cache, the Whisper checkpoint converted beforehand
and shared) and prints, per length: the process's peak resident memory (``ru_maxrss`` from
``wait4``, the figure ``top`` shows at its worst), its peak anonymous memory (``RssAnon``,
sampled every 50 ms: what could not be paged back to a file), wall time and real-time factor,
and each peak as a ratio of the shortest file's.

    python benchmarks/memory.py ../shared/jam-alt-dev --minutes 5,20,60
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile

from alt_cli.audio import SEPARATION_SAMPLE_RATE, load_song
from alt_cli.models import load_whisper


def joined_song(songs: list[Path], minutes: float, path: Path) -> float:
    """Write ``minutes`` of the songs one after another (16-bit wav, written in blocks)."""
    target = int(minutes * 60 * SEPARATION_SAMPLE_RATE)
    written = 0
    with soundfile.SoundFile(str(path), "w", SEPARATION_SAMPLE_RATE, 2, "PCM_16") as out:
        while written < target:
            for song in songs:
                stereo = np.asarray(load_song(song).stereo)[:, : target - written]
                out.write(stereo.T)
                written += stereo.shape[1]
                if written >= target:
                    break
    return written / SEPARATION_SAMPLE_RATE


def _anon_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(command: list[str]) -> dict:
    """Run ``command``; its peak RSS (wait4) and sampled peak anonymous RSS, in MB, and wall."""
    started = time.perf_counter()
    proc = subprocess.Popen(command)
    peak_anon = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_anon
        while not done.is_set():
            peak_anon = max(peak_anon, _anon_kb(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited with {proc.returncode}")
    return {"wall_s": time.perf_counter() - started, "peak_rss_mb": usage.ru_maxrss / 1024,
            "peak_anon_mb": peak_anon / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="folder with audio/")
    parser.add_argument("--minutes", default="5,20,60")
    parser.add_argument("--model", default="base")
    parser.add_argument("--separator", default="spleeter")
    parser.add_argument("--json", type=Path, default=Path("results/memory.json"))
    args = parser.parse_args()

    songs = sorted(p for p in (args.data / "audio").iterdir() if not p.name.startswith("."))
    work = Path(tempfile.mkdtemp(prefix="alt-memory-"))
    models = work / "models-cache"
    load_whisper(args.model, "cpu", models)  # converted once, outside any measurement
    rows = []
    print("| file | peak resident | peak anonymous | wall | x real time |")
    print("|---|---|---|---|---|")
    for minutes in [float(m) for m in args.minutes.split(",")]:
        path = work / f"joined-{minutes:g}min.wav"
        seconds = joined_song(songs, minutes, path)
        cache = work / f"cache-{minutes:g}"
        cache.mkdir()
        (cache / "models").symlink_to(models / "models")
        command = [str(Path(sys.executable).parent / "alt"), "transcribe", str(path),
                   "-o", str(work / f"out-{minutes:g}"), "--model", args.model,
                   "--separator", args.separator, "--device", "cpu", "--cache-dir", str(cache),
                   "-q"]
        row = {"minutes": seconds / 60, **measure(command)}
        rows.append(row)
        path.unlink()
        print(f"| {row['minutes']:.0f} min | {row['peak_rss_mb']:.0f} MB "
              f"({row['peak_rss_mb'] / rows[0]['peak_rss_mb']:.2f}x) | "
              f"{row['peak_anon_mb']:.0f} MB ({row['peak_anon_mb'] / rows[0]['peak_anon_mb']:.2f}x)"
              f" | {row['wall_s']:.0f} s | {seconds / row['wall_s']:.1f} |", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"model": args.model, "separator": args.separator,
                                     "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
