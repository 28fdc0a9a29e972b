"""The baseline for the ingest figure: a bare Flask POST handler, nothing else.

It reads the raw body and answers 202 with a small JSON body shaped like the bridge's, and
runs under the same gunicorn settings as the bridge (see `servers.gunicorn_flags`). It does
not verify, store or publish: the ratio bridge/baseline is what all of that costs.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

app = Flask(__name__)


@app.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@app.post("/hooks/<endpoint_id>")
def ingest(endpoint_id: str) -> tuple[Response, int]:
    body = request.get_data(cache=True)
    return jsonify({"id": "0-0", "endpoint": endpoint_id, "bytes": len(body)}), 202
