"""The socket-client processes, seen from the orchestrator: a pool commanded over pipes.

Each process is `python -m bench.wsclients` (many sockets on one event loop); the pool sends
every process its command as one JSON line and reads one JSON line back from each, so the
processes work in parallel. `client_count` says how many processes a scenario's sockets need.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from bench.procs import BENCH, ROOT, bench_module, die_with_parent
from bench.servers import ADMIN_TOKEN


def client_argv(kind: str = "python") -> list[str]:
    """One socket-client process: `python`, bench/wsclients.py (picows), or `node`, Node's
    `ws` parsing every frame (bench/node/client.js, the cross-check); same stdin protocol."""
    if kind == "node":
        return [shutil.which("node") or "node", str(BENCH / "node" / "client.js")]
    return bench_module("wsclients")


def start_client_process(kind: str = "python") -> subprocess.Popen[bytes]:
    """One socket-client process, commanded over its stdin and answering on its stdout."""
    return subprocess.Popen(
        client_argv(kind),
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        preexec_fn=die_with_parent,
    )


class Clients:
    """A few socket-client processes, commanded in parallel over their stdin/stdout."""

    def __init__(self, count: int, kind: str = "python") -> None:
        self.procs = [start_client_process(kind) for _ in range(count)]
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
        self,
        url: str | list[str],
        proto: str,
        total: int,
        plan: Sequence[tuple[Any, ...]],
        track: bool = False,
    ) -> dict[str, Any]:
        """Open `total` sockets spread over the processes; socket i subscribes to each
        channel of `plan` whose bound is above i, a (channel, bound) pair, or from `lo` on,
        a (channel, lo, bound) triple (`track`: each keeps its last cursor). Given several
        urls, process i connects to the i-th (modulo their number)."""
        urls = [url] if isinstance(url, str) else url
        share, extra = divmod(total, len(self.procs))
        commands, offset = [], 0
        for i in range(len(self.procs)):
            count = share + (1 if i < extra else 0)
            commands.append(
                {"cmd": "open", "url": urls[i % len(urls)], "proto": proto, "token": ADMIN_TOKEN,
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

    def busiest(self, channel: str) -> int:
        """Followers of `channel` in the process that holds most of them (what one client
        process's own cost per frame is multiplied by)."""
        return max((s.get(channel, 0) for s in self.subscribed), default=0)

    def wait(self, seqs: list[int], channel: str, timeout: float) -> bool:
        """`wait_for` these events, all of one channel."""
        return self.wait_for(dict.fromkeys(seqs, channel), timeout)

    def wait_for(self, owed: dict[int, str], timeout: float) -> bool:
        """Until every process holds each event as often as it has followers of its channel
        (`owed`: event number -> channel), or `timeout`."""
        commands = [
            {"cmd": "wait", "expect": {str(s): mine.get(c, 0) for s, c in owed.items()},
             "timeout": timeout}
            for mine in self.subscribed
        ]  # fmt: skip
        return all(answer["done"] for answer in self.call(commands))

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
            if proc.stdout is not None:
                proc.stdout.close()


def received(reports: list[dict[str, Any]]) -> Counter[int]:
    """Per event number, how many sockets got it, over the processes' `report` answers."""
    got = Counter[int]()
    for report in reports:
        for number, entry in report["seqs"].items():
            got[int(number)] += int(entry[0])
    return got


def client_count(sockets: int) -> int:
    """One client process up to 1000 sockets, then two (one per core), more if the file
    limit asks for it."""
    if sockets <= 1000:
        return 1
    per_process = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 512
    return max(2, -(-sockets // per_process))
