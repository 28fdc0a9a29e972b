"""The reconnect storm (issue 13) inside one socket-client process: drop, then come back.

Every socket of the process is cut at the same moment (a reset, as when a load balancer or
a bridge instance goes away); each comes back after a random delay within `window` seconds
(jitter, as a client's backoff spreads them), subscribing with `since` = the cursor of the
last event it got, a failed attempt retried with backoff. The clients' `storm` command
(wsclients.py); the scenario around it, webhooks and counting, is bench/scenarios/storm.py.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from typing import Any

from picows import ws_connect

from bench.common import cpu_seconds
from bench.wsconn import Conn, Follower, Pool
from bridge.backoff import Backoff

now = time.monotonic


async def drop_and_return(pool: Pool, cmd: dict[str, Any]) -> dict[str, Any]:
    """Cut every socket of this process now; bring each client back after its delay with
    `since`, to `url` (the same server, or another when its own died)."""
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

    async def come_back(follower: Follower, delay: float) -> None:
        nonlocal attempts
        await asyncio.sleep(delay)
        backoff = Backoff(0.2, 5.0, least=0.5)
        while True:
            attempts += 1
            try:
                _, listener = await ws_connect(
                    lambda: Conn(pool, "bridge", follower.channels, token, follower),
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

    followers = pool.followers
    await asyncio.gather(*(come_back(f, rng.uniform(0, window)) for f in followers))
    return {
        "dropped": len(followers),
        "back": len(live_at),
        "attempts": attempts,
        "errors": dict(errors.most_common(5)),
        "last_live_s": max(live_at, default=float("nan")),
        "cpu": cpu_seconds() - cpu,
    }
