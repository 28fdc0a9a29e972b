"""`bridge rejections <endpoint>`: the signature debugger, in the terminal.

Shows the endpoint's recently rejected deliveries (GET /api/endpoints/<id>/rejections),
newest first, each with the debugger's work (the string the provider signs, the first 8
characters of each live secret's signature next to the one received, the first difference)
and its hints: missing headers, signature shape received vs expected, a re-encoded body, a
near-miss secret, timestamp skew.
"""

from __future__ import annotations

import argparse
from typing import Any

from bridge import answers
from bridge.cli import shared
from bridge.config import ClientSettings


def rejections(args: argparse.Namespace, settings: ClientSettings) -> int:
    api = shared.api(args, settings)
    answer = api.call("GET", api.endpoint_path(args.id, "/rejections"), shape=answers.REJECTIONS)
    entries: list[dict[str, Any]] = answer["rejections"][: args.last]
    if args.json:
        shared.print_json({"rejections": entries})
        return 0
    if not entries:
        print(f"No rejected deliveries for {args.id} (kept: the last 50, for a week).")
        return 0
    for entry in entries:
        diagnosis = entry.get("diagnosis") or {}
        tried = ", ".join(diagnosis.get("secrets_tried") or []) or "none"
        lines = [f"{entry.get('received_at')}  {entry.get('reason')}  "
                 f"({entry.get('body_bytes')} bytes; secrets tried: {tried})"]  # fmt: skip
        if diagnosis.get("detail"):
            lines.append(f"  detail: {diagnosis['detail']}")
        lines += [f"  {line}" for line in work_lines(diagnosis)]
        lines += [f"  - {hint}" for hint in diagnosis.get("hints") or []]
        # A rejected delivery is anyone's: what it sent (a signature, say) is escaped.
        for line in lines:
            print(shared.terminal_safe(line))
    return 0


def work_lines(diagnosis: dict[str, Any]) -> list[str]:
    """The debugger's work: what is signed, expected vs received, the first difference."""
    work = diagnosis.get("work") or {}
    lines = []
    if work.get("template"):
        signed = f" = {work['signed']!r}" if work.get("signed") else ""
        lines.append(f"signs: {work['template']}{signed}")
    if work.get("expected"):
        expected = ", ".join(f"{sid} {sig}…" for sid, sig in work["expected"].items())
        received = ", ".join(f"{sig}…" for sig in work.get("received") or []) or "none"
        lines.append(f"expected: {expected}; received: {received}")
    difference = diagnosis.get("first_difference")
    if difference:
        lines.append(f"first difference ({difference['kind']}): {difference['detail']}")
    return lines


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
    sub.add_argument("id", type=shared.endpoint_arg, help="endpoint id")
    sub.add_argument(
        "--last", type=shared.positive_int, default=10, metavar="N", help="how many (default 10)"
    )
