"""The servers under test, as subprocesses: the bridge, the bare-Flask baseline, the peer.

All three run under gunicorn with the bridge's own settings (`gunicorn_flags()` reads them
from bridge/serving.py): gevent workers, the same worker count, connections per worker,
keep-alive and timeouts, and the same access log (one line per request on stdout, the
bridge's format). The ingest scenario also runs a baseline without that log, to show what
the log alone costs. One valkey-server (the embedded one the bridge ships) on a loopback
port serves the bridge's stream and the peer's message queue.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Self

import psutil

from bench.loopback import free_port, request
from bench.procs import BENCH, ROOT, die_with_parent, rss

PEER_VENV = BENCH / ".peer-venv"
PEER_REQUIREMENTS = BENCH / "peer-requirements.txt"
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"  # noqa: S105 - loopback bench only
SECRET = "bench-secret-0123456789"  # noqa: S105 - loopback bench only


def gunicorn_flags(
    workers: int, *, access_log: bool = True, bridge_logger: bool = True
) -> list[str]:
    """The bridge's gunicorn settings (bridge/serving.py) as command-line flags.

    `bridge_logger` is the bridge's own access logger class; the peer's venv has no bridge
    package, so it logs the same format through gunicorn's default logger."""
    from bridge import serving

    flags = [
        "--worker-class", serving.worker_class,
        "--workers", str(workers),
        "--worker-connections", str(serving.worker_connections),
        "--timeout", str(serving.timeout),
        "--graceful-timeout", str(serving.graceful_timeout),
        "--keep-alive", str(serving.keepalive),
        "--forwarded-allow-ips", serving.forwarded_allow_ips,
        "--log-level", "warning",
    ]  # fmt: skip
    if serving.control_socket_disable:
        flags.append("--no-control-socket")
    if access_log:
        flags += ["--access-logfile", serving.accesslog]
        flags += ["--access-logformat", serving.access_log_format]
        if bridge_logger:
            flags += ["--logger-class", serving.logger_class]
    return flags


def ensure_peer_venv(log: Any = sys.stderr) -> Path:
    """bench/.peer-venv with bench/peer-requirements.txt from PyPI; rebuilt when they change."""
    python = PEER_VENV / "bin" / "python"
    stamp = PEER_VENV / ".requirements-sha256"
    digest = hashlib.sha256(PEER_REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    print(f"bench: creating {PEER_VENV} (Flask-SocketIO peer) from PyPI", file=log, flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(PEER_REQUIREMENTS)],
        check=True,
    )  # fmt: skip
    stamp.write_text(digest)
    return python


class Server:
    """A gunicorn master and its workers; `url`, `stop()`, CPU and memory of the workers."""

    name = "server"

    def __init__(self, work_dir: Path, workers: int = 2) -> None:
        self.port = free_port()
        self.work_dir = work_dir
        self.workers = workers
        self.log_path = work_dir / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIDGE_", "PEER_"))}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env["PORT"] = str(self.port)
        return env

    def cwd(self) -> Path:
        # Not the repository root: gunicorn would read its gunicorn.conf.py (the bridge's).
        return BENCH

    def start(self, timeout: float = 30.0) -> Self:
        return self.launch().ready(timeout)

    def launch(self) -> Self:
        """Start the process without waiting (servers start in parallel; `ready()` waits)."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv(), cwd=self.cwd(), env=self.env(), stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
            )  # fmt: skip
        return self

    def ready(self, timeout: float = 30.0) -> Self:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.process.returncode}:\n{self.log()}")
            if self._healthy() and len(self.worker_pids()) >= self.workers:
                return self
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not healthy within {timeout} s:\n{self.log()}")

    def _healthy(self) -> bool:
        try:
            status, _ = request("GET", self.url + "/healthz", timeout=1.0)
        except OSError:
            return False
        return status == 200

    def log(self, full: bool = False) -> str:
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")
        return text if full else text[-4000:]

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        try:
            children = psutil.Process(self.process.pid).children()
        except psutil.NoSuchProcess:
            return []
        return [c.pid for c in children if "valkey" not in c.name()]

    def pids(self) -> list[int]:
        return ([self.process.pid] if self.process else []) + self.worker_pids()

    def worker_rss(self) -> int:
        return sum(rss(pid) for pid in self.worker_pids())

    def stop(self, timeout: float = 30.0) -> float:
        """SIGTERM the master; seconds until it and every worker exited."""
        process, self.process = self.process, None
        if process is None:
            return 0.0
        started = time.monotonic()
        workers = [psutil.Process(pid) for pid in self._children(process)]
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        psutil.wait_procs(workers, timeout=max(0.1, timeout - (time.monotonic() - started)))
        return time.monotonic() - started

    @staticmethod
    def _children(process: subprocess.Popen[bytes]) -> list[int]:
        try:
            return [
                c.pid for c in psutil.Process(process.pid).children() if "valkey" not in c.name()
            ]
        except psutil.NoSuchProcess:
            return []


class Bridge(Server):
    name = "bridge"

    def __init__(self, work_dir: Path, redis_url: str, root: Path = ROOT, workers: int = 2):
        super().__init__(work_dir, workers)
        self.redis_url = redis_url
        self.root = root

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def cwd(self) -> Path:
        # `python -m bridge` imports the package from the working directory first, so a
        # patched copy of the tree (`python -m bench.run --bridge-root`) is what runs.
        return self.root

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "bridge", "serve"]

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(
            BRIDGE_DATA_DIR=str(self.work_dir / "data"),
            BRIDGE_ADMIN_TOKEN=ADMIN_TOKEN,
            BRIDGE_WORKERS=str(self.workers),
            BRIDGE_REDIS_URL=self.redis_url,
            BRIDGE_LOG_LEVEL="WARNING",
        )
        return env

    def create_endpoint(self, endpoint_id: str) -> None:
        body = {"id": endpoint_id, "provider": "github", "secret": SECRET}
        status, answer = request(
            "POST", self.url + "/api/endpoints", json.dumps(body).encode(),
            {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
        )  # fmt: skip
        if status not in (201, 409):
            raise RuntimeError(f"create endpoint {endpoint_id}: {status} {answer!r}")


class Baseline(Server):
    """The bare Flask handler (baseline_app.py); `access_log=False` is the one without the
    bridge's access log, the only setting it differs in."""

    def __init__(self, work_dir: Path, workers: int = 2, access_log: bool = True) -> None:
        self.name = "baseline" if access_log else "baseline-no-log"
        super().__init__(work_dir, workers)
        self.access_log = access_log

    def argv(self) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn",
            *gunicorn_flags(self.workers, access_log=self.access_log),
            "--bind", f"127.0.0.1:{self.port}", "--chdir", str(BENCH), "baseline_app:app",
        ]  # fmt: skip


class Peer(Server):
    name = "peer"

    def __init__(self, work_dir: Path, redis_url: str, python: Path, workers: int = 2) -> None:
        super().__init__(work_dir, workers)
        self.redis_url = redis_url
        self.python = python

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/socket.io/?EIO=4&transport=websocket"

    def argv(self) -> list[str]:
        return [
            str(self.python), "-m", "gunicorn",
            *gunicorn_flags(self.workers, bridge_logger=False),
            "--bind", f"127.0.0.1:{self.port}", "--chdir", str(BENCH), "peer_app:app",
        ]  # fmt: skip

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(PEER_REDIS_URL=self.redis_url, PEER_TOKEN=ADMIN_TOKEN, PEER_SECRET=SECRET)
        return env
