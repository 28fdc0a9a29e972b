"""`bridge token`: mint a short-lived subscriber token limited to some channels."""

from __future__ import annotations

import argparse
from typing import Any

from bridge import answers
from bridge.cli import shared
from bridge.config import ClientSettings


def token(args: argparse.Namespace, settings: ClientSettings) -> int:
    api = shared.api(args, settings)
    body = {"channels": args.channel, "ttl": args.ttl}
    answer = api.call("POST", "/api/tokens", body, shape=answers.TOKEN)
    if args.json:
        shared.print_json(answer)
    else:
        print(answer["token"], flush=True)
    return 0


def add(commands: Any, parents: shared.Parents) -> None:
    sub = shared.command(
        commands,
        "token",
        token,
        parents=parents.both,
        help="mint a short-lived subscriber token",
        description="Mint a subscriber token (POST /api/tokens) that may only read the named "
        "channels; prints the token.",
        examples=["bridge token --channel demo --ttl 3600"],
    )
    sub.add_argument("--channel", required=True, action="append", metavar="X", help="repeatable")
    sub.add_argument(
        "--ttl", type=shared.positive_int, default=3600, metavar="S", help="seconds (default 3600)"
    )
