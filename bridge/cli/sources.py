"""Where `bridge backfill` reads what a provider sent: page by page, newest first, through the
provider's REST API (bridge/cli/provider_api.py), each item turned into the event the
bridge's backfill route takes.

    Stripe  GET /v1/events?created[gte]=&created[lte]=&limit=100&starting_after=
            the event JSON is the webhook body; `id` (evt_...) the event id
    GitHub  GET /repos/{repo}/hooks/{id}/deliveries?per_page=100&cursor=  (Link rel="next")
            then GET .../deliveries/{delivery id} for `request.headers` and `request.payload`;
            `guid` (X-GitHub-Delivery) the event id, `event` + `.action` the type
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridge.cli import provider_api
from bridge.client import CliError

# GitHub's signature headers were over GitHub's bytes; the API gives the payload re-encoded,
# which they would not match, so they are not kept (the envelope says provider_api instead).
SIGNATURE_HEADERS = frozenset({"x-hub-signature", "x-hub-signature-256"})


@dataclass(frozen=True)
class Listed:
    """One event as the provider's list shows it; `data` is what `fetch` needs."""

    event_id: str
    event_type: str | None
    at: float  # unix seconds: when the provider created (Stripe) or sent (GitHub) it
    data: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Page:
    items: list[Listed]
    next: str | None  # the cursor of the next (older) page; None: this was the last


@dataclass(frozen=True)
class Window:
    since: float
    until: float | None

    def holds(self, at: float) -> bool:
        return at >= self.since and (self.until is None or at <= self.until)


class Stripe:
    name = "Stripe"

    def __init__(self, base: str, key: str, window: Window, types: Sequence[str]) -> None:
        self.base, self.key, self.window = base, key, window
        # The webhook endpoint's enabled events: the others were never sent to the bridge.
        self.types = None if not types or "*" in types else set(types)

    def page(self, cursor: str | None) -> Page:
        until = None if self.window.until is None else int(self.window.until)
        events, more = provider_api.stripe_events(
            self.base, self.key, int(self.window.since), until, cursor
        )
        items = [
            Listed(str(e.get("id")), _text(e.get("type")), float(e.get("created") or 0), e)
            for e in events
        ]
        kept = [i for i in items if self.types is None or i.event_type in self.types]
        return Page(kept, items[-1].event_id if more and items else None)

    def fetch(self, item: Listed) -> dict[str, Any]:
        # Stripe's webhook body is the event object itself, pretty-printed.
        return {
            "event_id": item.event_id,
            "event_type": item.event_type,
            "received_at": item.at,
            "headers": [{"name": "content-type", "value": "application/json; charset=utf-8"}],
            "body": json.dumps(item.data, indent=2),
        }


class GitHub:
    name = "GitHub"

    def __init__(self, base: str, token: str, repo: str, hook_id: str, window: Window) -> None:
        self.base, self.token, self.repo, self.hook_id = base, token, repo, hook_id
        self.window = window

    def page(self, cursor: str | None) -> Page:
        deliveries, following = provider_api.github_deliveries(
            self.base, self.token, self.repo, self.hook_id, cursor
        )
        items: dict[str, Listed] = {}
        oldest = None
        for d in deliveries:
            at = _unix(d.get("delivered_at"))
            oldest = at if oldest is None else min(oldest, at)
            guid = _text(d.get("guid"))
            # A redelivery repeats its guid: one event, listed once.
            if guid and guid not in items and self.window.holds(at):
                items[guid] = Listed(guid, _github_type(d), at, d)
        # Newest first: a page reaching past `since` is the last one needed.
        done = following is None or (oldest is not None and oldest < self.window.since)
        return Page(list(items.values()), None if done else following)

    def fetch(self, item: Listed) -> dict[str, Any]:
        detail = provider_api.github_delivery(
            self.base, self.token, self.repo, self.hook_id, str(item.data.get("id"))
        )
        request = detail.get("request")
        if not isinstance(request, dict):
            raise CliError(f"GitHub's delivery {item.data.get('id')} carries no request")
        headers = request.get("headers") or {}
        return {
            "event_id": item.event_id,
            "event_type": item.event_type,
            "received_at": item.at,
            "headers": [
                {"name": str(k), "value": str(v)}
                for k, v in headers.items()
                if str(k).lower() not in SIGNATURE_HEADERS
            ],
            "body": json.dumps(request.get("payload"), separators=(",", ":")),
        }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _github_type(delivery: Mapping[str, Any]) -> str | None:
    """As bridge/providers/github.py names a live one: the event, plus `.action`."""
    event, action = _text(delivery.get("event")), _text(delivery.get("action"))
    return f"{event}.{action}" if event and action else event


def _unix(value: Any) -> float:
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        raise CliError(f"GitHub's delivery time {value!r} is not ISO 8601") from None


Source = Stripe | GitHub
