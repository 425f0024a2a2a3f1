"""Build data_manifests/jam-alt.csv from the public JamendoLyrics metadata (no audio, no lyrics).

    python data_manifests/build_jam_alt.py ../shared/JamendoLyrics-metadata.csv

Jam-ALT covers the same 79 songs as JamendoLyrics; the name is the audio file's stem, which is
also the name of its lyrics file in the benchmark.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

LANGUAGES = {"English": "en", "French": "fr", "German": "de", "Spanish": "es"}
COLUMNS = ["name", "language", "artist", "title", "genre", "license", "url"]


def normalise_license(raw: str) -> str:
    """'BY-NC-ND', 'CC  BY-NC-SA' -> 'CC BY-NC-ND', 'CC BY-NC-SA'."""
    body = re.sub(r"^CC\s*", "", raw.strip())
    return f"CC {body}"


def main(source: Path, target: Path) -> None:
    with open(source, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    out = [
        {
            "name": Path(row["Filepath"]).stem,
            "language": LANGUAGES[row["Language"]],
            "artist": row["Artist"],
            "title": row["Title"],
            "genre": row["Genre"],
            "license": normalise_license(row["LicenseType"]),
            "url": row["URL"],
        }
        for row in rows
    ]
    out.sort(key=lambda row: row["name"].lower())
    with open(target, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(out)
    print(f"{len(out)} songs -> {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).with_name("jam-alt.csv"))
