"""`bridge listen <endpoint>...`: print events live and, with `--forward-to`, hand each one to a
local app with its original headers and raw body, so the app verifies the signature itself.

The parts: bridge/cli/feed.py keeps the WebSocket (resume, reconnect, idle/stalled notices),
bridge/cli/lanes.py gives each endpoint a thread of its own, bridge/cli/forward.py sends to the
app (retries), bridge/cli/checkpoint.py remembers the last handled cursor per endpoint, so a
restart, even after `kill -9`, resumes where it stopped. Each event is handled to the end
(forwarded, answered, recorded) before the next one of its endpoint; an endpoint whose app is
down holds up only its own events.
"""

from __future__ import annotations

import argparse
import functools
import json
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bridge.cli import shared
from bridge.cli.checkpoint import Checkpoint, default_path
from bridge.cli.feed import STALL_AFTER, Event, Feed
from bridge.cli.forward import Attempt, Forwarder
from bridge.cli.lanes import QUEUE, Crew, Lanes, Output
from bridge.client import Api, admin_token
from bridge.config import ClientSettings
from bridge.identifiers import is_endpoint_id

FORWARD_TIMEOUT = 30.0  # default --forward-timeout: seconds the app may take to answer


def forward_arg(raw: str) -> tuple[str | None, str]:
    """`--forward-to URL` (every endpoint) or `--forward-to endpoint=URL`."""
    name, eq, rest = raw.partition("=")
    if eq and is_endpoint_id(name):
        return name, shared.url_arg(rest)
    try:
        return None, shared.url_arg(raw)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected URL or endpoint=URL (http:// or https://), got {raw!r}"
        ) from None


def targets(given: Sequence[tuple[str | None, str]], endpoints: list[str]) -> dict[str, str]:
    """Where each endpoint's events go: its own URL, else the common one (else nowhere)."""
    common = [url for name, url in given if name is None]
    if len(common) > 1:
        raise shared.UsageError(
            "one --forward-to URL for every endpoint, or --forward-to endpoint=URL for each"
        )
    own: dict[str, str] = {}
    for name, url in given:
        if name is None:
            continue
        if name not in endpoints:
            raise shared.UsageError(
                f"--forward-to {name}=...: not one of the endpoints listened to"
            )
        if name in own:
            raise shared.UsageError(f"--forward-to {name}=... given twice")
        own[name] = url
    default = common[0] if common else None
    found = {e: own.get(e, default) for e in endpoints}
    return {e: url for e, url in found.items() if url is not None}


class Handler:
    """What happens to each event: forward (when it has a target), print, record. Called by
    every endpoint's lane, each on its own thread."""

    def __init__(
        self,
        endpoints: list[str],
        where: dict[str, str],
        forwarder: Forwarder | None,
        checkpoint: Checkpoint | None,
        as_json: bool,
        output: Output,
    ) -> None:
        self.several = len(endpoints) > 1
        self.where = where
        self.forwarder = forwarder
        self.checkpoint = checkpoint
        self.as_json = as_json
        self.output = output

    def __call__(self, channel: str, event: Event) -> None:
        event_id = str(event.get("id"))
        url = self.where.get(channel)
        if url is None or self.forwarder is None:
            self._print(channel, event, None, url)
            if self.checkpoint:
                self.checkpoint.advance(channel, event_id)
            return
        checkpoint = self.checkpoint
        if checkpoint:
            checkpoint.prepare(channel, event_id)  # before forwarding: see checkpoint.py
        commit = functools.partial(checkpoint.commit, channel) if checkpoint else lambda: None
        result = self.forwarder.deliver(channel, event, url, answered=commit)
        self._print(channel, event, result, url)

    def _print(self, channel: str, event: Event, result: Attempt | None, url: str | None) -> None:
        if self.as_json:
            frame: dict[str, Any] = {"type": "event", "channel": channel, "event": event}
            if url is not None:
                frame["forward"] = {
                    "url": url,
                    "status": result.status if result else None,
                    "ms": round(result.ms) if result else None,
                }
            self.output.line(json.dumps(frame, separators=(",", ":")))
            return
        verified = "verified" if event.get("verified") else "UNVERIFIED"
        line = (
            f"{event.get('id')} {event.get('event_type') or '-'} {verified} "
            f"{event.get('received_at')}"
        )
        if self.several:
            line = f"{channel} {line}"
        if url is not None:
            line += f" -> {result.label} ({result.ms:.0f} ms)" if result else " -> gone"
        self.output.line(shared.terminal_safe(line))  # the event type is the sender's text


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def listen(args: argparse.Namespace, settings: ClientSettings) -> int:
    server = shared.server(args, settings)
    token = admin_token(settings)
    endpoints = list(dict.fromkeys(args.endpoint))
    where = targets(args.forward_to or [], endpoints)
    path: Path | None = args.checkpoint
    if path is None and where:
        path = default_path(settings.data_dir, endpoints)
    checkpoint = Checkpoint(path, server) if path is not None else None
    output = Output()
    # `kill` (a service manager's stop, a background job's only way to stop: its shell
    # ignores SIGINT for it) stops it as Ctrl-C does: what was taken is printed, forwarded
    # and checkpointed first.
    signal.signal(signal.SIGTERM, _stop)
    try:
        start = {e: args.since or (checkpoint.get(e) if checkpoint else None) for e in endpoints}
        if checkpoint and args.since:  # --since wins: it is the position from now on
            for endpoint in endpoints:
                checkpoint.advance(endpoint, args.since)
        elif checkpoint and any(start.values()):
            output.notice(f"resuming from the checkpoint {checkpoint.path}")
        api = Api(server, token)
        forwarder = Forwarder(api, output.notice, args.forward_timeout) if where else None
        handler = Handler(endpoints, where, forwarder, checkpoint, args.json, output)
        feed = Feed(
            server,
            token,
            start,
            output.notice,
            stall_after=args.stall_after,
            on_start=checkpoint.advance if checkpoint else None,
            stop_hint="Ctrl-C to stop",
        )
        crew = Crew()
        lanes = Lanes(endpoints, handler, args.queue, crew)

        def follow() -> None:
            try:
                feed.run(lanes)
            finally:
                # A feed that stopped (a refused token, a frame it could not read) had taken
                # events before it: they are printed and forwarded before the command ends.
                lanes.drain()

        crew.start("feed", follow)
        crew.wait()  # until Ctrl-C, or the first failure of a thread, raised here
    except KeyboardInterrupt:
        return 0
    finally:
        output.close()  # no thread writes from here on: the main thread has the last word
        if checkpoint:
            checkpoint.close()


