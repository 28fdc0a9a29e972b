"""What a run ran on, for its results: the machine, the socket capacity, the peer's versions."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from bench.clients import client_argv
from bench.procs import BENCH


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


def peer_versions(python: Path) -> dict[str, str]:
    code = (
        "import json, importlib.metadata as m; print(json.dumps({n: m.version(n) for n in "
        "['flask-socketio', 'python-socketio', 'python-engineio', 'simple-websocket', "
        "'gevent', 'gunicorn', 'redis']}))"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    versions: dict[str, str] = json.loads(done.stdout)
    return versions


def node_client() -> dict[str, str]:
    """What the cross-check's client is (bench/node/client.js), for results.json."""
    node = subprocess.run([client_argv("node")[0], "--version"], capture_output=True, text=True)
    ws = json.loads((BENCH / "node" / "node_modules" / "ws" / "package.json").read_text())
    return {
        "client": "bench/node/client.js: ws, JSON.parse of every frame",
        "node": node.stdout.strip(),
        "ws": ws["version"],
    }
