"""Scenario 4, idle sockets: RSS per socket, opening rate, clean shutdown time.

On a fresh bridge (its workers' memory is the figure): a few warm-up sockets open and close,
then every socket opens and stays idle; RSS growth / sockets. Then SIGTERM while the clients
watch their sockets close: every socket should be told 4011 and no worker cut by gunicorn.
"""

from __future__ import annotations

import time
from typing import Any

import psutil

from bench.clients import Clients, client_count
from bench.measure import Profiler, log
from bench.procs import rss, settle
from bench.servers import Bridge


def scenario(bridge: Bridge, cfg: dict[str, Any], cap: int) -> dict[str, Any]:
    sockets = min(cfg["sockets"], cap)
    bridge.create_endpoint("idle")
    clients = Clients(client_count(sockets))
    try:
        # Warm up the code paths (imports, hub, first allocations) before the RSS baseline.
        clients.open(bridge.ws_url, "bridge", cfg["warmup_sockets"], [("idle", sockets)])
        clients.close_sockets()
        settle(bridge.pids(), limit=5)
        rss_before = {pid: rss(pid) for pid in bridge.worker_pids()}
        opened = clients.open(bridge.ws_url, "bridge", sockets, [("idle", sockets)])
        settle(bridge.pids(), limit=20)
        rss_after = {pid: rss(pid) for pid in bridge.worker_pids()}
        per_worker = []
        for pid in bridge.worker_pids():
            try:
                conns = psutil.Process(pid).net_connections(kind="tcp")
            except psutil.NoSuchProcess:
                conns = []
            established = sum(1 for c in conns if c.status == psutil.CONN_ESTABLISHED)
            per_worker.append({
                "pid": pid,
                "established_tcp": established,
                "rss_mb_before": rss_before.get(pid, 0) / 2**20,
                "rss_mb_after": rss_after.get(pid, 0) / 2**20,
            })  # fmt: skip
        delta = sum(rss_after.values()) - sum(rss_before.values())
        n = opened["opened"]
        # Shutdown: the clients watch their sockets close while the server stops.
        clients.send([{"cmd": "await_closed", "timeout": 30}] * len(clients.procs))
        profiler = Profiler("bridge-shutdown", bridge.worker_pids())
        sigterm = time.monotonic()
        shutdown_s = bridge.stop(timeout=30)
        closed = clients.receive()
        profiler.stop()
    finally:
        clients.stop()
    closes: dict[str, int] = {}
    for answer in closed:
        for code, count in answer["closes"].items():
            closes[code] = closes.get(code, 0) + count
    server_log = bridge.log(full=True)
    # gunicorn cuts workers that outlive graceful_timeout ("Worker graceful timeout").
    killed = any(s in server_log for s in ("SIGKILL", "graceful timeout", "WORKER TIMEOUT"))
    last_close = max((a["last_disconnect"] for a in closed), default=sigterm)
    result = {
        "sockets": n,
        "requested_sockets": cfg["sockets"],
        "open_seconds": opened["seconds"],
        "open_per_s": n / opened["seconds"] if opened["seconds"] else float("nan"),
        "open_errors": opened["errors"],
        "open_client_cpu_s": opened["client_cpu_s"],
        "rss_delta_mb": delta / 2**20,
        "rss_per_socket_kb": delta / n / 1024 if n else float("nan"),
        "per_worker": per_worker,
        "shutdown_seconds": shutdown_s,
        "last_socket_closed_after_s": last_close - sigterm,
        "sockets_left_open": sum(a["remaining"] for a in closed),
        "close_codes": closes,
        "workers_cut": killed,
        # Sockets whose subscribe failed stay open too, and are told 4011 as well.
        "clean": not killed
        and sum(a["remaining"] for a in closed) == 0
        and closes.get("4011", 0) >= n,
    }
    log(
        f"idle: {n} sockets, {result['rss_per_socket_kb']:.1f} KB each, "
        f"opened at {result['open_per_s']:.0f}/s; shutdown {shutdown_s:.2f} s "
        f"(close codes {closes}, clean {result['clean']})"
    )
    return result
