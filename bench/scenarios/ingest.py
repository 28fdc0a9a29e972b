"""Scenario 1, ingest: signed webhooks acknowledged per second, bridge vs bare Flask.

The same closed-loop load generator job against the bridge and two baselines (a bare Flask
POST handler, bench/baseline_app.py): one under the bridge's gunicorn settings, access log
included, and one without that log, to show what the log alone costs. Rounds alternate so
that a change in the machine's load falls on all; the figures are ratios of the medians.
"""

from __future__ import annotations

from typing import Any

from bench.config import TARGETS
from bench.load import closed_ingest, ms_per_webhook
from bench.measure import Profiler, log
from bench.procs import cpu_of, settle
from bench.servers import Baseline, Bridge, Server
from bench.stats import median


def scenario(bridge: Bridge, baselines: list[Baseline], cfg: dict[str, Any]) -> dict[str, Any]:
    """`baselines[0]` is the one the ratio and the target are taken against."""
    servers: dict[str, Server] = {b.name: b for b in baselines}
    servers["bridge"] = bridge
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    for number in range(cfg["rounds"]):
        for name, server in servers.items():
            settle(server.pids())
            profiler = Profiler(f"{name}-ingest-{number}", server.worker_pids())
            cpu0 = cpu_of(server.pids())
            result = closed_ingest(server, cfg)
            result["server_cpu_s"] = cpu_of(server.pids()) - cpu0
            result["server_ms_per_webhook"] = ms_per_webhook(result["server_cpu_s"], result, cfg)
            profiler.stop()
            rounds[name].append(result)
            log(
                f"ingest round {number + 1} {name}: {result['acked_per_s']:.0f}/s "
                f"(ack p50 {result['ack_p50_ms']:.1f} ms, statuses {result['statuses']}, "
                f"loadgen cpu {result['cpu_s']:.1f} s)"
            )
    rate = {name: median([r["acked_per_s"] for r in rs]) for name, rs in rounds.items()}
    # The figure this machine's load moves least (docs/performance.md, issue 13 item 3):
    # server CPU per acknowledged webhook, against the bare handler's in the same run.
    cpu = {name: median([r["server_ms_per_webhook"] for r in rs]) for name, rs in rounds.items()}
    ratios = {name: _over(rate["bridge"], rate[name]) for name in rate if name != "bridge"}
    multiples = {name: _over(cpu["bridge"], cpu[name]) for name in cpu if name != "bridge"}
    main = baselines[0].name
    for name in ratios:
        log(
            f"ingest: bridge {rate['bridge']:.0f}/s, {name} {rate[name]:.0f}/s, ratio"
            f" {ratios[name]:.2f}; server CPU per webhook {cpu['bridge']:.3f} vs"
            f" {cpu[name]:.3f} ms = {multiples[name]:.2f}x"
        )
    return {
        "bridge_per_s": rate["bridge"],
        "baseline_per_s": rate[main],
        "ratio": ratios[main],
        "per_s": rate,
        "ratios": ratios,
        "server_ms_per_webhook": cpu,
        "cpu_multiple": multiples[main],
        "cpu_multiples": multiples,
        "target_ratio": TARGETS["ingest_ratio"],
        "concurrency": cfg["concurrency"],
        "seconds_per_round": cfg["duration"],
        "rounds": rounds,
    }


def _over(a: float, b: float) -> float:
    return a / b if b else float("nan")
