"""The `bridge` command (also `python -m bridge`). Exit 0 on success; 1 with one line on
stderr otherwise; 2 for a usage error (argparse)."""

from __future__ import annotations

import argparse
import sys

from bridge.config import Settings
from bridge.errors import BridgeError


def serve(_: argparse.Namespace) -> int:
    """Run the bridge under gunicorn with the settings of bridge/serving.py."""
    Settings.from_env()  # fail fast, naming the bad variable, before gunicorn starts
    from gunicorn.app.wsgiapp import WSGIApplication

    sys.argv = ["bridge serve", "-c", "python:bridge.serving"]
    WSGIApplication("%(prog)s [OPTIONS]").run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bridge",
        description="Webhook Bridge: signed webhooks in, live WebSocket events out.",
        epilog="example: bridge serve   (then open the dashboard link it prints)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_cmd = commands.add_parser(
        "serve",
        help="run the bridge (what `make run` runs)",
        description="Run the bridge under gunicorn; settings come from BRIDGE_* variables "
        "(docs/configuration.md).",
        epilog="example: PORT=8080 bridge serve",
    )
    serve_cmd.set_defaults(func=serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except BridgeError as exc:
        print(f"bridge: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
