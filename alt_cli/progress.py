"""Progress on stderr: stage lines plus a bar for the long stages.

A bar on a terminal, plain log lines otherwise (a bar's carriage returns make CI logs and
redirected files unreadable).  Nothing at all with ``quiet``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm


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
    def bar(self, description: str, total: float, unit: str = "it") -> Iterator[tqdm]:
        """A progress bar, shown only on a terminal; always yields something with update()."""
        bar = tqdm(
            total=total, desc=description, unit=unit, file=sys.stderr, leave=False,
            disable=self.quiet or not self.interactive, dynamic_ncols=True,
        )  # fmt: skip
        try:
            yield bar
        finally:
            bar.close()
