"""`bridge replay <endpoint> --since C [--until C] --to URL [--rate N]`: send stored events again,
oldest first, each once, exactly as the provider sent them (raw bytes and original headers,
prepared as `listen --forward-to` does). A progress bar on stderr, a summary of the answers
on stdout; exit 1 when any answer was not 2xx.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from typing import Any
from urllib.parse import quote

from bridge import cursor
from bridge.answers import EVENT_PAGE
from bridge.cli import forward, shared
from bridge.cli.progress import Progress
from bridge.client import Api, Gone
from bridge.config import ClientSettings

PAGE = 1000  # the history API's largest page
REPLAY_TIMEOUT = 30.0


def history(
    api: Api, endpoint_id: str, since: str, until: str | None
) -> tuple[list[dict[str, Any]], bool]:
    """The events after `since` up to `until` (inclusive), and whether none was trimmed."""
    found: list[dict[str, Any]] = []
    last = cursor.parse(until) if until else None
    recovered: bool | None = None
    after = since
    while True:
        page = api.call(
            "GET",
            api.endpoint_path(endpoint_id, f"/events?since={quote(after, safe='')}&limit={PAGE}"),
            shape=EVENT_PAGE,
        )
        if recovered is None:
            recovered = bool(page.get("recovered", True))
        for event in page.get("events", []):
            if last is not None and cursor.parse(str(event.get("id"))) > last:
                return found, recovered
            # Keep what sending needs; the parsed body is not sent (the raw bytes are).
            found.append({k: v for k, v in event.items() if k not in {"body", "body_base64"}})
        after = page.get("next")
        if not after:
            return found, recovered


class Pace:
    """At most `rate` sends per second (None: as fast as the app answers)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1 / rate if rate else 0.0
        self.next_at = time.monotonic()

    def wait(self) -> None:
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval


def replay(args: argparse.Namespace, settings: ClientSettings) -> int:
    if args.until and cursor.parse(args.until) < cursor.parse(args.since):
        raise shared.UsageError(f"--until {args.until} is before --since {args.since}")
    api = shared.api(args, settings)
    events, recovered = history(api, args.endpoint, args.since, args.until)
    span = _span(args.since, args.until)
    if not recovered:
        # Retention, or a --since older than this endpoint (before its creation, or of an
        # earlier endpoint of this id): the bridge tells them apart no more than this.
        earlier = (
            ""
            if args.since == shared.START
            else f", or --since {args.since} is from before this endpoint"
        )
        shared.notice(
            f"WARNING: the bridge no longer holds every event of {args.endpoint}{span}: the "
            f"oldest ones were dropped by retention{earlier} (recovered: false)"
        )
    secrets = forward.Secrets(api)
    answers: Counter[str] = Counter()
    bar = Progress(len(events), f"replay {args.endpoint}")
    pace = Pace(args.rate)
    started = time.monotonic()
    for event in events:
        event_id = str(event.get("id"))
        try:
            body = api.raw(args.endpoint, event_id)[0]
        except Gone:
            answers["gone (trimmed meanwhile)"] += 1
            bar.note(f"{event_id}: no longer held by the bridge")
            bar.advance()
            continue
        pace.wait()
        headers = forward.headers_for(args.endpoint, event, secrets)
        result = forward.post(args.to, body, headers, args.timeout)
        answers[result.label] += 1
        if not result.ok:
            bar.note(f"{event_id} {event.get('event_type') or '-'} -> {result.label}")
        bar.advance()
    bar.close()
    seconds = time.monotonic() - started
    _summary(args, span, len(events), answers, seconds)
    return 0 if all(label.startswith("2") for label in answers) else 1


def _span(since: str, until: str | None) -> str:
    """The range in words, with a leading space: ` after C up to D`; `--since 0` (every
    event retained) adds nothing, as `after 0-0` would only puzzle."""
    words = "" if since == shared.START else f" after {since}"
    return words + (f" up to {until}" if until else "")


def _summary(
    args: argparse.Namespace, span: str, count: int, answers: Counter[str], seconds: float
) -> None:
    if args.json:
        shared.print_json(
            {
                "endpoint": args.endpoint,
                "to": args.to,
                "since": args.since,
                "until": args.until,
                "events": count,
                "answers": dict(sorted(answers.items())),
                "seconds": round(seconds, 3),
            }
        )
        return
    if not count:
        print(f"No events of {args.endpoint}{span}: nothing replayed.", flush=True)
        return
    events = "event" if count == 1 else "events"
    print(f"Replayed {count} {events} of {args.endpoint}{span} to {args.to} in {seconds:.1f} s:")
    width = max(len(label) for label in answers)
    for label, number in sorted(answers.items()):
        print(f"  {label:<{width}}  {number}")
    print(end="", flush=True)


def add(commands: Any, parents: shared.Parents) -> None:
    sub = shared.command(
        commands,
        "replay",
        replay,
        parents=parents.both,
        help="send stored events again, to any URL",
        description="Re-send an endpoint's stored events after --since (up to --until, "
        "inclusive), oldest first, once each, with their raw bodies and original headers, so "
        "the receiver's signature check passes (timestamped schemes such as Stripe's may "
        "call an old event stale). A progress bar on stderr; a summary of the answers on "
        "stdout. Exit 0 when every answer was 2xx, else 1.",
        examples=[
            "bridge replay demo --since 0 --to http://localhost:3000/webhooks/github",
            "bridge replay pay --since 1732590000000-0 --until 1732593600000-0 "
            "--to http://localhost:3000/stripe --rate 5",
        ],
    )
    sub.add_argument("endpoint", type=shared.endpoint_arg, help="endpoint id")
    sub.add_argument(
        "--since",
        required=True,
        type=shared.cursor_arg,
        metavar="C",
        help="replay the events after this cursor (0: from the oldest retained)",
    )
    sub.add_argument(
        "--until", type=shared.cursor_arg, metavar="C", help="up to this cursor, inclusive"
    )
    sub.add_argument(
        "--to", required=True, type=shared.url_arg, metavar="URL", help="the receiving app"
    )
    sub.add_argument(
        "--rate",
        type=shared.positive_float,
        metavar="N",
        help="at most N events per second (default: as fast as the receiver answers)",
    )
    sub.add_argument(
        "--timeout",
        type=shared.positive_float,
        default=REPLAY_TIMEOUT,
        metavar="S",
        help=f"seconds the receiver may take per event (default {REPLAY_TIMEOUT:g})",
    )
