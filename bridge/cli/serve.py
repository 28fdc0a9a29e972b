"""`bridge serve`: run the bridge under gunicorn (what `make run` runs)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from bridge.cli import shared
from bridge.config import ClientSettings, Settings


def serve(_: argparse.Namespace, __: ClientSettings) -> int:
    """Run the bridge under gunicorn with the settings of bridge/serving.py."""
    Settings.from_env()  # fail fast, naming the bad variable, before gunicorn starts
    from bridge.serving import refuse_unusable_port  # reads the settings when imported

    refuse_unusable_port()
    sys.stdout.flush()
    # A fresh interpreter (same pid): this one has imported the CLI's HTTP client and with
    # it ssl, which gevent must patch in the workers before anything imports it.
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:bridge.serving"]
    os.execv(sys.executable, argv)  # noqa: S606 - our own interpreter, fixed arguments


def add(commands: Any, _: shared.Parents) -> None:
    shared.command(
        commands,
        "serve",
        serve,
        help="run the bridge (what `make run` runs)",
        description="Run the bridge under gunicorn; settings come from BRIDGE_* variables "
        "(docs/configuration.md).",
        examples=["PORT=8080 bridge serve"],
        needs_client=False,
    )
