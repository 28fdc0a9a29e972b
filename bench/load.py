"""The load, seen from the orchestrator: loadgen.py jobs in their own process, one webhook here.

`loadgen` runs one job (`closed` or `rate`, see bench/loadgen.py) as `python -m bench.loadgen`
and returns its JSON answer; `post_one` signs and sends a single webhook from this process,
for the fan-out scenario, which times one event at a time.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

from bench.common import webhook_body
from bench.loopback import request
from bench.procs import ROOT, bench_module, die_with_parent
from bench.servers import SECRET, Server
from bridge.providers import get as provider


def loadgen(job: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        bench_module("loadgen", json.dumps(job)), cwd=ROOT,
        capture_output=True, check=False, timeout=600, preexec_fn=die_with_parent,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed: {done.stderr.decode(errors='replace')[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def closed_ingest(server: Server, cfg: dict[str, Any]) -> dict[str, Any]:
    """The ingest job: `concurrency` senders of signed webhooks, each waiting for its answer,
    for `warmup` then `duration` seconds (cfg as bench/config.py's "ingest")."""
    return loadgen(
        {"mode": "closed", "host": "127.0.0.1", "port": server.port, "path": "/hooks/ingest",
         "secret": SECRET, **cfg}
    )  # fmt: skip


def ms_per_webhook(cpu_s: float, result: dict[str, Any], cfg: dict[str, Any]) -> float:
    """CPU seconds measured around one closed_ingest() run, in ms per acknowledged webhook:
    CPU is counted over warm-up and measured window alike, so the webhooks are too."""
    duration = cfg["duration"]
    webhooks = result["acked"] * (duration + cfg["warmup"]) / duration or 1
    return 1000 * cpu_s / webhooks


def send_at_rate(
    server: Server, path: str | list[str], first: int, count: int, rate: float
) -> dict[str, Any]:
    """`count` signed webhooks at `rate`/s; given several paths, the i-th goes to the i-th."""
    paths = [path] if isinstance(path, str) else path
    return loadgen(
        {"mode": "rate", "host": "127.0.0.1", "port": server.port, "path": paths[0],
         "paths": paths, "secret": SECRET, "first_seq": first, "count": count, "rate": rate}
    )  # fmt: skip


def post_one(server: Server, path: str, seq: int) -> tuple[float, int]:
    """One signed webhook; (send time, status)."""
    sent = time.monotonic()
    body = webhook_body(seq, sent)
    headers = provider("github").sign(body, SECRET, now=time.time(), event_type="push")
    headers["Content-Type"] = "application/json"
    status, _ = request("POST", server.url + path, body, headers)
    return sent, status
