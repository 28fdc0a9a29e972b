"""The `bridge` command (also `python -m bridge`); docs/cli.md is its manual.

One module per command group (serve, endpoints, send, listen, replay, backfill, register,
tokens: the `token` command, named so as not to shadow the stdlib's `token`), each with an
`add(commands, parents)` that declares its parser; bridge/cli/shared.py holds what they share.
Behind them: connection.py and feed.py (the WebSocket), lanes.py (listen's thread per
endpoint), forward.py (sending to a local app), checkpoint.py, progress.py, provider_api.py
(GitHub's and Stripe's REST APIs, and their credentials), sources.py (what backfill reads
from them), registrations.py (the hooks `register` made; registered.py lists and deletes
them) and samples.py (`send`'s default payloads). The commands call the bridge's HTTP API
(bridge/client.py) and its WebSocket, never Redis.

Exit codes: 0 on success; 1 with one line on stderr (`bridge: <what went wrong>`) otherwise;
2 for a usage error (argparse, or options that do not fit together); 130 on Ctrl-C (but
`listen`, for which Ctrl-C is the way to stop, exits 0). `send` and `replay` exit 1 when an
answer was not 2xx, after printing it.
"""

from __future__ import annotations

import argparse
import os
import sys

from bridge import __version__
from bridge.cli import (
    backfill,
    endpoints,
    listen,
    register,
    rejections,
    replay,
    send,
    serve,
    shared,
    tokens,
)
from bridge.config import ClientSettings
from bridge.errors import BridgeError

GROUPS = (serve, endpoints, send, listen, replay, backfill, register, rejections, tokens)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bridge",
        description="Webhook Bridge: signed webhooks in, live WebSocket events out.",
        epilog="examples:\n  bridge serve   (then open the dashboard link it prints)\n"
        "  bridge endpoints create demo --provider github\n"
        "  bridge listen demo --forward-to http://localhost:3000/webhooks\n\n"
        "Manual: docs/cli.md",
        formatter_class=shared.FORMAT,
    )
    parser.add_argument("--version", action="version", version=f"bridge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parents = shared.parents()
    for group in GROUPS:
        group.add(commands, parents)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        # Read once, here; `serve` reads the server's Settings instead.
        settings = ClientSettings.from_env() if args.needs_client else ClientSettings()
        result: int = args.func(args, settings)
    except shared.UsageError as exc:
        args.parser.error(exc.message)  # exits 2, with the command's usage
    except BridgeError as exc:  # may quote a server or a provider API: no terminal escapes
        print(f"bridge: {shared.terminal_safe(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `bridge listen ... | head`: the reader left; leave quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # the contract: one line, never a traceback
        print(
            f"bridge: unexpected error: {type(exc).__name__}: {shared.terminal_safe(str(exc))}",
            file=sys.stderr,
        )
        return 1
    return result
