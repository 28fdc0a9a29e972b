"""What the bench asks for: each scenario's sizes (full and smoke), the targets of issue 6,
and the naive prototype's figures the report sets them against."""

from __future__ import annotations

from typing import Any

FULL: dict[str, Any] = {
    # Three rounds: a median of two is their mean, which one round on a busy core can pull
    # 10% off (issue 13's ratio sits ~5% above its 0.6 target).
    "ingest": {"rounds": 3, "warmup": 1.0, "duration": 8.0, "concurrency": 32},
    "latency": {"configs": [(100, 50), (1000, 10), (5000, 2)], "duration": 10.0},
    "fanout": {"sizes": [1000, 5000, 10000], "reps": 5},
    "idle": {"sockets": 20000, "warmup_sockets": 50},
    "peer": {"configs": [(100, 50), (1000, 10), (5000, 2)], "duration": 10.0},
    "storm": {
        "sockets": 5000,
        "channels": 50,
        "rate": 100,
        "lead": 2.0,
        "window": 10.0,
        "tail": 5.0,
    },
    "instances": {
        "instances": 3,
        "workers": 2,
        "endpoints": 30,
        "sockets": 1500,
        "rate": 150,
        "duration": 10.0,
        "kill_duration": 6.0,
        "kill_lead": 1.5,
        "kill_window": 2.0,
    },
    # issue 13 item 5: these runs again with the Node client (bench/node/client.js)
    "cross_check": {"latency_configs": [(1000, 10)], "fanout_sizes": [5000]},
}
SMOKE: dict[str, Any] = {
    "ingest": {"rounds": 1, "warmup": 0.2, "duration": 0.5, "concurrency": 8},
    "latency": {"configs": [(20, 20)], "duration": 0.5},
    "fanout": {"sizes": [20, 50], "reps": 1},
    "idle": {"sockets": 100, "warmup_sockets": 10},
    "peer": {"configs": [(20, 20)], "duration": 0.5},
    "storm": {"sockets": 30, "channels": 3, "rate": 20, "lead": 0.3, "window": 1.0, "tail": 0.5},
    "instances": {
        "instances": 3,
        "workers": 2,
        "endpoints": 3,
        "sockets": 30,
        "rate": 30,
        "duration": 1.0,
        "kill_duration": 2.0,
        "kill_lead": 0.5,
        "kill_window": 0.5,
    },
    "cross_check": {"latency_configs": [(20, 20)], "fanout_sizes": [20]},
}
SCENARIOS = ("ingest", "latency", "fanout", "storm", "instances", "idle", "peer")

TARGETS = {
    "ingest_ratio": 0.8,
    "latency_1000x10": {"p50_ms": 10.0, "p99_ms": 25.0},
    "fanout_10k_ms": 200.0,
    "idle_kb_per_socket": 30.0,
    "peer_p99_factor": 100.0,
}
PROTOTYPE = {
    "ingest_ratio": 0.48,
    "latency_1000x10": {"p50_ms": 29.0, "p99_ms": 58.0},
    "fanout_5k_ms": 158.0,
    "idle_kb_per_socket": 37.6,
    "peer_1000x10": {"p50_ms": 2100.0, "p99_ms": 2700.0},
}


def cross_check(cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The configurations the Node client runs again (issue 13 item 5): the latency run at
    1000 x 10/s on the bridge and on the peer, and the 5,000-subscriber fan-out."""
    cross = cfg["cross_check"]
    return {
        "latency": {**cfg["latency"], "configs": cross["latency_configs"]},
        "peer": {**cfg["peer"], "configs": cross["latency_configs"]},
        "fanout": {**cfg["fanout"], "sizes": cross["fanout_sizes"]},
    }
