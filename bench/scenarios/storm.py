"""Scenario 6, the reconnect storm (issue 13), as the orchestrator runs it.

N sockets, split evenly over C channels, each remembering the cursor of the last event it
got. While webhooks flow at a steady rate round the channels, every socket is cut at the
same moment (a reset, as when a load balancer or a bridge instance goes away), and each
client comes back after a random delay within `window` seconds (jitter, as a client's
backoff spreads them), subscribing with `since` = its last cursor; a failed attempt is
retried with backoff. Reported: how many came back, attempts per second, the time until all
were live again, and, checked by event numbers per client, 0 missing and 0 duplicate events
across the drop; CPU of the bridge workers and of the Redis server over the storm.

The drop and the return happen inside each socket-client process (bench/reconnect.py's
`drop_and_return`, the clients' `storm` command); this half sends the webhooks and counts.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.clients import Clients, client_count, received
from bench.load import send_at_rate
from bench.measure import Seq, log
from bench.procs import cpu_of
from bench.servers import ADMIN_TOKEN, Bridge


def scenario(
    bridge: Bridge, redis_pid: int, cfg: dict[str, Any], seq: Seq, cap: int
) -> dict[str, Any]:
    sockets = min(cfg["sockets"], cap)
    # The sockets are split evenly over `channels` endpoints and the webhooks go round them,
    # as many dashboards watch many endpoints: each socket owes rate / channels events a
    # second, so the drop tests the reconnects, not a fan-out beyond what the machine serves.
    channels = [f"storm-{k}" for k in range(min(cfg["channels"], sockets))]
    paths = [f"/hooks/{channel}" for channel in channels]
    share = -(-sockets // len(channels))
    plan = [(channel, k * share, (k + 1) * share) for k, channel in enumerate(channels)]
    for channel in channels:
        bridge.create_endpoint(channel)
    pool = Clients(client_count(sockets))

    def owed(seqs: list[int], first: int) -> dict[int, str]:
        return {s: channels[(s - first) % len(channels)] for s in seqs}

    try:
        opened = pool.open(bridge.ws_url, "bridge", sockets, plan, track=True)
        sockets = opened["opened"]
        # Every client holds a cursor before the drop: one with none would resume from "now".
        first = seq.take(len(channels))
        send_at_rate(bridge, paths, first, len(channels), 30)
        if not pool.wait_for(owed(list(range(first, first + len(channels))), first), 60):
            raise RuntimeError("storm: the priming events did not reach every socket")
        pool.call({"cmd": "reset"})
        count = int(cfg["rate"] * (cfg["lead"] + cfg["window"] + cfg["tail"]))
        first = seq.take(count)
        flow: dict[str, Any] = {}
        sender = threading.Thread(
            target=lambda: flow.update(send_at_rate(bridge, paths, first, count, cfg["rate"]))
        )
        bridge_cpu, redis_cpu = cpu_of(bridge.pids()), cpu_of([redis_pid])
        sender.start()
        time.sleep(cfg["lead"])  # webhooks already flowing when the sockets drop
        started = time.monotonic()
        commands = [
            {"cmd": "storm", "url": bridge.ws_url, "token": ADMIN_TOKEN,
             "window": cfg["window"], "seed": i}
            for i in range(len(pool.procs))
        ]  # fmt: skip
        answers = pool.call(commands)
        storm_s = time.monotonic() - started
        sender.join()
        seqs = [int(s) for s in flow.get("acked", [])]  # a 503 was never stored: not owed
        complete = pool.wait_for(owed(seqs, first), 60)
        bridge_cpu = cpu_of(bridge.pids()) - bridge_cpu
        redis_cpu = cpu_of([redis_pid]) - redis_cpu
        reports = pool.call({"cmd": "report", "latencies": False})
    finally:
        pool.stop()
    got = received(reports)
    acked = len(flow.get("acked", []))
    back = sum(a["back"] for a in answers)
    attempts = sum(a["attempts"] for a in answers)
    last_live = max(a["last_live_s"] for a in answers)
    result = {
        "sockets": sockets,
        "window_s": cfg["window"],
        "webhooks": count,
        "webhooks_acked": acked,
        "webhook_statuses": flow.get("statuses", {}),
        "back": back,
        "attempts": attempts,
        "errors": [a["errors"] for a in answers if a["errors"]],
        "reconnects_per_s": back / last_live if last_live else float("nan"),
        "all_live_s": last_live,
        "channels": len(channels),
        "missing": sum(
            max(0, pool.subscribers(channel) - got[s]) for s, channel in owed(seqs, first).items()
        ),
        "duplicates": sum(r["dups"] for r in reports),
        "complete": complete,
        "bridge_cpu_s": bridge_cpu,
        "redis_cpu_s": redis_cpu,
        "redis_cpu_share": redis_cpu / storm_s if storm_s else float("nan"),
        "storm_s": storm_s,
        "client_cpu_s": sum(a["cpu"] for a in answers),
    }
    log(
        f"storm: {back}/{sockets} back in {last_live:.1f} s ({attempts} attempts), "
        f"missing {result['missing']}, duplicates {result['duplicates']}, "
        f"webhooks {acked}/{count} acked, Redis CPU {redis_cpu:.2f} s, bridge CPU "
        f"{bridge_cpu:.2f} s"
    )
    return result
