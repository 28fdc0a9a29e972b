"""Scenario 7, several instances (issue 13): 3 bridge instances x 2 workers on a 3-primary
Redis Cluster, beside one instance on one Redis with the same sockets and load.

The sockets are split over the instances (one client process per instance) and over the
endpoints, so that every endpoint has followers on every instance; each socket follows one
endpoint and tracks its cursor. One load generator per instance sends its share of the
webhooks, round the endpoints, so an event taken by one instance must reach the sockets of
all three (on the Cluster, by the endpoint's sharded channel). Reported per setup: latency
(webhook sent -> frame received), lost, duplicates, events out of cursor order on a
socket, server CPU per delivery and Redis CPU per event.

Then one instance is SIGKILLed (master and workers, as a machine that dies) while webhooks
go on to the other two; its clients come back to a surviving instance with `since`, and
every event acknowledged meanwhile must reach every socket once: 0 missing, 0 duplicates.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.clients import Clients, received
from bench.cluster import Cluster
from bench.load import send_at_rate
from bench.measure import Seq, log
from bench.procs import cpu_of, settle
from bench.servers import ADMIN_TOKEN, Bridge
from bench.stats import percentile


def scenario(
    single: Bridge, redis_pid: int, cfg: dict[str, Any], seq: Seq, work: Path, root: Path
) -> dict[str, Any]:
    """`single`: the one-instance bridge on one Redis (pid `redis_pid`), the baseline."""
    endpoints = [f"multi-{k}" for k in range(cfg["endpoints"])]
    baseline = _steady([single], [redis_pid], endpoints, cfg, seq, "one instance, one Redis")
    cluster = Cluster(work / "cluster").start()
    instances: list[Bridge] = []
    try:
        instances = [
            Bridge(work / f"instance{i}", cluster.url, root, cfg["workers"]).launch()
            for i in range(cfg["instances"])
        ]
        for instance in instances:
            instance.ready(60)
        redis_pids = [node.process.pid for node in cluster.nodes if node.process is not None]
        label = f"{len(instances)} instances x {cfg['workers']} workers, 3-primary Cluster"
        spread = _steady(instances, redis_pids, endpoints, cfg, seq, label)
        failover = _kill_one(instances, endpoints, cfg, seq)
    finally:
        for instance in instances:
            instance.stop()
        cluster.stop()
    return {"single": baseline, "cluster": spread, "failover": failover}


def _plan(sockets: int, processes: int, endpoints: list[str]) -> list[tuple[str, int, int]]:
    """Each process's share of the sockets split over every endpoint, as (channel, lo, upto)
    ranges of the global socket index (Clients.open gives process i a contiguous share)."""
    plan = []
    share, extra = divmod(sockets, processes)
    offset = 0
    for p in range(processes):
        count = share + (1 if p < extra else 0)
        per, rest = divmod(count, len(endpoints))
        lo = offset
        for k, channel in enumerate(endpoints):
            n = per + (1 if k < rest else 0)
            plan.append((channel, lo, lo + n))
            lo += n
        offset += count
    return plan


def _owed(flows: list[dict[str, Any]], firsts: list[int], endpoints: list[str]) -> dict[int, str]:
    """Each acknowledged event's endpoint (a 503 was never stored: not owed)."""
    return {
        int(s): endpoints[(int(s) - first) % len(endpoints)]
        for flow, first in zip(flows, firsts, strict=True)
        for s in flow.get("acked", [])
    }


def _send(
    servers: list[Bridge], endpoints: list[str], rate: float, seconds: float, seq: Seq
) -> tuple[list[threading.Thread], list[dict[str, Any]], list[int]]:
    """One load generator per server, each at its share of `rate`, round the endpoints."""
    paths = [f"/hooks/{e}" for e in endpoints]
    count = max(1, round(rate / len(servers) * seconds))
    flows: list[dict[str, Any]] = [{} for _ in servers]
    firsts = [seq.take(count) for _ in servers]

    def one(i: int) -> None:
        flows[i].update(send_at_rate(servers[i], paths, firsts[i], count, rate / len(servers)))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(servers))]
    for thread in threads:
        thread.start()
    return threads, flows, firsts


def _prime(pool: Clients, servers: list[Bridge], endpoints: list[str], seq: Seq) -> None:
    """A few events on every endpoint through every server, received by every socket."""
    threads, flows, firsts = _send(servers, endpoints, 10 * len(endpoints), 0.5, seq)
    for thread in threads:
        thread.join()
    if not pool.wait_for(_owed(flows, firsts, endpoints), 20):
        raise RuntimeError("instances: the priming events did not reach every socket")


def _open(servers: list[Bridge], endpoints: list[str], sockets: int) -> Clients:
    for endpoint in endpoints:
        servers[0].create_endpoint(endpoint)
    # One client process per instance; two for the one instance (as the other scenarios).
    pool = Clients(max(2, len(servers)))
    urls = [servers[i % len(servers)].ws_url for i in range(len(pool.procs))]
    plan = _plan(sockets, len(pool.procs), endpoints)
    opened = pool.open(urls, "bridge", sockets, plan, track=True)
    if opened["opened"] != sockets:
        pool.stop()
        raise RuntimeError(f"instances: {opened['opened']}/{sockets} sockets ({opened['errors']})")
    return pool


