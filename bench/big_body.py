"""What one large webhook costs everything else on its worker: the longest wait for
`/healthz` on a one-worker bridge while a signed N MiB JSON webhook is verified and stored,
against the longest wait in as long a window without it (the baseline, same run, same
bridge), per tree.

Under gevent a worker's requests and sockets all wait while one greenlet computes, so the
wait shows how long the loop was held. Run:
`.venv/bin/python -m bench.big_body /path/to/tree-a /path/to/tree-b --mib 20 --rounds 2`
"""

from __future__ import annotations

import argparse
import http.client
import json
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from bench.loopback import free_port
from bench.servers import SECRET, Bridge
from bench.stats import median
from bridge.embedded import EmbeddedRedis
from bridge.providers import get as provider


def json_body(mib: float, shape: str = "objects") -> bytes:
    """A JSON array of about `mib` MiB: small objects (many nodes, as real large payloads),
    or `nested` arrays 100 deep (the most containers per byte a stranger can send)."""
    if shape == "nested":
        count = max(1, int(mib * 1024 * 1024 / 201))
        return b"[" + b",".join([b"[" * 100 + b"]" * 100] * count) + b"]"
    count = max(1, int(mib * 1024 * 1024 / 30))
    return json.dumps([{"n": i, "s": "abcdefgh"} for i in range(count)]).encode()


def longest_wait(port: int, until: threading.Event, at_most: float) -> float:
    """Ask /healthz back to back on one connection until `until` is set (or `at_most`
    seconds passed): the longest answer, in seconds."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    longest = 0.0
    ends = time.monotonic() + at_most
    try:
        while not until.is_set() and time.monotonic() < ends:
            started = time.monotonic()
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            longest = max(longest, time.monotonic() - started)
    finally:
        conn.close()
    return longest


def one_round(bridge: Bridge, body: bytes, number: int) -> dict[str, float]:
    """The longest /healthz wait while the webhook is handled, and in as long a quiet window."""
    headers = provider("github").sign(
        body, SECRET, now=time.time(), event_id=f"big-{number}", event_type="push"
    )
    headers["Content-Type"] = "application/json"
    done = threading.Event()
    outcome: dict[str, float] = {}

    def post() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", bridge.port, timeout=120)
        started = time.monotonic()
        try:
            conn.request("POST", "/hooks/big", body=body, headers=headers)
            answer = conn.getresponse()
            answer.read()
            outcome["status"] = answer.status
        finally:
            outcome["webhook_s"] = time.monotonic() - started
            conn.close()
            done.set()

    sender = threading.Thread(target=post)
    sender.start()
    during = longest_wait(bridge.port, done, at_most=120)
    sender.join()
    quiet = longest_wait(bridge.port, threading.Event(), at_most=outcome["webhook_s"])
    return {"during_ms": during * 1000, "quiet_ms": quiet * 1000, **outcome}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", type=Path, help="trees whose bridge/ to serve")
    parser.add_argument("--mib", type=float, default=20.0, help="size of the webhook's body")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--shape",
        choices=["objects", "nested"],
        default="objects",
        help="small objects, or arrays nested 100 deep (try --mib 0.23: under offload.LARGE)",
    )
    args = parser.parse_args(argv)
    for tree in args.trees:
        if not (tree / "bridge" / "__init__.py").is_file():
            parser.error(f"{tree} has no bridge/ package to serve")
    if args.rounds < 1 or not 0 < args.mib <= 24:
        parser.error("--rounds must be at least 1 and --mib between 0 and 24")
    body = json_body(args.mib, args.shape)
    print(f"body: {len(body) / 2**20:.2f} MiB of JSON ({args.shape})", flush=True)
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-big-")))
        bridges: dict[str, Bridge] = {}
        for i, tree in enumerate(args.trees):
            redis = EmbeddedRedis(work / f"redis-{i}", port=free_port())
            url = redis.start()
            stack.callback(redis.stop)
            bridge = Bridge(work / f"bridge-{i}", url, tree.resolve(), workers=1).launch()
            stack.callback(bridge.stop)
            name = str(tree) if str(tree) not in bridges else f"{tree} ({i + 1})"
            bridges[name] = bridge
        for bridge in bridges.values():
            bridge.ready()
            bridge.create_endpoint("big")
        rows: dict[str, list[dict[str, float]]] = {name: [] for name in bridges}
        for number in range(args.rounds):
            for name, bridge in bridges.items():
                row = one_round(bridge, body, number)  # each bridge has its own Redis
                rows[name].append(row)
                print(
                    f"round {number + 1} {name}: status {row['status']:.0f}, webhook"
                    f" {row['webhook_s']:.2f} s, longest /healthz wait {row['during_ms']:.0f} ms"
                    f" during it, {row['quiet_ms']:.1f} ms without",
                    flush=True,
                )
        for name, done in rows.items():
            during = median([r["during_ms"] for r in done])
            quiet = median([r["quiet_ms"] for r in done])
            print(
                f"{name}: longest /healthz wait {during:.0f} ms during a webhook of"
                f" {len(body) / 2**20:.2f} MiB vs {quiet:.1f} ms without = {during / quiet:.0f}x"
                " (medians)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
