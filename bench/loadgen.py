"""The load generator: signed webhooks over keep-alive HTTP/1.1, in its own process.

`python -m bench.loadgen '<json>'` runs one job and prints one JSON line. A raw asyncio
protocol, not an HTTP library: each request (headers and body) leaves in one write on a
TCP_NODELAY socket, and the generator's own cost per request is a few microseconds of
signing and parsing, identical whichever server it targets.

Jobs:
- `closed`: `concurrency` connections each send the next request as soon as the last is
  answered; counts the 2xx answers in the `duration` after a `warmup` (requests/s).
- `rate`: open loop, `count` events at `rate` per second, each body carrying its send time
  (`time.monotonic()`, taken just before the write) for the latency measurement.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
import uuid
from collections import Counter
from typing import Any

import uvloop

from bench.common import cpu_seconds, raise_nofile, webhook_body
from bridge.providers import get as provider


class Signer:
    def __init__(self, job: dict[str, Any]) -> None:
        self.host = f"{job['host']}:{job['port']}"
        self.secret = job["secret"]
        self.github = provider("github")

    def request(self, path: str, body: bytes) -> bytes:
        headers = self.github.sign(
            body, self.secret, now=time.time(), event_id=str(uuid.uuid4()), event_type="push"
        )
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {self.host}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in headers.items()),
            "",
            "",
        ]
        return "\r\n".join(lines).encode() + body


class HttpConn(asyncio.Protocol):
    """One keep-alive connection; `request()` sends one request and awaits its status."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.waiter: asyncio.Future[int] | None = None
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self.buffer[: head_end + 2].lower()
        at = head.find(b"content-length:")
        length = int(head[at + 15 : head.find(b"\r\n", at)]) if at >= 0 else 0
        if len(self.buffer) < head_end + 4 + length:
            return
        status = int(self.buffer[9:12])
        self.buffer = self.buffer[head_end + 4 + length :]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))
        if not self.lost.done():
            self.lost.set_result(None)

    async def request(self, data: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


async def connect(job: dict[str, Any]) -> HttpConn:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(HttpConn, job["host"], job["port"])
    return conn


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


async def closed_loop(job: dict[str, Any]) -> dict[str, Any]:
    signer = Signer(job)
    path = job["path"]
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    ack_times: list[float] = []
    start = time.monotonic()
    measure_from = start + job["warmup"]
    stop_at = measure_from + job["duration"]
    cpu_at_measure = [0.0]

    async def worker() -> None:
        conn = await connect(job)
        seq = 0
        while (t := time.monotonic()) < stop_at:
            data = signer.request(path, webhook_body(seq, t))
            seq += 1
            try:
                status = await conn.request(data)
            except ConnectionError as exc:
                errors[str(exc)] += 1
                conn = await connect(job)
                continue
            done = time.monotonic()
            if t >= measure_from and done <= stop_at:
                statuses[status] += 1
                ack_times.append(done - t)
        assert conn.transport is not None
        conn.transport.close()

    async def mark_cpu() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.monotonic()))
        cpu_at_measure[0] = cpu_seconds()

    await asyncio.gather(mark_cpu(), *(worker() for _ in range(job["concurrency"])))
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    ack_times.sort()
    return {
        "acked_per_s": ok / job["duration"],
        "acked": ok,
        "statuses": {str(k): v for k, v in statuses.items()},
        "errors": dict(errors),
        "ack_p50_ms": percentile(ack_times, 50) * 1000,
        "ack_p99_ms": percentile(ack_times, 99) * 1000,
        "cpu_s": cpu_seconds() - cpu_at_measure[0],
    }


async def open_loop(job: dict[str, Any]) -> dict[str, Any]:
    """Send `count` events at `rate`/s; a pool of connections keeps the schedule even if an
    answer is slow (a slow answer never delays the next send)."""
    signer = Signer(job)
    # `paths`: the i-th event goes to paths[i % len(paths)] (events spread over endpoints).
    paths = job.get("paths") or [job["path"]]
    idle: list[HttpConn] = [await connect(job) for _ in range(job.get("connections", 4))]
    statuses: Counter[int] = Counter()
    acked: list[int] = []
    behind = 0.0
    start = time.monotonic()
    cpu = cpu_seconds()

    async def send(seq: int, path: str) -> None:
        # The server closes a connection idle for its keep-alive time (5 s): skip those.
        while idle and idle[-1].lost.done():
            idle.pop()
        conn = idle.pop() if idle else await connect(job)
        t = time.monotonic()
        try:
            status = await conn.request(signer.request(path, webhook_body(seq, t)))
        except (ConnectionError, RuntimeError):
            statuses[0] += 1
            return
        statuses[status] += 1
        if 200 <= status < 300:
            acked.append(seq)
        idle.append(conn)

    tasks = []
    for i in range(job["count"]):
        due = start + i / job["rate"]
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            behind = max(behind, -delay)
        tasks.append(asyncio.ensure_future(send(job["first_seq"] + i, paths[i % len(paths)])))
    await asyncio.gather(*tasks)
    for conn in idle:
        assert conn.transport is not None
        conn.transport.close()
    return {
        "sent": job["count"],
        "acked": sorted(acked),
        "statuses": {str(k): v for k, v in statuses.items()},
        "seconds": time.monotonic() - start,
        "max_behind_ms": behind * 1000,
        "cpu_s": cpu_seconds() - cpu,
    }


async def main(job: dict[str, Any]) -> None:
    raise_nofile()
    result = await (closed_loop(job) if job["mode"] == "closed" else open_loop(job))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    uvloop.run(main(json.loads(sys.argv[1])))
