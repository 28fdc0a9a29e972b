"""`bridge backfill <endpoint> --since <time> [--until <time>] [--dry-run]`: after the bridge (or
its Redis) was down, ask the provider's own API what it sent in that window and store what the
bridge is missing, deduplicated by event id exactly like live deliveries.

Page by page (bridge/cli/sources.py): list a page, ask the bridge which of its event ids it
has (`POST .../backfill/check`), fetch and store the others (`POST .../backfill`), then save
the next page's cursor in `<data dir>/backfill-<endpoint>.json`. Interrupted (Ctrl-C, a
provider error, a crash), the same command line continues from the last saved page; what
was stored before is answered as present, never stored twice. The file is removed when the
window is done.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bridge.answers import BACKFILL_CHECKED, BACKFILL_STORED, ENDPOINT
from bridge.backfill import MAX_EVENTS
from bridge.cli import registrations, shared
from bridge.cli.backfill_window import Position, time_arg
from bridge.cli.progress import Progress
from bridge.cli.provider_api import github_token, stripe_key
from bridge.cli.register import repo_arg
from bridge.cli.sources import GitHub, Listed, Source, Stripe, Window
from bridge.client import Api, CliError
from bridge.config import ClientSettings
from bridge.timefmt import iso

# Most JSON per request to the bridge, below its default 25 MiB body limit with room to
# spare; a single larger event is sent alone.
BATCH_BYTES = 8 * 1024 * 1024


@dataclass
class Tally:
    listed: int = 0
    added: int = 0
    present: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)


def _source(
    args: argparse.Namespace, settings: ClientSettings, provider: str, server: str, w: Window
) -> Source:
    hooks = registrations.for_endpoint(settings.data_dir, server, args.endpoint, provider)
    if provider == "stripe":
        base = args.api_base or (hooks[-1].api_base if hooks else settings.stripe_api_base)
        types = hooks[-1].events if hooks else []
        return Stripe(base, stripe_key(settings), w, types)
    if provider != "github":
        raise CliError(
            f"endpoint {args.endpoint} is a {provider} endpoint: backfill reads GitHub's and "
            "Stripe's APIs only"
        )
    if args.hook_id:
        hook = next((h for h in hooks if h.id == args.hook_id), None)
        repo = args.repo or (hook.repo if hook else None)
        if not repo:
            raise CliError(f"give --repo with --hook-id {args.hook_id}")
        base = args.api_base or (hook.api_base if hook else settings.github_api_url)
        return GitHub(base, github_token(settings), repo, args.hook_id, w)
    if args.repo:
        hooks = [h for h in hooks if h.repo == args.repo]
    if len(hooks) != 1:
        which = "no hook made by `bridge register` is" if not hooks else "several hooks are"
        raise CliError(
            f"{which} recorded for {args.endpoint} on {server}: give --repo OWNER/NAME and "
            "--hook-id ID (the number in the hook's settings URL on GitHub)"
        )
    hook = hooks[0]
    base = args.api_base or hook.api_base
    return GitHub(base, github_token(settings), hook.repo or "", hook.id, w)


def _chunks(items: list[Listed], size: int) -> Iterator[list[Listed]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Run:
    def __init__(self, api: Api, endpoint: str, source: Source, bar: Progress) -> None:
        self.api, self.endpoint, self.source, self.bar = api, endpoint, source, bar
        self.tally = Tally()

    def present(self, items: list[Listed]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(items, MAX_EVENTS):
            answer = self.api.call(
                "POST",
                self.api.endpoint_path(self.endpoint, "/backfill/check"),
                {"event_ids": [i.event_id for i in chunk]},
                shape=BACKFILL_CHECKED,
            )
            found.update(str(r["event_id"]) for r in answer["events"] if r["duplicate"])
        return found

    def page(self, items: list[Listed], dry_run: bool) -> None:
        self.bar.total += len(items)
        self.tally.listed += len(items)
        present = self.present(items)
        batch: list[dict[str, Any]] = []
        size = 0
        for item in items:
            there = item.event_id in present
            if dry_run:
                self.tally.rows.append(
                    {
                        "event_id": item.event_id,
                        "event_type": item.event_type,
                        "at": iso(item.at),
                        "present": there,
                    }
                )
            if there:
                self.tally.present += 1
                self.bar.advance()
                continue
            if dry_run:
                self.tally.added += 1
                self.bar.advance()
                continue
            event = self.source.fetch(item)
            encoded = len(json.dumps(event))
            if batch and (len(batch) == MAX_EVENTS or size + encoded > BATCH_BYTES):
                self.store(batch)
                batch, size = [], 0
            batch.append(event)
            size += encoded
        if batch:
            self.store(batch)

    def store(self, batch: list[dict[str, Any]]) -> None:
        answer = self.api.call(
            "POST",
            self.api.endpoint_path(self.endpoint, "/backfill"),
            {"events": batch},
            shape=BACKFILL_STORED,
        )
        for result in answer["events"]:
            if result["duplicate"]:  # arrived live (or from another backfill) meanwhile
                self.tally.present += 1
            else:
                self.tally.added += 1
            self.bar.advance()


def backfill(args: argparse.Namespace, settings: ClientSettings) -> int:
    if args.since.at > time.time():
        raise shared.UsageError(f"--since {args.since.text} is in the future")
    if args.until is not None and args.until.at < args.since.at:
        raise shared.UsageError(f"--until {args.until.text} is before --since {args.since.text}")
    api = shared.api(args, settings)
    provider = str(api.call("GET", api.endpoint_path(args.endpoint), shape=ENDPOINT)["provider"])
    position = Position.open(args, settings, api.server)
    _refuse_too_old(api, args.endpoint, position.window)
    source = _source(args, settings, provider, api.server, position.window)
    # A dry run lists the whole window; a real run continues where the last one stopped.
    following = position.document["next"] if position.resumed and not args.dry_run else None
    if position.resumed and not args.dry_run:
        shared.notice(
            f"resuming the interrupted backfill of {args.endpoint} from its saved page "
            f"(delete {position.path} to start over)"
        )
    bar = Progress(0, f"backfill {args.endpoint}")
    run = Run(api, args.endpoint, source, bar)
    added_before = int(position.document.get("added") or 0) if position.resumed else 0
    try:
        while True:
            page = source.page(following)
            run.page(page.items, args.dry_run)
            following = page.next
            if following is None:
                break
            if not args.dry_run:
                position.save(following, added_before + run.tally.added)
    except CliError as exc:
        bar.close()
        if run.tally.added and not args.dry_run:
            raise CliError(
                f"{exc.message} ({run.tally.added} events were stored before this; run the "
                "same command again to resume)"
            ) from None
        raise
    bar.close()
    if not args.dry_run:
        position.finish()
    _summary(args, source, run.tally, position.window)
    return 0


def _refuse_too_old(api: Api, endpoint: str, window: Window) -> None:
    """A window the bridge would refuse part of, refused before anything is listed or stored:
    it takes no event older than its dedup window (it could not tell whether it has it)."""
    path = api.endpoint_path(endpoint, "/backfill/check")
    answer = api.call("POST", path, {"event_ids": []}, shape=BACKFILL_CHECKED)
    oldest = float(answer["accepts_after"])
    if window.since < oldest:
        # In whole hours (3d against the default 72 h is past it by a few milliseconds, and
        # the two times, to the second, read the same), with a duration that does fit.
        hours = int((time.time() - oldest) // 3600)
        fits = f" (--since {hours - 1}h fits)" if hours >= 2 else ""
        since, limit = iso(window.since), iso(oldest)
        where = f"at {since}, not after {limit}"
        if since == limit:  # past it by less than a second
            where = f"at the limit itself ({limit}), and only times after it are taken"
        raise shared.UsageError(
            f"the window starts {where}: the bridge "
            f"remembers event ids for BRIDGE_DEDUP_TTL only ({hours} h) and takes no older "
            f"event (it could not tell whether it has it); give a --since after "
            f"{iso(oldest)}{fits}"
        )


def _summary(args: argparse.Namespace, source: Source, tally: Tally, window: Window) -> None:
    span = f"since {iso(window.since)}" + (
        f" until {iso(window.until)}" if window.until is not None else ""
    )
    if args.json:
        answer: dict[str, Any] = {
            "endpoint": args.endpoint,
            "provider": source.name.lower(),
            "since": iso(window.since),
            "until": None if window.until is None else iso(window.until),
            "dry_run": args.dry_run,
            "listed": tally.listed,
            "added": tally.added,
            "present": tally.present,
        }
        if args.dry_run:
            answer["events"] = tally.rows
        shared.print_json(answer)
        return
    if args.dry_run:
        for row in tally.rows:
            state = "present" if row["present"] else "would add"
            print(f"{row['event_id']}  {row['event_type'] or '-'}  {row['at']}  {state}")
        print(
            f"Would add {tally.added} of the {tally.listed} events {source.name} lists for "
            f"{args.endpoint} {span} ({tally.present} already present); nothing was stored.",
            flush=True,
        )
        return
    print(
        f"Backfilled {args.endpoint} from {source.name} {span}: {tally.added} added, "
        f"{tally.present} already present, of {tally.listed} listed.",
        flush=True,
    )


def add(commands: Any, parents: shared.Parents) -> None:
    sub = shared.command(
        commands,
        "backfill",
        backfill,
        parents=parents.both,
        help="fetch what GitHub or Stripe sent while the bridge was down",
        description="Ask the provider's own API (Stripe: /v1/events; GitHub: the hook's "
        "deliveries) what it sent in the window and store what the endpoint is missing, "
        "deduplicated by event id like live deliveries and marked source: backfill. The hook "
        "is the one `bridge register` recorded for the endpoint, else --repo and --hook-id. "
        "Interrupted, the same command resumes from its last page.",
        examples=[
            "STRIPE_API_KEY=sk_... bridge backfill stripe --since 2h",
            # Durations, not dates: a date falls out of the 72 h dedup window and is refused.
            "GITHUB_TOKEN=ghp_... bridge backfill gh-octo-hello --since 3h --until 1h --dry-run",
        ],
    )
    sub.add_argument("endpoint", type=shared.endpoint_arg, help="endpoint id")
    sub.add_argument(
        "--since",
        required=True,
        type=time_arg,
        metavar="TIME",
        help="from this time: ISO 8601 (UTC unless it says otherwise) or 30m, 2h, 1d back",
    )
    sub.add_argument("--until", type=time_arg, metavar="TIME", help="up to this time")
    sub.add_argument(
        "--dry-run", action="store_true", help="list what would be added; store nothing"
    )
    sub.add_argument("--repo", type=repo_arg, metavar="OWNER/NAME", help="GitHub: the repository")
    sub.add_argument("--hook-id", metavar="ID", help="GitHub: the repository hook's id")
    sub.add_argument(
        "--api-base",
        type=shared.url_arg,
        metavar="URL",
        help="the provider's API (default: the one the hook was registered with, else "
        "$GITHUB_API_URL / $STRIPE_API_BASE)",
    )
