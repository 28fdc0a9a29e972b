"""The bench's processes by pid: children that die with the orchestrator, CPU and RSS, settling.

Also where the bench lives (`BENCH`, `ROOT`) and how a bench module runs as its own process
(`bench_module`): `python -m bench.<name>` from the repository root, so the child imports
its siblings as `bench.x` like the orchestrator does.
"""

from __future__ import annotations

import ctypes
import signal
import sys
import time
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def bench_module(name: str, *args: str) -> list[str]:
    """The argv that runs bench/<name>.py as a module; start it with `cwd=ROOT`."""
    return [sys.executable, "-m", f"bench.{name}", *args]


def die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """If the bench dies (even by SIGKILL), its servers get SIGTERM and stop cleanly."""
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def rss(pid: int) -> int:
    """Resident memory of one process in bytes (0 once it is gone)."""
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.NoSuchProcess:
        return 0


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


SETTLE_INTERVAL = 0.2


def settle(pids: list[int], *, busy: float = 0.15, limit: float = 10.0) -> float:
    """Wait until these processes use under `busy` of a core (or `limit` s); return seconds.

    Not zero: with thousands of sockets open, the bridge's pings (one per socket every 25 s)
    and its reaper keep a worker a few percent busy."""
    started = time.monotonic()
    interval = SETTLE_INTERVAL
    before = cpu_of(pids)
    while time.monotonic() - started < limit:
        time.sleep(interval)
        after = cpu_of(pids)
        if after - before < busy * interval:
            break
        before = after
    return time.monotonic() - started