def add(commands: Any, parents: shared.Parents) -> None:
    sub = shared.command(
        commands,
        "listen",
        listen,
        parents=parents.both,
        help="print endpoints' events live; forward them to a local app",
        description="Subscribe over the WebSocket and print one line per event: "
        "`<id> <event_type> <verified> <received_at>` (prefixed with the endpoint when "
        "listening to several; --json: the whole event frame). With --forward-to, POST each "
        "event to a local app with its original headers and raw body (its signature check "
        "passes) and print the app's status; 5xx, 429 and no answer are retried with backoff "
        "until the app takes the event, other 4xx are printed and passed. Each endpoint is "
        "handled in order on its own, so one whose app is down does not hold up the others. "
        "A checkpoint file keeps the last handled cursor per endpoint, so a restart, even "
        "after kill -9, resumes there. Reconnects by itself; says when the stream is idle, "
        "stalled or back. Ctrl-C stops it.",
        examples=[
            "bridge listen demo",
            "bridge listen demo --forward-to http://localhost:3000/webhooks/github",
            "bridge listen gh pay --forward-to gh=http://localhost:3000/gh "
            "--forward-to pay=http://localhost:3000/stripe",
            "bridge listen demo --since 0   (everything retained, then live)",
            "bridge listen demo --json | jq .event.body",
        ],
    )
    sub.add_argument(
        "endpoint", nargs="+", type=shared.endpoint_arg, help="endpoint id (one or more)"
    )
    sub.add_argument(
        "--since",
        type=shared.cursor_arg,
        metavar="C",
        help="start after this cursor (0: every retained event), instead of the checkpoint",
    )
    sub.add_argument(
        "--forward-to",
        type=forward_arg,
        action="append",
        metavar="URL",
        help="POST each event to URL; endpoint=URL for one endpoint (repeatable)",
    )
    sub.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="where the last handled cursors live (default with --forward-to: "
        "$BRIDGE_DATA_DIR/listen-<endpoints>.json; without it, none unless given)",
    )
    sub.add_argument(
        "--stall-after",
        type=shared.positive_float,
        default=STALL_AFTER,
        metavar="S",
        help=f"say idle or stalled after S seconds without events (default {STALL_AFTER:g})",
    )
    sub.add_argument(
        "--queue",
        type=shared.positive_int,
        default=QUEUE,
        metavar="N",
        help=f"events of one endpoint held in memory while its app catches up (default "
        f"{QUEUE}); past N, that endpoint's stream pauses and later resumes from the bridge",
    )
    sub.add_argument(
        "--forward-timeout",
        type=shared.positive_float,
        default=FORWARD_TIMEOUT,
        metavar="S",
        help=f"seconds the app may take to answer one forward (default {FORWARD_TIMEOUT:g})",
    )
