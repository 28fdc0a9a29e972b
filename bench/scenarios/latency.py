"""Scenarios 2 and 5, latency: webhook -> socket p50/p99/max at (subscribers, events/s).

One configuration at a time: its sockets open and subscribe, two warm-up events go through
the whole path, then the load generator sends at the rate (open loop) and every client
reports its receive times; lost = deliveries owed for acknowledged events minus received.
The bridge (scenario 2) and the Flask-SocketIO peer (scenario 5, `proto="sio"`) alike.
"""

from __future__ import annotations

from typing import Any

from bench.clients import Clients, client_count
from bench.load import post_one, send_at_rate
from bench.measure import Profiler, Seq, log
from bench.procs import cpu_of, settle
from bench.servers import Bridge, Server
from bench.stats import percentile


def latency_config(
    server: Server,
    url: str,
    proto: str,
    channel: str,
    subscribers: int,
    rate: float,
    duration: float,
    seq: Seq,
    kind: str = "python",
) -> dict[str, Any]:
    clients = Clients(client_count(subscribers), kind)
    try:
        opened = clients.open(url, proto, subscribers, [(channel, subscribers)])
        have, busiest = clients.subscribers(channel), clients.busiest(channel)
        settle(server.pids() + clients.pids())
        # Warm-up: two events through the whole path, not counted.
        warm = seq.take(2)
        for number in (warm, warm + 1):
            post_one(server, f"/hooks/{channel}", number)
        clients.wait([warm, warm + 1], channel, 10)
        settle(server.pids())
        clients.call({"cmd": "reset"})
        count = max(1, round(rate * duration))
        first = seq.take(count)
        profiler = Profiler(f"{server.name}-latency-{subscribers}x{rate}", server.worker_pids())
        cpu0 = cpu_of(server.pids())
        sent = send_at_rate(server, f"/hooks/{channel}", first, count, rate)
        acked = sent["acked"]
        complete = clients.wait(acked, channel, 10)
        server_cpu = cpu_of(server.pids()) - cpu0
        profiler.stop()
        reports = clients.call({"cmd": "report"})
    finally:
        clients.stop()
    latencies = sorted(x / 1000 for r in reports for x in r["latencies_us"])
    received = sum(r["seqs"].get(str(s), [0])[0] for r in reports for s in acked)
    expected = len(acked) * have
    result = {
        "subscribers": have,
        "busiest_process_subscribers": busiest,
        "requested_subscribers": subscribers,
        "events_per_s": rate,
        "events_sent": count,
        "events_acked": len(acked),
        "deliveries_expected": expected,
        "deliveries_received": received,
        "lost": expected - received,
        "duplicates": sum(r["dups"] for r in reports),
        "complete": complete,
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": latencies[-1] if latencies else float("nan"),
        "open_seconds": opened["seconds"],
        "open_errors": opened["errors"],
        "send_statuses": sent["statuses"],
        "sender_max_behind_ms": sent["max_behind_ms"],
        "server_cpu_s": server_cpu,
        "server_cpu_us_per_delivery": server_cpu / received * 1e6 if received else float("nan"),
        "client_cpu_s": sum(r["cpu"] for r in reports),
        "loadgen_cpu_s": sent["cpu_s"],
        "window_s": sent["seconds"],
        "other_frames": [r["other"] for r in reports if r["other"]],
    }
    log(
        f"latency {server.name} ({kind} clients) {have} subs x {rate}/s: "
        f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
        f"max {result['max_ms']:.1f} ms, lost {result['lost']}, "
        f"server cpu {server_cpu:.1f} s / client cpu {result['client_cpu_s']:.1f} s "
        f"in {sent['seconds']:.1f} s"
    )
    return result


def scenario(
    server: Server,
    url: str,
    proto: str,
    cfg: dict[str, Any],
    seq: Seq,
    cap: int,
    kind: str = "python",
) -> dict[str, Any]:
    runs = []
    for subscribers, rate in cfg["configs"]:
        channel = f"lat-{subscribers}"
        if isinstance(server, Bridge):
            server.create_endpoint(channel)
        subs = min(subscribers, cap)
        runs.append(
            latency_config(server, url, proto, channel, subs, rate, cfg["duration"], seq, kind)
        )
        settle(server.pids())
    return {"runs": runs, "lost": sum(r["lost"] for r in runs)}
