"""Your own backend, in miniature: it serves a page that shows a live "payments" table fed by
the bridge, and mints the page a short-lived subscriber token for that one endpoint.

The admin token stays here, in this process's environment; the browser only ever gets a
subscriber token limited to one channel, which the bridge lets expire (README.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import requests
from flask import Flask, Response, jsonify, render_template_string

# BRIDGE_SERVER, as the `bridge` command calls the bridge it talks to (docs/cli.md).
BRIDGE_URL = os.environ.get("BRIDGE_SERVER", "http://127.0.0.1:8000").rstrip("/")
ADMIN_TOKEN = os.environ["BRIDGE_ADMIN_TOKEN"]  # never sent to the browser
ENDPOINT = os.environ.get("EMBED_ENDPOINT", "payments")
TOKEN_TTL = int(os.environ.get("EMBED_TOKEN_TTL", "600"))  # seconds; the page refreshes it
PORT = int(os.environ.get("EMBED_PORT", "5000"))
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
