"""A text progress bar for `bridge replay`, on stderr (stdout keeps the summary).

On a terminal it is redrawn in place; into a file or a pipe it prints a line at every tenth,
so a log shows progress without thousands of lines. No dependency: the bar is one line of text.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30
REDRAW_EVERY = 0.1  # seconds between redraws on a terminal
RATE_AFTER = 1.0  # seconds before the line shows a rate


class Progress:
    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.done = 0
        self.started = time.monotonic()
        self._drawn_at = 0.0
        self._tenth = -1

    def advance(self) -> None:
        self.done += 1
        tenth = self.done * 10 // max(self.total, 1)
        if self.tty:
            now = time.monotonic()
            if now - self._drawn_at >= REDRAW_EVERY or self.done == self.total:
                self._drawn_at = now
                self._write("\r" + self.line())
        elif tenth != self._tenth:
            self._tenth = tenth
            self._write(self.line() + "\n")

    def note(self, text: str) -> None:
        """A line of its own, above the bar."""
        if self.tty:
            self._write("\r\033[K" + text + "\n" + self.line())
        else:
            self._write(text + "\n")

    def close(self) -> None:
        if self.tty:
            self._write("\r" + self.line() + "\n")

    def line(self) -> str:
        share = self.done / self.total if self.total else 1.0
        filled = round(WIDTH * share)
        elapsed = time.monotonic() - self.started
        # Within the first second a rate says little: one event in 3 ms read as "333/s".
        rate = f" {self.done / elapsed:.1f}/s" if elapsed >= RATE_AFTER else ""
        return (
            f"{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {self.done}/{self.total} "
            f"{share:4.0%}{rate}"
        )

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
