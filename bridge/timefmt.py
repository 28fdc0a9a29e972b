"""Timestamps as the API writes them: UTC ISO 8601 with a `Z`."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(timestamp: float, *, millis: bool = False) -> str:
    """`2026-11-26T03:26:16Z`, or with `millis` `2026-11-26T03:26:16.361Z` (event times)."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    text = moment.isoformat(timespec="milliseconds" if millis else "seconds")
    return text.replace("+00:00", "Z")
