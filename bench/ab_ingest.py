"""The ingest scenario as an A/B: the bare Flask baseline and bridges served from several trees,
rounds alternating, each bridge on its own embedded valkey-server; per round and tree the
acked rate, worker CPU, Redis CPU and load-generator CPU per acknowledged webhook.

CPU per webhook moves less than the rate with the machine's load (the run is CPU-bound on
shared cores), so it is the figure to compare trees by. Run:
`.venv/bin/python -m bench.ab_ingest /path/to/tree-a /path/to/tree-b --rounds 4`
(a tree is a checkout or `git archive` of the repository; its `bridge/` package is served).
"""

from __future__ import annotations

import argparse
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.config import FULL
from bench.load import closed_ingest, ms_per_webhook
from bench.loopback import free_port
from bench.procs import cpu_of, settle
from bench.servers import Baseline, Bridge, Server
from bench.stats import median
from bridge.embedded import EmbeddedRedis


def one_round(server: Server, redis_pid: int | None, cfg: dict[str, Any]) -> dict[str, Any]:
    redis_pids = [redis_pid] if redis_pid else []
    settle(server.pids() + redis_pids)
    workers0, redis0 = cpu_of(server.pids()), cpu_of(redis_pids)
    result = closed_ingest(server, cfg)
    workers, redis = cpu_of(server.pids()) - workers0, cpu_of(redis_pids) - redis0
    return {
        "rate": result["acked_per_s"],
        "p99_ms": result["ack_p99_ms"],
        "worker_ms": ms_per_webhook(workers, result, cfg),
        "redis_ms": ms_per_webhook(redis, result, cfg),
        "loadgen_ms": ms_per_webhook(result["cpu_s"], result, cfg),
        "statuses": result["statuses"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", type=Path, help="trees whose bridge/ to serve")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per round")
    args = parser.parse_args(argv)
    for tree in args.trees:
        if not (tree / "bridge" / "__init__.py").is_file():
            parser.error(f"{tree} has no bridge/ package to serve")
    if args.rounds < 1 or args.duration <= 0:
        parser.error("--rounds must be at least 1 and --duration above 0")
    cfg = {**FULL["ingest"], "duration": args.duration}
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ab-")))
        servers: dict[str, tuple[Server, int | None]] = {}
        baseline = Baseline(work / "baseline").launch()
        stack.callback(baseline.stop)
        servers["baseline"] = (baseline, None)
        for i, tree in enumerate(args.trees):
            redis = EmbeddedRedis(work / f"redis-{i}", port=free_port())
            url = redis.start()
            stack.callback(redis.stop)
            bridge = Bridge(work / f"bridge-{i}", url, tree.resolve()).launch()
            stack.callback(bridge.stop)
            assert redis.process is not None
            # The same tree twice is an A/A run: each keeps its own rows.
            name = str(tree) if str(tree) not in servers else f"{tree} ({i + 1})"
            servers[name] = (bridge, redis.process.pid)
        for server, _ in servers.values():
            server.ready()
            if isinstance(server, Bridge):
                server.create_endpoint("ingest")
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        for number in range(args.rounds):
            for name, (server, redis_pid) in servers.items():
                row = one_round(server, redis_pid, cfg)
                rounds[name].append(row)
                shown = ", ".join(
                    f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
                )
                print(f"round {number + 1} {name}: {shown}", flush=True)
        base = rounds["baseline"]
        for name, rows in rounds.items():
            ratio = median([row["rate"] / b["rate"] for row, b in zip(rows, base, strict=True)])
            figures = {k: median([row[k] for row in rows]) for k in rows[0] if k != "statuses"}
            print(
                f"{name}: ratio {ratio:.3f}, "
                + ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
                + " (medians)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
