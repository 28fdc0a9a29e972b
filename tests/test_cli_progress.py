"""The replay/backfill progress line: a line per tenth into a file, a rate once it means one."""

from __future__ import annotations

import io
import time

from bridge.cli.progress import Progress


def test_the_rate_appears_only_after_the_first_second() -> None:
    """Early lines show no rate (one event in a few ms is no rate); later ones show done/s."""
    out = io.StringIO()
    progress = Progress(2, "replay demo", out)
    progress.advance()
    progress.started = time.monotonic() - 2.0  # as if the first event had taken 2 s
    progress.advance()
    first, second = out.getvalue().splitlines()
    assert first == f"replay demo [{'#' * 15}{'.' * 15}] 1/2  50%"
    assert second.startswith(f"replay demo [{'#' * 30}] 2/2 100% 1.0/s")
