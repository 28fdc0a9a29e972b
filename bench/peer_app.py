"""The peer: the same webhook-to-socket job on Flask-SocketIO, the Python incumbent.

Runs in its own venv (bench/.peer-venv, bench/peer-requirements.txt) under the same gunicorn
settings as the bridge (gevent workers, simple-websocket), with Redis as the message queue
so an event received by one worker reaches the sockets held by every worker.

- `POST /hooks/<channel>`: verifies GitHub's `X-Hub-Signature-256` on the raw body, builds
  an envelope like the bridge's and emits it as `event` to the room `<channel>`. It stores
  nothing (Flask-SocketIO has no history or resume): it does less work per event than the
  bridge, which appends to a Redis stream first.
- Socket.IO: `connect` checks `auth.token`; `subscribe` `{"channel"}` joins the room and is
  acknowledged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, jsonify, request

# ConnectionRefusedError: re-exported from python-socketio; types-flask-socketio omits it.
from flask_socketio import (  # type: ignore[attr-defined]
    ConnectionRefusedError,
    SocketIO,
    join_room,
)

SECRET = os.environ["PEER_SECRET"].encode()
TOKEN = os.environ["PEER_TOKEN"]

app = Flask(__name__)
socketio = SocketIO(
    app,
    async_mode="gevent",
    message_queue=os.environ["PEER_REDIS_URL"],
    cors_allowed_origins="*",
)


@app.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@app.post("/hooks/<channel>")
def hook(channel: str) -> tuple[Response, int]:
    body = request.get_data(cache=True)
    signature = request.headers.get("X-Hub-Signature-256", "")
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature, expected):
        return jsonify({"error": "bad_signature"}), 401
    now = time.time()
    envelope = {
        "id": uuid.uuid4().hex,
        "endpoint": channel,
        "provider": "github",
        "event_id": request.headers.get("X-GitHub-Delivery"),
        "event_type": request.headers.get("X-GitHub-Event"),
        "received_at": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
        "verified": True,
        "headers": dict(request.headers.items()),
        "body": json.loads(body),
    }
    socketio.emit("event", envelope, to=channel)
    return jsonify({"id": envelope["id"], "endpoint": channel, "duplicate": False}), 202


@socketio.on("connect")
def connect(auth: Any) -> None:
    if not isinstance(auth, dict) or auth.get("token") != TOKEN:
        raise ConnectionRefusedError("unauthorized")


@socketio.on("subscribe")
def subscribe(data: Any) -> dict[str, Any]:
    channel = data["channel"]
    join_room(channel)
    return {"type": "subscribed", "channel": channel}
