"""The reconnect storm (issue 13): every socket dropped at once, each back within a window.

N sockets follow one channel, each remembering the cursor of the last event it got. While
webhooks flow at a steady rate, every socket is cut at the same moment (a reset, as when a
load balancer or a bridge instance goes away), and each client comes back after a random
delay within `window` seconds (jitter, as a client's backoff spreads them), subscribing
with `since` = its last cursor; a failed attempt is retried with backoff. Reported: how
many came back, attempts per second, the time until all were live again, and, checked by
event numbers per client, 0 missing and 0 duplicate events across the drop; CPU of the
bridge workers and of the Redis server over the storm.

This is the half that runs inside each socket-client process (wsclients.py's `storm`
command); bench/scenarios/storm.py is the orchestrator's half.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from typing import Any

now = time.monotonic


async def drop_and_return(pool: Any, cmd: dict[str, Any], conn_class: Any) -> dict[str, Any]:
    """Cut every socket of this process now; bring each back after its delay with `since`."""
    from picows import ws_connect

    from bench.common import cpu_seconds
    from bridge.backoff import Backoff

    rng = random.Random(cmd.get("seed", 0))
    url, token, window = cmd["url"], cmd["token"], cmd["window"]
    headers = {"Authorization": f"Bearer {token}"}
    conns = list(pool.conns)
    cpu, started = cpu_seconds(), now()
    for conn in conns:
        conn.abort()
    deadline = started + window + cmd.get("grace", 30.0)
    errors: Counter[str] = Counter()
    live_at: list[float] = []
    attempts = 0

    async def come_back(follower: Any, delay: float) -> None:
        nonlocal attempts
        await asyncio.sleep(delay)
        backoff = Backoff(0.2, 5.0, least=0.5)
        while True:
            attempts += 1
            try:
                _, listener = await ws_connect(
                    lambda: conn_class(pool, "bridge", follower.channels, token, follower),
                    url,
                    extra_headers=headers,
                    websocket_handshake_timeout=30,
                    read_buffer_init_size=4096,
                    use_aiofastnet=False,
                )
                if listener is None:  # picows gives none when the upgrade was refused
                    raise ConnectionError("upgrade refused")
                await asyncio.wait_for(listener.ready, 30)  # type: ignore[attr-defined]
                live_at.append(now() - started)
                return
            except Exception as exc:
                errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
                if now() > deadline:
                    return
                await asyncio.sleep(backoff.next())

    await asyncio.gather(*(come_back(conn.follower, rng.uniform(0, window)) for conn in conns))
    return {
        "dropped": len(conns),
        "back": len(live_at),
        "attempts": attempts,
        "errors": dict(errors.most_common(5)),
        "last_live_s": max(live_at, default=float("nan")),
        "cpu": cpu_seconds() - cpu,
    }