def _steady(
    servers: list[Bridge],
    redis_pids: list[int],
    endpoints: list[str],
    cfg: dict[str, Any],
    seq: Seq,
    label: str,
) -> dict[str, Any]:
    pool = _open(servers, endpoints, cfg["sockets"])
    pids = [pid for server in servers for pid in server.pids()]
    try:
        _prime(pool, servers, endpoints, seq)  # warm-up, not counted
        settle(pids + pool.pids())
        pool.call({"cmd": "reset"})
        cpu0, redis0 = cpu_of(pids), cpu_of(redis_pids)
        threads, flows, firsts = _send(servers, endpoints, cfg["rate"], cfg["duration"], seq)
        for thread in threads:
            thread.join()
        owed = _owed(flows, firsts, endpoints)
        complete = pool.wait_for(owed, 20)
        server_cpu, redis_cpu = cpu_of(pids) - cpu0, cpu_of(redis_pids) - redis0
        reports = pool.call({"cmd": "report"})
    finally:
        pool.stop()
    got = received(reports)
    expected = sum(pool.subscribers(channel) for channel in owed.values())
    delivered = sum(got[s] for s in owed)
    latencies = sorted(x / 1000 for r in reports for x in r["latencies_us"])
    result = {
        "setup": label,
        "instances": len(servers),
        "sockets": cfg["sockets"],
        "endpoints": len(endpoints),
        "events_per_s": cfg["rate"],
        "events_acked": len(owed),
        "statuses": _statuses(flows),
        "deliveries_expected": expected,
        "deliveries_received": delivered,
        "lost": expected - delivered,
        "duplicates": sum(r["dups"] for r in reports),
        "out_of_order": sum(r["disorder"] for r in reports),
        "complete": complete,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": latencies[-1] if latencies else float("nan"),
        "server_cpu_s": server_cpu,
        "server_cpu_us_per_delivery": server_cpu / delivered * 1e6 if delivered else float("nan"),
        "redis_cpu_s": redis_cpu,
        "redis_cpu_us_per_event": redis_cpu / len(owed) * 1e6 if owed else float("nan"),
    }
    log(
        f"instances, {label}: p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
        f"lost {result['lost']}, dup {result['duplicates']}, out of order "
        f"{result['out_of_order']}, {result['server_cpu_us_per_delivery']:.1f} µs per delivery"
    )
    return result


def _kill_one(
    instances: list[Bridge], endpoints: list[str], cfg: dict[str, Any], seq: Seq
) -> dict[str, Any]:
    """SIGKILL the last instance mid-traffic; its clients resume on the first."""
    pool = _open(instances, endpoints, cfg["sockets"])
    victim, survivors = instances[-1], instances[:-1]
    victim_processes = {
        i for i in range(len(pool.procs)) if i % len(instances) == len(instances) - 1
    }
    try:
        # Every client holds a cursor before the kill: one with none would come back live
        # from "now" and miss what was sent while it was away.
        _prime(pool, instances, endpoints, seq)
        pool.call({"cmd": "reset"})
        threads, flows, firsts = _send(survivors, endpoints, cfg["rate"], cfg["kill_duration"], seq)
        time.sleep(cfg["kill_lead"])
        killed = victim.pids()
        for pid in killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        started = time.monotonic()
        # The dead instance's clients come back to a survivor with `since`; the others
        # answer at once (an empty wait).
        commands: list[dict[str, Any]] = [
            {"cmd": "storm", "url": survivors[0].ws_url, "token": ADMIN_TOKEN,
             "window": cfg["kill_window"], "seed": i}
            if i in victim_processes else {"cmd": "wait", "expect": {}, "timeout": 0}
            for i in range(len(pool.procs))
        ]  # fmt: skip
        answers = [a for i, a in enumerate(pool.call(commands)) if i in victim_processes]
        back_s = time.monotonic() - started
        for thread in threads:
            thread.join()
        owed = _owed(flows, firsts, endpoints)
        complete = pool.wait_for(owed, 30)
        reports = pool.call({"cmd": "report", "latencies": False})
    finally:
        pool.stop()
        if victim.process is not None:
            victim.process.wait(10)  # reap the killed master
    got = received(reports)
    result = {
        "killed_pids": len(killed),
        "sockets_moved": sum(a["dropped"] for a in answers),
        "back": sum(a["back"] for a in answers),
        "attempts": sum(a["attempts"] for a in answers),
        "errors": [a["errors"] for a in answers if a["errors"]],
        "all_back_s": back_s,
        "events_acked": len(owed),
        "statuses": _statuses(flows),
        "missing": sum(max(0, pool.subscribers(c) - got[s]) for s, c in owed.items()),
        "duplicates": sum(r["dups"] for r in reports),
        "out_of_order": sum(r["disorder"] for r in reports),
        "complete": complete,
    }
    log(
        f"instances, one SIGKILLed: {result['back']}/{result['sockets_moved']} sockets back on "
        f"another in {back_s:.1f} s, missing {result['missing']}, dup {result['duplicates']}"
    )
    return result


def _statuses(flows: list[dict[str, Any]]) -> dict[str, int]:
    total = Counter[str]()
    for flow in flows:
        total.update({str(k): int(v) for k, v in flow.get("statuses", {}).items()})
    return dict(total)
