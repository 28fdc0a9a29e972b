"""`python -m bench.run`: the bridge measured next to a baseline and a peer, in one run.

Scenarios (issue 6), all on loopback, bounded in count and time:

1. ingest   signed webhooks acknowledged per second, bridge vs a bare Flask POST handler
            under the same gunicorn settings (baseline_app.py), alternating rounds.
2. latency  webhook -> socket p50/p99/max at (subscribers, events/s) = (100, 50),
            (1000, 10), (5000, 2); lost events counted.
3. fanout   one event to 1k, 5k, 10k subscribers: time until all have it; deliveries/s.
4. idle     20k idle sockets: RSS per socket, opening rate, clean shutdown time.
5. peer     scenario 2 on Flask-SocketIO + Redis message queue (bench/.peer-venv).
6. storm    every socket dropped at once and back within 10 s with `since` while webhooks
            flow: reconnect rate, time until all are live, 0 missing, 0 duplicates (storm.py).

Servers, load generator (loadgen.py) and socket clients (wsclients.py) are separate
processes; clients and load generator report their own CPU time. `--smoke` runs every
scenario tiny (the test suite does, to keep the bench working; it never asserts a figure).
Writes bench/results.json and, for a full run, docs/performance.md and docs/performance.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import psutil

from bench import servers, storm
from bench.common import raise_nofile, webhook_body
from bench.servers import ADMIN_TOKEN, BENCH, SECRET, Baseline, Bridge, Peer, cpu_of, settle
from bridge.embedded import EmbeddedRedis
from bridge.providers import get as provider

FULL: dict[str, Any] = {
    "ingest": {"rounds": 2, "warmup": 1.0, "duration": 8.0, "concurrency": 32},
    "latency": {"configs": [(100, 50), (1000, 10), (5000, 2)], "duration": 10.0},
    "fanout": {"sizes": [1000, 5000, 10000], "reps": 5},
    "idle": {"sockets": 20000, "warmup_sockets": 50},
    "peer": {"configs": [(100, 50), (1000, 10), (5000, 2)], "duration": 10.0},
    "storm": {"sockets": 5000, "rate": 100, "lead": 2.0, "window": 10.0, "tail": 5.0},
}
SMOKE: dict[str, Any] = {
    "ingest": {"rounds": 1, "warmup": 0.2, "duration": 0.5, "concurrency": 8},
    "latency": {"configs": [(20, 20)], "duration": 0.5},
    "fanout": {"sizes": [20, 50], "reps": 1},
    "idle": {"sockets": 100, "warmup_sockets": 10},
    "peer": {"configs": [(20, 20)], "duration": 0.5},
    "storm": {"sockets": 30, "rate": 20, "lead": 0.3, "window": 1.0, "tail": 0.5},
}
SCENARIOS = ("ingest", "latency", "fanout", "storm", "idle", "peer")
DOC = servers.ROOT / "docs" / "performance.md"
S = TypeVar("S", bound=servers.Server)

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


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Seq:
    """Event numbers, unique across the run (clients use them to spot loss and duplicates)."""

    def __init__(self) -> None:
        self.next = 1

    def take(self, count: int = 1) -> int:
        first, self.next = self.next, self.next + count
        return first


class Profiler:
    """`--profile DIR`: py-spy samples each server worker during a measured window."""

    directory: Path | None = None

    def __init__(self, name: str, pids: list[int]) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        if self.directory is None:
            return
        spy = Path(sys.executable).with_name("py-spy")
        for pid in pids:
            out = self.directory / f"{name}-{pid}.txt"
            self.procs.append(
                subprocess.Popen(
                    [
                        str(spy),
                        "record",
                        "--pid",
                        str(pid),
                        "--rate",
                        "200",
                        "--format",
                        "raw",
                        "--nonblocking",
                        "--output",
                        str(out),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        time.sleep(0.5)  # py-spy attaches

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            proc.wait(30)


# -- client processes ------------------------------------------------------------------


class Clients:
    """A few wsclients.py processes, commanded in parallel over their stdin/stdout."""

    def __init__(self, count: int) -> None:
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-m", "bench.wsclients"],
                cwd=servers.ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                preexec_fn=servers.die_with_parent,
            )
            for _ in range(count)
        ]
        self.subscribed: list[dict[str, int]] = [{} for _ in self.procs]

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def send(self, commands: list[dict[str, Any]]) -> None:
        for proc, command in zip(self.procs, commands, strict=True):
            assert proc.stdin is not None
            proc.stdin.write((json.dumps(command) + "\n").encode())
            proc.stdin.flush()

    def receive(self) -> list[dict[str, Any]]:
        answers = []
        for proc in self.procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"client process {proc.pid} died ({proc.poll()})")
            answers.append(json.loads(line))
        return answers

    def call(self, command: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.send(command if isinstance(command, list) else [command] * len(self.procs))
        return self.receive()

    def open(
        self, url: str, proto: str, total: int, plan: list[tuple[str, int]], track: bool = False
    ) -> dict[str, Any]:
        """Open `total` sockets spread over the processes; socket i subscribes to each
        channel of `plan` whose bound is above i (`track`: each keeps its last cursor)."""
        share, extra = divmod(total, len(self.procs))
        commands, offset = [], 0
        for i in range(len(self.procs)):
            count = share + (1 if i < extra else 0)
            commands.append(
                {"cmd": "open", "url": url, "proto": proto, "token": ADMIN_TOKEN,
                 "offset": offset, "count": count, "channels": plan, "concurrency": 64,
                 "track": track}
            )  # fmt: skip
            offset += count
        started = time.monotonic()
        answers = self.call(commands)
        seconds = time.monotonic() - started
        for i, answer in enumerate(answers):
            self.subscribed[i] = answer["subscribed"]
        errors: dict[str, int] = {}
        for answer in answers:
            for k, v in answer["errors"].items():
                errors[k] = errors.get(k, 0) + v
        return {
            "requested": total,
            "opened": sum(a["opened"] for a in answers),
            "seconds": seconds,
            "client_cpu_s": sum(a["cpu"] for a in answers),
            "errors": errors,
        }

    def subscribers(self, channel: str) -> int:
        return sum(s.get(channel, 0) for s in self.subscribed)

    def wait(self, seqs: list[int], channel: str, timeout: float) -> bool:
        commands = [
            {"cmd": "wait", "expect": {str(s): sub.get(channel, 0) for s in seqs},
             "timeout": timeout}
            for sub in self.subscribed
        ]  # fmt: skip
        return all(a["done"] for a in self.call(commands))

    def close_sockets(self) -> None:
        self.call({"cmd": "close", "exit": False})
        self.subscribed = [{} for _ in self.procs]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    assert proc.stdin is not None
                    proc.stdin.write(b'{"cmd": "close"}\n')
                    proc.stdin.close()
                except OSError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def client_count(sockets: int) -> int:
    """One client process up to 1000 sockets, then two (one per core), more if the file
    limit asks for it."""
    if sockets <= 1000:
        return 1
    per_process = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 512
    return max(2, -(-sockets // per_process))


# -- load --------------------------------------------------------------------------------


def loadgen(job: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", json.dumps(job)], cwd=servers.ROOT,
        capture_output=True, check=False, timeout=600, preexec_fn=servers.die_with_parent,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed: {done.stderr.decode(errors='replace')[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def send_at_rate(
    server: servers.Server, path: str, first: int, count: int, rate: float
) -> dict[str, Any]:
    return loadgen(
        {"mode": "rate", "host": "127.0.0.1", "port": server.port, "path": path,
         "secret": SECRET, "first_seq": first, "count": count, "rate": rate}
    )  # fmt: skip


def post_one(server: servers.Server, path: str, seq: int) -> tuple[float, int]:
    """One signed webhook; (send time, status)."""
    sent = time.monotonic()
    body = webhook_body(seq, sent)
    headers = provider("github").sign(body, SECRET, now=time.time(), event_type="push")
    headers["Content-Type"] = "application/json"
    status, _ = servers.request("POST", server.url + path, body, headers)
    return sent, status


# -- statistics ----------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), -(-len(sorted_values) * q // 100)))
    return sorted_values[int(rank) - 1]


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return float("nan")
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


# -- scenarios -----------------------------------------------------------------------------


def scenario_ingest(bridge: Bridge, baseline: Baseline, cfg: dict[str, Any]) -> dict[str, Any]:
    rounds: dict[str, list[dict[str, Any]]] = {"baseline": [], "bridge": []}
    for number in range(cfg["rounds"]):
        for name, server in (("baseline", baseline), ("bridge", bridge)):
            settle(server.pids())
            profiler = Profiler(f"{name}-ingest-{number}", server.worker_pids())
            cpu0 = cpu_of(server.pids())
            result = loadgen(
                {"mode": "closed", "host": "127.0.0.1", "port": server.port,
                 "path": "/hooks/ingest", "secret": SECRET, **cfg}
            )  # fmt: skip
            result["server_cpu_s"] = cpu_of(server.pids()) - cpu0
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
    log(f"ingest: bridge {bridge_rate:.0f}/s, baseline {baseline_rate:.0f}/s, ratio {ratio:.2f}")
    return {
        "bridge_per_s": bridge_rate,
        "baseline_per_s": baseline_rate,
        "ratio": ratio,
        "target_ratio": TARGETS["ingest_ratio"],
        "concurrency": cfg["concurrency"],
        "seconds_per_round": cfg["duration"],
        "rounds": rounds,
    }


def latency_config(
    server: servers.Server,
    url: str,
    proto: str,
    channel: str,
    subscribers: int,
    rate: float,
    duration: float,
    seq: Seq,
) -> dict[str, Any]:
    clients = Clients(client_count(subscribers))
    try:
        opened = clients.open(url, proto, subscribers, [(channel, subscribers)])
        have = clients.subscribers(channel)
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
        f"latency {server.name} {have} subs x {rate}/s: p50 {result['p50_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms, lost {result['lost']}, "
        f"server cpu {server_cpu:.1f} s / client cpu {result['client_cpu_s']:.1f} s "
        f"in {sent['seconds']:.1f} s"
    )
    return result


def scenario_latency(
    server: servers.Server, url: str, proto: str, cfg: dict[str, Any], seq: Seq, cap: int
) -> dict[str, Any]:
    runs = []
    for subscribers, rate in cfg["configs"]:
        channel = f"lat-{subscribers}"
        if isinstance(server, Bridge):
            server.create_endpoint(channel)
        runs.append(
            latency_config(
                server, url, proto, channel, min(subscribers, cap), rate, cfg["duration"], seq
            )
        )
        settle(server.pids())
    return {"runs": runs, "lost": sum(r["lost"] for r in runs)}


def scenario_fanout(bridge: Bridge, cfg: dict[str, Any], seq: Seq, cap: int) -> dict[str, Any]:
    sizes = [min(size, cap) for size in cfg["sizes"]]
    plan = [(f"fan-{size}", size) for size in sizes]
    for channel, _ in plan:
        bridge.create_endpoint(channel)
    clients = Clients(client_count(max(sizes)))
    runs = []
    try:
        opened = clients.open(bridge.ws_url, "bridge", max(sizes), plan)
        log(f"fanout: {opened['opened']} sockets open in {opened['seconds']:.1f} s")
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
                f"fanout {have}: all in {all_ms:.1f} ms (median of {len(reps)}; "
                f"{run['deliveries_per_s']:.0f} deliveries/s), lost {run['lost']}"
            )
    finally:
        clients.stop()
    return {"runs": runs, "open": opened, "lost": sum(r["lost"] for r in runs)}


def scenario_idle(bridge: Bridge, cfg: dict[str, Any], cap: int) -> dict[str, Any]:
    sockets = min(cfg["sockets"], cap)
    bridge.create_endpoint("idle")
    clients = Clients(client_count(sockets))
    try:
        # Warm up the code paths (imports, hub, first allocations) before the RSS baseline.
        clients.open(bridge.ws_url, "bridge", cfg["warmup_sockets"], [("idle", sockets)])
        clients.close_sockets()
        settle(bridge.pids(), limit=5)
        rss_before = {pid: servers._rss(pid) for pid in bridge.worker_pids()}
        opened = clients.open(bridge.ws_url, "bridge", sockets, [("idle", sockets)])
        settle(bridge.pids(), limit=20)
        rss_after = {pid: servers._rss(pid) for pid in bridge.worker_pids()}
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


# -- the run -------------------------------------------------------------------------------


def machine(root: Path) -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout.strip()

    model = ""
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "bridge")),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def capacity(nofile: int, workers: int = 2) -> int:
    """How many sockets this machine lets the bench hold open at once: each of the two
    server workers and each client process may hold `nofile` files (less a margin), and
    every client socket needs an ephemeral port (less a margin for TIME_WAIT)."""
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    return max(10, min(workers * (nofile - 512), high - low - 2000))


def run(args: argparse.Namespace) -> dict[str, Any]:
    cfg = json.loads(json.dumps(SMOKE if args.smoke else FULL))  # a copy to adjust
    if args.latency_configs:
        configs = [tuple(map(int, c.split("x"))) for c in args.latency_configs]
        cfg["latency"]["configs"] = cfg["peer"]["configs"] = configs
    if args.fanout_sizes:
        cfg["fanout"]["sizes"] = args.fanout_sizes
    if args.smoke:
        servers.SETTLE_INTERVAL = 0.1
    chosen = args.only or list(SCENARIOS)
    nofile = raise_nofile(65536)
    cap = capacity(nofile)
    meta = machine(args.bridge_root)
    meta.update(nofile=nofile, socket_capacity=cap, smoke=args.smoke)
    log(f"bench: {'smoke' if args.smoke else 'full'} run of {', '.join(chosen)}; {meta}")
    results: dict[str, Any] = {"meta": meta, "scenarios": {}}
    seq = Seq()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="bridge-bench-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        redis = EmbeddedRedis(work / "redis", port=servers.free_port())
        redis_url = redis.start()
        stack.callback(redis.stop)
        peer_python = servers.ensure_peer_venv() if "peer" in chosen else None
        scenarios = results["scenarios"]

        def launch(server: S) -> S:
            server.launch()
            stack.callback(server.stop)
            return server

        # Servers start in parallel; an idle one costs nothing. Only the fresh bridge of the
        # idle scenario waits in a full run: its hub would take every event of the others.
        bridge = launch(Bridge(work / "bridge", redis_url, args.bridge_root))
        baseline = launch(Baseline(work / "baseline")) if "ingest" in chosen else None
        peer = launch(Peer(work / "peer", redis_url, peer_python)) if peer_python else None
        # The idle scenario measures memory on a fresh bridge (a smoke run reuses the first).
        fresh = bridge if args.smoke else Bridge(work / "bridge-idle", redis_url, args.bridge_root)
        for server in (bridge, baseline, peer):
            if server is not None:
                server.ready()
        if {"ingest", "latency", "fanout"} & set(chosen):
            bridge.create_endpoint("ingest")
            if baseline is not None:
                scenarios["ingest"] = scenario_ingest(bridge, baseline, cfg["ingest"])
                baseline.stop()
            if "latency" in chosen:
                scenarios["latency"] = scenario_latency(
                    bridge, bridge.ws_url, "bridge", cfg["latency"], seq, cap
                )
            if "fanout" in chosen:
                scenarios["fanout"] = scenario_fanout(bridge, cfg["fanout"], seq, cap)
        if "storm" in chosen:
            assert redis.process is not None
            scenarios["storm"] = storm.scenario(
                bridge, redis.process.pid, cfg["storm"], seq, cap,
                clients=lambda n: Clients(client_count(n)), send_at_rate=send_at_rate,
                cpu_of=cpu_of, log=log,
            )  # fmt: skip
        if fresh is not bridge:
            bridge.stop()
        if "idle" in chosen:
            if fresh.process is None:
                launch(fresh)
            scenarios["idle"] = scenario_idle(fresh.ready(), cfg["idle"], cap)
        bridge.stop()
        if peer is not None:
            assert peer_python is not None
            scenarios["peer"] = scenario_latency(peer, peer.ws_url, "sio", cfg["peer"], seq, cap)
            scenarios["peer"]["versions"] = peer_versions(peer_python)
            peer.stop()
    meta["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    meta["seconds"] = round(time.monotonic() - started, 1)
    return results


def peer_versions(python: Path) -> dict[str, str]:
    code = (
        "import json, importlib.metadata as m; print(json.dumps({n: m.version(n) for n in "
        "['flask-socketio', 'python-socketio', 'python-engineio', 'simple-websocket', "
        "'gevent', 'gunicorn', 'redis']}))"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    versions: dict[str, str] = json.loads(done.stdout)
    return versions


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
        "--bridge-root", type=Path, default=servers.ROOT,
        help="serve the bridge package from this tree (to measure a patched copy)",
    )  # fmt: skip
    parser.add_argument(
        "--latency-configs", nargs="+", metavar="SUBSxRATE",
        help="override the latency (and peer) configurations, e.g. 1000x10 5000x2",
    )  # fmt: skip
    parser.add_argument("--fanout-sizes", nargs="+", type=int, help="override fan-out sizes")
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
