"""Progress on stderr: stage lines plus a bar for the long stages.

A bar on a terminal; plain lines otherwise (a bar's carriage returns make CI logs, nohup and
cron files unreadable), at most one every ``PLAIN_EVERY_S`` seconds per bar plus its end, so a
long song under nohup still shows it is moving.  Nothing at all with ``quiet``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

PLAIN_EVERY_S = 30.0  # seconds between plain progress lines of one bar


class PlainProgress:
    """What a bar says, as occasional whole lines: "song.mp3: transcribing 4/9 win (44 %)"."""

    def __init__(self, description: str, total: float, unit: str, every_s: float = PLAIN_EVERY_S):
        self.description, self.total, self.unit = description, total, unit
        self.every_s = every_s
        self.done = 0.0
        self.last = time.monotonic()

    def _say(self) -> None:
        share = f" ({100 * self.done / self.total:.0f} %)" if self.total else ""
        tqdm.write(f"{self.description}: {self.done:g}/{self.total:g} {self.unit}{share}",
                   file=sys.stderr)

    def update(self, n: float = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every_s and self.done < self.total:
            self.last = now
            self._say()

    def set_postfix_str(self, text: str) -> None:
        """Bars show a running figure; plain lines leave it to the song lines."""

    def close(self) -> None:
        if self.total and self.done >= self.total and self.total > 1:
            self._say()


class Reporter:
    """Where every stage tells the user what it is doing."""

    def __init__(self, quiet: bool = False, verbose: bool = False):
        self.quiet = quiet
        self.verbose = verbose
        self.interactive = sys.stderr.isatty()

    def info(self, message: str) -> None:
        """A line the user wants by default (which model, which separator, where files went)."""
        if not self.quiet:
            tqdm.write(message, file=sys.stderr)

    def debug(self, message: str) -> None:
        """Detail for --verbose (per-stage timings, per-window decoder signals)."""
        if self.verbose and not self.quiet:
            tqdm.write(message, file=sys.stderr)

    def error(self, message: str) -> None:
        """A failure the user must see even with --quiet: one line, prefixed like click's."""
        tqdm.write(f"alt: error: {message}", file=sys.stderr)

    def traceback(self, exc: BaseException) -> None:
        """Full detail of an unexpected failure, for --verbose."""
        import traceback

        tqdm.write("".join(traceback.format_exception(exc)).rstrip(), file=sys.stderr)

    @contextmanager
    def bar(self, description: str, total: float, unit: str = "it"
            ) -> Iterator[tqdm | PlainProgress]:
        """A progress bar on a terminal, plain lines elsewhere; always yields update()."""
        if not self.quiet and not self.interactive:
            plain = PlainProgress(description, total, unit)
            try:
                yield plain
            finally:
                plain.close()
            return
        bar = tqdm(
            total=total, desc=description, unit=unit, file=sys.stderr, leave=False,
            disable=self.quiet or not self.interactive, dynamic_ncols=True,
        )  # fmt: skip
        try:
            yield bar
        finally:
            bar.close()
