"""`python -m bench.run`: the bridge measured next to a baseline and a peer, in one run.

Scenarios (issue 6), all on loopback, bounded in count and time:

1. ingest   signed webhooks acknowledged per second, bridge vs a bare Flask POST handler
            under the same gunicorn settings (baseline_app.py), and vs the same handler
            without the access log, alternating rounds.
2. latency  webhook -> socket p50/p99/max at (subscribers, events/s) = (100, 50),
            (1000, 10), (5000, 2); lost events counted.
3. fanout   one event to 1k, 5k, 10k subscribers: time until all have it; deliveries/s.
4. idle     20k idle sockets: RSS per socket, opening rate, clean shutdown time.
5. peer     scenario 2 on Flask-SocketIO + Redis message queue (bench/.peer-venv).
6. storm    every socket dropped at once and back within 10 s with `since` while webhooks
            flow: reconnect rate, time until all are live, 0 missing, 0 duplicates.
7. instances  3 bridge instances x 2 workers on a 3-primary Redis Cluster beside one
            instance on one Redis, same sockets and load; then one instance SIGKILLed and
            its sockets resumed on another: 0 lost, 0 duplicates, in cursor order.

`--cross-check` (on by default) runs latency 1000 x 10/s on the bridge and the peer and the
5,000 fan-out again with a second, ordinary client (bench/node/client.js: Node's `ws`,
JSON.parse of every frame), stored as `node_client` beside the picows runs of each scenario.

Servers (servers.py), load generator (loadgen.py, driven by load.py) and socket clients
(wsclients.py, driven by clients.py) are separate processes; clients and load generator
report their own CPU time. Each scenario is a module of bench/scenarios/; their sizes and
the targets are in config.py. This module is the runner: it starts Redis and the servers,
runs the chosen scenarios in order and writes the results. `--smoke` runs every scenario
tiny (the test suite does, to keep the bench working; it never asserts a figure).
Writes bench/results.json and, for a full run, docs/performance.md and docs/performance.png.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

from bench import procs
from bench.common import raise_nofile
from bench.config import FULL, PROTOTYPE, SCENARIOS, SMOKE, TARGETS, cross_check
from bench.loopback import free_port
from bench.machine import capacity, machine, node_client, peer_versions
from bench.measure import Profiler, Seq, log
from bench.procs import BENCH, ROOT
from bench.scenarios import fanout, idle, ingest, instances, latency, storm
from bench.servers import Baseline, Bridge, Peer, Server, ensure_peer_venv
from bridge.embedded import EmbeddedRedis

DOC = ROOT / "docs" / "performance.md"
S = TypeVar("S", bound=Server)


def run(args: argparse.Namespace) -> dict[str, Any]:
    cfg = json.loads(json.dumps(SMOKE if args.smoke else FULL))  # a copy to adjust
    if args.latency_configs:
        configs = [tuple(map(int, c.split("x"))) for c in args.latency_configs]
        cfg["latency"]["configs"] = cfg["peer"]["configs"] = configs
    if args.fanout_sizes:
        cfg["fanout"]["sizes"] = args.fanout_sizes
    if args.smoke:
        procs.SETTLE_INTERVAL = 0.1
    chosen = args.only or list(SCENARIOS)
    nofile = raise_nofile(65536)
    cap = capacity(nofile)
    meta = machine(args.bridge_root)
    meta.update(nofile=nofile, socket_capacity=cap, smoke=args.smoke)
    # The Node client's runs go beside the picows ones, under "node_client" in each scenario.
    cross = cross_check(cfg) if args.cross_check else None
    if cross is not None:
        meta["cross_check_client"] = node_client()
    log(f"bench: {'smoke' if args.smoke else 'full'} run of {', '.join(chosen)}; {meta}")
    results: dict[str, Any] = {"meta": meta, "scenarios": {}}
    seq = Seq()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="bridge-bench-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        redis = EmbeddedRedis(work / "redis", port=free_port())
        redis_url = redis.start()
        stack.callback(redis.stop)
        peer_python = ensure_peer_venv() if "peer" in chosen else None
        scenarios = results["scenarios"]

        def launch(server: S) -> S:
            server.launch()
            stack.callback(server.stop)
            return server

        # Servers start in parallel; an idle one costs nothing. Only the fresh bridge of the
        # idle scenario waits in a full run: its hub would take every event of the others.
        bridge = launch(Bridge(work / "bridge", redis_url, args.bridge_root))
        baselines = (
            [launch(Baseline(work / "baseline")), launch(Baseline(work / "bare", access_log=False))]
            if "ingest" in chosen
            else []
        )
        peer = launch(Peer(work / "peer", redis_url, peer_python)) if peer_python else None
        # The idle scenario measures memory on a fresh bridge (a smoke run reuses the first).
        fresh = bridge if args.smoke else Bridge(work / "bridge-idle", redis_url, args.bridge_root)
        for server in (bridge, *baselines, peer):
            if server is not None:
                server.ready()
        if {"ingest", "latency", "fanout"} & set(chosen):
            bridge.create_endpoint("ingest")
            if baselines:
                scenarios["ingest"] = ingest.scenario(bridge, baselines, cfg["ingest"])
                for baseline in baselines:
                    baseline.stop()
            if "latency" in chosen:
                scenarios["latency"] = latency.scenario(
                    bridge, bridge.ws_url, "bridge", cfg["latency"], seq, cap
                )
                if cross is not None:
                    scenarios["latency"]["node_client"] = latency.scenario(
                        bridge, bridge.ws_url, "bridge", cross["latency"], seq, cap, "node"
                    )
            if "fanout" in chosen:
                scenarios["fanout"] = fanout.scenario(bridge, cfg["fanout"], seq, cap)
                if cross is not None:
                    scenarios["fanout"]["node_client"] = fanout.scenario(
                        bridge, cross["fanout"], seq, cap, "node"
                    )
        if "storm" in chosen:
            assert redis.process is not None
            scenarios["storm"] = storm.scenario(bridge, redis.process.pid, cfg["storm"], seq, cap)
        if "instances" in chosen:
            assert redis.process is not None
            scenarios["instances"] = instances.scenario(
                bridge, redis.process.pid, cfg["instances"], seq, work, args.bridge_root
            )
        if fresh is not bridge:
            bridge.stop()
        if "idle" in chosen:
            if fresh.process is None:
                launch(fresh)
            scenarios["idle"] = idle.scenario(fresh.ready(), cfg["idle"], cap)
        bridge.stop()
        if peer is not None:
            assert peer_python is not None
            scenarios["peer"] = latency.scenario(peer, peer.ws_url, "sio", cfg["peer"], seq, cap)
            if cross is not None:
                scenarios["peer"]["node_client"] = latency.scenario(
                    peer, peer.ws_url, "sio", cross["peer"], seq, cap, "node"
                )
            scenarios["peer"]["versions"] = peer_versions(peer_python)
            peer.stop()
    meta["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    meta["seconds"] = round(time.monotonic() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny run of every scenario")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, help="run only these")
    parser.add_argument("--out", type=Path, help="results JSON (default bench/results.json)")
    parser.add_argument(
        "--doc", type=Path, help="write this markdown (default: docs/performance.md, full runs)"
    )
    parser.add_argument("--no-doc", action="store_true", help="write no markdown or plot")
    parser.add_argument(
        "--bridge-root", type=Path, default=ROOT,
        help="serve the bridge package from this tree (to measure a patched copy)",
    )  # fmt: skip
    parser.add_argument(
        "--latency-configs", nargs="+", metavar="SUBSxRATE",
        help="override the latency (and peer) configurations, e.g. 1000x10 5000x2",
    )  # fmt: skip
    parser.add_argument("--fanout-sizes", nargs="+", type=int, help="override fan-out sizes")
    parser.add_argument(
        "--cross-check", action=argparse.BooleanOptionalAction, default=True,
        help="run latency 1000x10 (bridge and peer) and fan-out 5000 again with the Node "
        "client, bench/node/client.js (tiny in --smoke)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", type=Path, help="py-spy each worker during measured windows into this dir"
    )
    parser.add_argument(
        "--render", type=Path, metavar="RESULTS_JSON",
        help="run nothing: write the markdown and plot from an earlier run's JSON",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.render:
        from bench import report

        report.write(json.loads(args.render.read_text()), args.doc or DOC, TARGETS, PROTOTYPE)
        return 0
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        Profiler.directory = args.profile.resolve()
    args.bridge_root = args.bridge_root.resolve()
    out = args.out or BENCH / ("results-smoke.json" if args.smoke else "results.json")
    results = run(args)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str) + "\n")
    from bench import report

    print(report.summary(results))
    doc = args.doc or (None if args.smoke or args.only else DOC)
    if doc is not None and not args.no_doc:
        report.write(results, doc, TARGETS, PROTOTYPE)
        log(f"wrote {doc} and {doc.with_suffix('.png')}")
    log(f"wrote {out}; {results['meta']['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
