"""What `bridge backfill` was asked for and where a run stands: the window's two times as
given on the command line, and the position file `<data dir>/backfill-<endpoint>.json` that
lets the same command line continue from the last saved page.
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bridge import jsontext
from bridge.cli import registrations
from bridge.cli.sources import Window
from bridge.config import ClientSettings

RELATIVE = re.compile(r"([1-9][0-9]{0,5})([smhdw])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
FORMAT = 1


@dataclass(frozen=True)
class Moment:
    text: str  # as given: a resumed run is the same command line
    at: float


def time_arg(raw: str) -> Moment:
    """ISO 8601 (UTC when it names no offset) or a duration back from now: 30m, 2h, 1d."""
    text = raw.strip()
    relative = RELATIVE.fullmatch(text)
    if relative:
        span = timedelta(**{UNITS[relative[2]]: int(relative[1])})
        return Moment(text, time.time() - span.total_seconds())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a time like 2026-11-26T03:00:00Z or a duration back from now like "
            f"30m, 2h, 1d; got {raw!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return Moment(text, moment.timestamp())


@dataclass
class Position:
    """The resumable position: which window, and the next page to read."""

    path: Path
    document: dict[str, Any]
    resumed: bool = False

    @classmethod
    def open(cls, args: argparse.Namespace, settings: ClientSettings, server: str) -> Position:
        path = settings.data_dir / f"backfill-{args.endpoint}.json"
        asked = {
            "format": FORMAT,
            "server": server,
            "endpoint": args.endpoint,
            "since_arg": args.since.text,
            "until_arg": args.until.text if args.until else None,
        }
        try:
            saved = jsontext.loads(path.read_text())
        except (OSError, ValueError):
            saved = None
        if isinstance(saved, dict) and all(saved.get(k) == v for k, v in asked.items()):
            return cls(path, saved, resumed=True)
        until = args.until.at if args.until else None
        window = {"since": args.since.at, "until": until, "next": None, "added": 0}
        return cls(path, {**asked, **window})

    @property
    def window(self) -> Window:
        return Window(float(self.document["since"]), self.document["until"])

    def save(self, following: str | None, added: int) -> None:
        self.document = {**self.document, "next": following, "added": added}
        registrations.replace_file(self.path, self.document)

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)
