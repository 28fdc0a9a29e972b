"""Scenario 1, ingest: signed webhooks acknowledged per second, bridge vs bare Flask.

The same closed-loop load generator job against the bridge and the baseline (a bare Flask
POST handler under the same gunicorn settings, bench/baseline_app.py), rounds alternating so
that a change in the machine's load falls on both; the figure is the ratio of the medians.
"""

from __future__ import annotations

from typing import Any

from bench.config import TARGETS
from bench.load import closed_ingest, ms_per_webhook
from bench.measure import Profiler, log
from bench.procs import cpu_of, settle
from bench.servers import Baseline, Bridge
from bench.stats import median


def scenario(bridge: Bridge, baseline: Baseline, cfg: dict[str, Any]) -> dict[str, Any]:
    rounds: dict[str, list[dict[str, Any]]] = {"baseline": [], "bridge": []}
    for number in range(cfg["rounds"]):
        for name, server in (("baseline", baseline), ("bridge", bridge)):
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
    bridge_rate = median([r["acked_per_s"] for r in rounds["bridge"]])
    baseline_rate = median([r["acked_per_s"] for r in rounds["baseline"]])
    ratio = bridge_rate / baseline_rate if baseline_rate else float("nan")
    # The figure this machine's load moves least (docs/performance.md, issue 13 item 3):
    # server CPU per acknowledged webhook, against the bare handler's in the same run.
    cpu = {name: median([r["server_ms_per_webhook"] for r in rs]) for name, rs in rounds.items()}
    cpu_multiple = cpu["bridge"] / cpu["baseline"] if cpu["baseline"] else float("nan")
    log(
        f"ingest: bridge {bridge_rate:.0f}/s, baseline {baseline_rate:.0f}/s, ratio {ratio:.2f};"
        f" server CPU per webhook {cpu['bridge']:.3f} vs {cpu['baseline']:.3f} ms"
        f" = {cpu_multiple:.2f}x"
    )
    return {
        "bridge_per_s": bridge_rate,
        "baseline_per_s": baseline_rate,
        "ratio": ratio,
        "server_ms_per_webhook": cpu,
        "cpu_multiple": cpu_multiple,
        "target_ratio": TARGETS["ingest_ratio"],
        "concurrency": cfg["concurrency"],
        "seconds_per_round": cfg["duration"],
        "rounds": rounds,
    }
