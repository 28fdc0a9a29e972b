"""`bridge rejections <endpoint>`: the signature debugger, in the terminal.

Shows the endpoint's recently rejected deliveries (GET /api/endpoints/<id>/rejections),
newest first, each with the debugger's hints: missing headers, signature shape received vs
expected, a re-encoded body, a near-miss secret, timestamp skew.
"""

from __future__ import annotations

import argparse
from typing import Any

from bridge.cli import shared
from bridge.config import ClientSettings


def rejections(args: argparse.Namespace, settings: ClientSettings) -> int:
    api = shared.api(args, settings)
    answer = api.call("GET", api.endpoint_path(args.id, "/rejections"))
    entries: list[dict[str, Any]] = (answer or {}).get("rejections", [])[: args.last]
    if args.json:
        shared.print_json({"rejections": entries})
        return 0
    if not entries:
        print(f"No rejected deliveries for {args.id} (kept: the last 50, for a week).")
        return 0
    for entry in entries:
        diagnosis = entry.get("diagnosis") or {}
        tried = ", ".join(diagnosis.get("secrets_tried") or []) or "none"
        print(f"{entry.get('received_at')}  {entry.get('reason')}  "
              f"({entry.get('body_bytes')} bytes; secrets tried: {tried})")  # fmt: skip
        if diagnosis.get("detail"):
            print(f"  detail: {diagnosis['detail']}")
        for hint in diagnosis.get("hints") or []:
            print(f"  - {hint}")
    return 0


def add(commands: Any, parents: shared.Parents) -> None:
    sub = shared.command(
        commands,
        "rejections",
        rejections,
        parents=parents.both,
        help="why deliveries to an endpoint were rejected (the signature debugger)",
        description="Show an endpoint's recently rejected deliveries, newest first, each "
        "explained: missing headers, signature shape received vs expected, a re-encoded body, "
        "a near-miss secret, timestamp skew. Never shows a secret.",
        examples=["bridge rejections demo", "bridge rejections demo --last 1 --json"],
    )
    sub.add_argument("id", help="endpoint id")
    sub.add_argument(
        "--last", type=shared.positive_int, default=10, metavar="N", help="how many (default 10)"
    )
