"""Scenario 3, fan-out: one event to N subscribers, the time until all have it.

The sockets open once, socket i subscribed to every channel `fan-N` with N above i; then one
signed webhook at a time goes to the channel N of them follow (after a warm-up repetition):
all = last receipt minus send time.
"""

from __future__ import annotations

from typing import Any

from bench.clients import Clients, client_count
from bench.load import post_one
from bench.measure import Profiler, Seq, log
from bench.procs import cpu_of, settle
from bench.servers import Bridge
from bench.stats import median


def scenario(
    bridge: Bridge, cfg: dict[str, Any], seq: Seq, cap: int, kind: str = "python"
) -> dict[str, Any]:
    sizes = [min(size, cap) for size in cfg["sizes"]]
    plan = [(f"fan-{size}", size) for size in sizes]
    for channel, _ in plan:
        bridge.create_endpoint(channel)
    clients = Clients(client_count(max(sizes)), kind)
    runs = []
    try:
        opened = clients.open(bridge.ws_url, "bridge", max(sizes), plan)
        log(f"fanout ({kind} clients): {opened['opened']} sockets in {opened['seconds']:.1f} s")
        for (channel, _size), requested in zip(plan, cfg["sizes"], strict=True):
            have = clients.subscribers(channel)
            profiler = Profiler(f"bridge-fanout-{have}", bridge.worker_pids())
            reps = []
            for _ in range(cfg["reps"] + 1):  # the first is a warm-up
                settle(bridge.pids() + clients.pids(), limit=5)
                clients.call({"cmd": "reset"})
                number = seq.take()
                cpu0 = cpu_of(bridge.pids())
                sent, status = post_one(bridge, f"/hooks/{channel}", number)
                complete = clients.wait([number], channel, 20)
                server_cpu = cpu_of(bridge.pids()) - cpu0
                reports = clients.call({"cmd": "report", "latencies": False})
                stats = [r["seqs"][str(number)] for r in reports if str(number) in r["seqs"]]
                received = sum(s[0] for s in stats)
                last = max((s[2] for s in stats), default=float("nan"))
                first = min((s[1] for s in stats), default=float("nan"))
                reps.append({
                    "status": status,
                    "complete": complete,
                    "received": received,
                    "lost": have - received,
                    "all_ms": (last - sent) * 1000,
                    "first_ms": (first - sent) * 1000,
                    "server_cpu_s": server_cpu,
                    "client_cpu_s": sum(r["cpu"] for r in reports),
                })  # fmt: skip
            profiler.stop()
            reps = reps[1:]
            all_ms = median([r["all_ms"] for r in reps])
            run = {
                "subscribers": have,
                "busiest_process_subscribers": clients.busiest(channel),
                "requested_subscribers": requested,
                "all_ms_median": all_ms,
                "all_ms_min": min(r["all_ms"] for r in reps),
                "all_ms_max": max(r["all_ms"] for r in reps),
                "first_ms_median": median([r["first_ms"] for r in reps]),
                "server_cpu_us_per_delivery": median(
                    [r["server_cpu_s"] / r["received"] * 1e6 for r in reps if r["received"]]
                ),
                "deliveries_per_s": have / (all_ms / 1000) if all_ms else float("nan"),
                "lost": sum(r["lost"] for r in reps),
                "reps": reps,
            }
            runs.append(run)
            log(
                f"fanout ({kind} clients) {have}: all in {all_ms:.1f} ms (median of {len(reps)}; "
                f"{run['deliveries_per_s']:.0f} deliveries/s), lost {run['lost']}"
            )
    finally:
        clients.stop()
    return {"runs": runs, "open": opened, "lost": sum(r["lost"] for r in runs)}
