"""What every scenario measures with: event numbers, py-spy windows, the timestamped log."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path


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
