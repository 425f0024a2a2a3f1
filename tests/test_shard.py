"""`--shard I/N`: a job array's N runs do every song exactly once between them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from alt_cli.batch import discover, select_shard
from alt_cli.errors import AltError
from alt_cli.options import BatchOptions


def _tree(root, count):
    for index in range(count):
        folder = root / f"album{index % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"track{index:02d}.mp3").write_bytes(b"x")
    return root


def test_shards_partition_the_songs_and_stay_put_when_songs_are_added(tmp_path):
    music = _tree(tmp_path / "music", 40)
    jobs = discover([music], ["txt"])
    parts = [select_shard(jobs, (i, 4)) for i in range(1, 5)]
    names = [job.source for part in parts for job in part]
    assert sorted(names) == sorted(job.source for job in jobs) and len(set(names)) == 40
    assert all(part for part in parts)  # 40 songs over 4 shards: none empty
    (music / "album1" / "zz-new.mp3").write_bytes(b"x")
    again = [select_shard(discover([music], ["txt"]), (i, 4)) for i in range(1, 5)]
    for before, after in zip(parts, again, strict=True):
        assert {j.source for j in before} <= {j.source for j in after}
    moved = tmp_path / "elsewhere" / "music"  # another mount point: the same split
    moved.parent.mkdir()
    music.rename(moved)
    elsewhere = select_shard(discover([moved], ["txt"]), (2, 4))
    assert [j.name for j in elsewhere] == [j.name for j in again[1]]


@pytest.mark.parametrize("bad", ["0/4", "5/4", "2", "a/b"])
def test_bad_shards_are_refused(bad):
    with pytest.raises(AltError, match="--shard"):
        BatchOptions(shard=bad)


def test_dry_runs_of_all_shards_list_every_song_once(tmp_path):
    music = _tree(tmp_path / "music", 9)
    listed = []
    for index in (1, 2, 3):
        proc = subprocess.run([sys.executable, "-m", "alt_cli.cli", "transcribe", str(music),
                               "--dry-run", "--shard", f"{index}/3", "--model", "tiny.en",
                               "--separator", "spleeter"], capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 0, proc.stderr
        listed += [line.split(": ", 1)[1].split(" -> ")[0] for line in proc.stdout.splitlines()]
    assert sorted(listed) == sorted(str(job.source) for job in discover([music], ["txt"]))
