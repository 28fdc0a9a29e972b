"""Your own backend, in miniature: it serves a page that shows a live "payments" table fed by
the bridge, and mints the page a short-lived subscriber token for that one endpoint.

The admin token stays here, in this process's environment; the browser only ever gets a
subscriber token limited to one channel, which the bridge lets expire (README.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import requests
from flask import Flask, Response, jsonify, render_template_string


def setting(name: str, default: str | None = None) -> str:
    """An environment variable, or one line saying it is missing (not a traceback)."""
    value = os.environ.get(name, default)
    if not value:
        sys.exit(f"embed: {name} must be set (README.md)")
    return value


def number(name: str, default: str, most: int) -> int:
    """A whole-number environment variable from 1 to `most`, or one line saying it is not."""
    value = setting(name, default)
    if not (value.isascii() and value.isdigit() and 0 < int(value) <= most):
        sys.exit(f"embed: {name} must be a whole number from 1 to {most} (README.md)")
    return int(value)


# BRIDGE_SERVER, as the `bridge` command calls the bridge it talks to (docs/cli.md).
BRIDGE_URL = setting("BRIDGE_SERVER", "http://127.0.0.1:8000").rstrip("/")
ADMIN_TOKEN = setting("BRIDGE_ADMIN_TOKEN")  # never sent to the browser
ENDPOINT = setting("EMBED_ENDPOINT", "payments")
TOKEN_TTL = number("EMBED_TOKEN_TTL", "600", 7 * 86_400)  # seconds; the page refreshes it
PORT = number("EMBED_PORT", "5000", 65_535)
PAGE = (Path(__file__).parent / "page.html").read_text()

app = Flask(__name__)


@app.get("/")
def page() -> str:
    return render_template_string(PAGE, bridge=BRIDGE_URL, endpoint=ENDPOINT)


@app.post("/bridge-token")
def bridge_token() -> Response:
    """A subscriber token for ENDPOINT only. A real app checks its own user's session first."""
    answer = requests.post(
        f"{BRIDGE_URL}/api/tokens",
        json={"channels": [ENDPOINT], "ttl": TOKEN_TTL},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    if answer.status_code != 201:
        return Response('{"error": "bridge_refused"}', 502, mimetype="application/json")
    minted = answer.json()
    return jsonify(token=minted["token"], expires_at=minted["expires_at"])


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=PORT)
