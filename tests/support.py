"""Real processes for the tests: a bridge under gunicorn, and WebSocket clients."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import websocket
from flask import Flask

from bench.loopback import free_port as free_port  # the tests import it from here
from bridge import keys
from bridge.providers import get as provider

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "test-admin-token-0123456789"
# What int() takes as a number and the bridge must not (bridge/numbers.py): Arabic-Indic and
# fullwidth digits, a digit separator, whitespace around, a `+`, and more digits than any
# setting or parameter could hold (int() refuses past 4,300, after quadratic work).
NOT_WHOLE = [
    pytest.param("\u0661\u0662", id="arabic-indic"),
    pytest.param("\uff11\uff12", id="fullwidth"),
    pytest.param("1_0", id="underscore"),
    pytest.param(" 5", id="leading-space"),
    pytest.param("5\n", id="trailing-newline"),
    pytest.param("\t5", id="tab"),
    pytest.param("+5", id="plus"),
    pytest.param("1" + "0" * 400, id="10**400"),
    pytest.param("9" * 100_000, id="100000-digits"),
]


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        time.sleep(interval)


def metric(bridge: BridgeProcess, sample: str) -> float:
    """One sample of the bridge's /metrics, named as exposed (labels included, in their
    declared order); 0 when it is absent (a counter nobody has touched yet)."""
    text = requests.get(bridge.url + "/metrics", timeout=5).text
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == sample:
            return float(value)
    return 0.0


def channel_subscribers(client: redis.Redis, endpoint: str) -> int:
    """How many hubs subscribe the endpoint's events channel on this server."""
    channel = keys.events_shard(endpoint)
    return int(dict(client.pubsub_numsub(channel))[channel.encode()])


def stream_entries(client: redis.Redis, key: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Every entry of a Redis stream, as a client without `decode_responses` returns it."""
    entries = []
    for entry_id, fields in client.xrange(key) or []:
        assert isinstance(entry_id, bytes), entry_id
        assert fields is not None, entry_id
        entries.append((entry_id, {_raw(name): _raw(value) for name, value in fields.items()}))
    return entries


def _raw(value: bytes | str) -> bytes:
    assert isinstance(value, bytes), value
    return value


class BridgeProcess:
    """`bridge serve` (gunicorn, gevent workers) as a subprocess on a free port."""

    def __init__(
        self, data_dir: Path, redis_url: str | None, *, port: int | None = None, **env: str
    ) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        self.log_path = data_dir / "bridge.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")},
            "PORT": str(self.port),
            "BRIDGE_DATA_DIR": str(data_dir),
            "BRIDGE_ADMIN_TOKEN": ADMIN_TOKEN,
            "BRIDGE_WORKERS": "2",
            **env,
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        if redis_url:
            self.env["BRIDGE_REDIS_URL"] = redis_url
        self.process: subprocess.Popen[bytes] | None = None
        self.token = ADMIN_TOKEN

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> BridgeProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv(),
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        try:
            wait_until(self._healthy, timeout=30)
        except BaseException:
            self.stop(signal.SIGKILL)
            raise
        self.token = self.env["BRIDGE_ADMIN_TOKEN"] or (
            (self.data_dir / "admin-token").read_text().strip()
        )
        return self

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "bridge", "serve"]

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"bridge exited {self.process.returncode}:\n{self.log()}")
        try:
            return requests.get(self.url + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:  # not listening yet, or busy booting
            return False

    def children(self) -> list[tuple[Any, str]]:
        """(psutil.Process, name) of each live child: gunicorn's workers, the embedded
        valkey-server. A child listed a moment ago may be gone by its name() (one a test
        just killed): it is left out."""
        import psutil

        assert self.process is not None
        found = []
        for child in psutil.Process(self.process.pid).children():
            with contextlib.suppress(psutil.NoSuchProcess):
                found.append((child, child.name()))
        return found

    def worker_pids(self) -> list[int]:
        return [child.pid for child, name in self.children() if "valkey" not in name]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        process, self.process = self.process, None
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"bridge did not stop within {timeout} s:\n{self.log()}") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- the admin API -------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def create_endpoint(
        self,
        endpoint_id: str,
        provider_name: str = "github",
        secret: str = "test-secret-123456",
        **extra: Any,
    ) -> dict[str, Any]:
        body = {"id": endpoint_id, "provider": provider_name, "secret": secret, **extra}
        answer = self.api("POST", "/api/endpoints", json=body)
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created

    def post_signed(
        self,
        endpoint_id: str,
        body: bytes,
        *,
        provider_name: str = "github",
        secret: str = "test-secret-123456",
        event_id: str | None = None,
        event_type: str = "push",
    ) -> requests.Response:
        headers = provider(provider_name).sign(
            body, secret, now=time.time(), event_id=event_id, event_type=event_type
        )
        headers.setdefault("Content-Type", "application/json")
        return requests.post(
            f"{self.url}/hooks/{endpoint_id}", data=body, headers=headers, timeout=10
        )


class Client:
    """A real WebSocket client speaking the bridge's JSON frames."""

    def __init__(
        self,
        url: str,
        token: str | None = ADMIN_TOKEN,
        *,
        origin: str | None = None,
        header_auth: bool = True,
        expect_auth: bool = True,
        **options: Any,
    ) -> None:
        headers = [f"Authorization: Bearer {token}"] if token and header_auth else []
        self.ws = websocket.create_connection(
            url,
            header=headers,
            origin=origin,
            timeout=10,
            suppress_origin=origin is None,
            **options,
        )
        if token and not header_auth:
            self.send({"type": "auth", "token": token})
            if expect_auth:
                assert self.recv()["type"] == "authed"

    def send(self, frame: Mapping[str, Any] | str) -> None:
        self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        self.ws.settimeout(timeout)
        opcode, data = self.ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
            raise ConnectionClosedError(code, data[2:].decode(errors="replace"))
        message: dict[str, Any] = json.loads(data)
        return message

    def subscribe(self, channel: str, **extra: Any) -> dict[str, Any]:
        self.send({"type": "subscribe", "channel": channel, **extra})
        answer = self.recv()
        assert answer["type"] == "subscribed", answer
        return answer

    def events(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The next `count` event frames' envelopes, failing on any other frame."""
        received = []
        for _ in range(count):
            frame = self.recv(timeout)
            assert frame["type"] == "event", frame
            received.append(frame["event"])
        return received

    def until_close(
        self, max_frames: int = 1000, timeout: float = 10.0
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Every frame up to the server's close frame, and its close code."""
        frames = []
        for _ in range(max_frames):
            try:
                frames.append(self.recv(timeout))
            except ConnectionClosedError as closed:
                return frames, closed.code
        raise AssertionError(f"no close frame among {max_frames} frames")

    def close_code(self, timeout: float = 10.0) -> int | None:
        """Read until the server closes; return its close code."""
        try:
            while True:
                self.recv(timeout)
        except ConnectionClosedError as closed:
            return closed.code
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            return None

    def close(self) -> None:
        with contextlib.suppress(websocket.WebSocketException, OSError):
            self.ws.close(timeout=1)
        # Frees the socket even when the server closed first (websocket-client leaves
        # shutdown() unannotated).
        self.ws.shutdown()  # type: ignore[no-untyped-call]


Connect = Callable[..., Client]


def server_side(bridge: BridgeProcess, client: Client) -> tuple[int, int] | None:
    """(worker pid, descriptor number) of the server side of this client's TCP connection."""
    import psutil

    sock = client.ws.sock
    assert sock is not None, "client not connected"
    local_port = sock.getsockname()[1]
    for pid in bridge.worker_pids():
        for conn in psutil.Process(pid).net_connections(kind="tcp"):
            if conn.raddr and conn.raddr.port == local_port:
                return pid, conn.fd
    return None


def unread_by_redis(redis_port: int, client_port: int) -> int:
    """Bytes a client on `client_port` sent that Redis (on loopback `redis_port`) has not
    read yet: its socket's receive queue, from /proc/net/tcp. With Redis stopped (SIGSTOP)
    this is how a test sees a command go out that nothing can answer yet."""
    wanted = f"0100007F:{redis_port:04X}", f":{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted[0] and fields[2].endswith(wanted[1]):
            return int(fields[4].split(":")[1], 16)
    raise AssertionError(f"no connection from port {client_port} to Redis on {redis_port}")


def socket_owner(bridge: BridgeProcess, client: Client) -> int | None:
    """The gunicorn worker holding the server side of this client's TCP connection."""
    found = server_side(bridge, client)
    return found[0] if found else None


def client_per_worker(bridge: BridgeProcess, connect: Connect, *channels: str) -> dict[int, Client]:
    """One client subscribed to `channels` on each worker, by worker pid."""
    workers = set(bridge.worker_pids())
    by_worker: dict[int, Client] = {}
    for _ in range(60):  # the kernel picks the accepting worker; open until each holds one
        client = connect(bridge)
        for channel in channels:
            client.subscribe(channel)
        pid = wait_until(lambda c=client: socket_owner(bridge, c), timeout=5)
        by_worker.setdefault(pid, client)
        if set(by_worker) == workers:
            return by_worker
    raise AssertionError(f"60 clients did not reach all of the workers {sorted(workers)}")


MakeApp = Callable[..., Flask]  # the make_app fixture: Settings fields by keyword


class ConnectionClosedError(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code} {reason}")
        self.code = code
        self.reason = reason


def frames_until(client: Client, done: Any) -> list[dict[str, Any]]:
    """Every frame up to and including the first for which `done(frame)` is true."""
    frames = []
    while True:
        frames.append(client.recv(15))
        if done(frames[-1]):
            return frames


def events_through(client: Client, last: str) -> list[str]:
    """The ids of the event frames this client gets until `last`, then until the pong to a
    ping sent after it: events queued behind `last` (duplicates, say) are counted too."""
    ids: list[str] = []
    while last not in ids:
        ids.extend(e["id"] for e in client.events(1, timeout=15))
    client.send({"type": "ping"})
    while (frame := client.recv(15))["type"] != "pong":
        assert frame["type"] == "event", frame
        ids.append(frame["event"]["id"])
    return ids


def deliver(bridge: BridgeProcess, endpoint: str, payload: bytes = b"{}") -> requests.Response:
    """One signed webhook with a fresh provider event id."""
    return bridge.post_signed(endpoint, payload, event_id=uuid.uuid4().hex)


def burst(bridge: BridgeProcess, endpoint: str, count: int, pad: int = 0) -> list[int]:
    """`count` signed webhooks (each `pad` bytes bigger) posted all at once from as many
    threads; their statuses."""
    from concurrent.futures import ThreadPoolExecutor

    def post(n: int) -> int:
        body = json.dumps({"n": n, "pad": "x" * pad} if pad else {"n": n}).encode()
        return bridge.post_signed(endpoint, body, event_id=f"burst-{n}").status_code

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(post, range(count)))


class RawSocket:
    """A WebSocket spoken by hand over a plain TCP socket, after a real upgrade handshake:
    for frames no client library would send (a header that lies, a frame left half-sent)."""

    def __init__(self, bridge: BridgeProcess, token: str | None = ADMIN_TOKEN) -> None:
        self.sock = socket.create_connection(("127.0.0.1", bridge.port), timeout=10)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.sock.sendall(
            (
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{bridge.port}\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                f"Sec-WebSocket-Version: 13\r\n{auth}\r\n"
            ).encode()
        )
        self._buffer = b""
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += self._recv()
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionClosedError(None, "connection dropped")
        return data

    def _take(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._buffer += self._recv()
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    @staticmethod
    def header(length: int, opcode: int = 0x1, *, fin: bool = True) -> bytes:
        """A masked client frame header (with its masking key) declaring `length` bytes."""
        first = (0x80 if fin else 0) | opcode
        if length < 126:
            return bytes((first, 0x80 | length)) + MASK
        if length < 65536:
            return bytes((first, 0x80 | 126)) + length.to_bytes(2, "big") + MASK
        return bytes((first, 0x80 | 127)) + length.to_bytes(8, "big") + MASK

    @classmethod
    def frame(cls, payload: bytes, opcode: int = 0x1, *, fin: bool = True) -> bytes:
        masked = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
        return cls.header(len(payload), opcode, fin=fin) + masked

    def read_frame(self) -> tuple[int, bytes]:
        """The next server frame: (opcode, payload)."""
        first, second = self._take(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(self._take(2), "big")
        elif length == 127:
            length = int.from_bytes(self._take(8), "big")
        return first & 0x0F, self._take(length)

    def close_code(self, answer_pings: bool = False, max_frames: int = 100) -> tuple[int, str]:
        """Read until the server's close frame (answering pings if told); its (code, reason)."""
        for _ in range(max_frames):
            opcode, payload = self.read_frame()
            if opcode == 0x8:
                return int.from_bytes(payload[:2], "big"), payload[2:].decode()
            if opcode == 0x9 and answer_pings:
                self.send(self.frame(payload, 0xA))
        raise AssertionError(f"no close frame among {max_frames} frames")

    def close(self) -> None:
        self.sock.close()


MASK = b"\x11\x22\x33\x44"


def spread_history(
    bridge: BridgeProcess, client: redis.Redis, endpoint: str, count: int, gap_ms: int
) -> list[str]:
    """`count` real deliveries to `endpoint`, whose stream ids are then rewritten to lie
    `gap_ms` apart, ending a minute ago (the stream is rewritten before anyone subscribes).
    Returns the new cursors, oldest first."""
    from bridge import keys

    for n in range(count):
        body = json.dumps({"n": n}).encode()
        answer = bridge.post_signed(endpoint, body, event_id=f"spread-{n}")
        assert answer.status_code == 202, answer.text
    key = keys.stream(endpoint)
    entries = stream_entries(client, key)
    assert len(entries) == count
    start = int(time.time() * 1000) - 60_000 - count * gap_ms
    cursors = [f"{start + n * gap_ms}-0" for n in range(count)]
    with client.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        for cursor, (_, fields) in zip(cursors, entries, strict=True):
            pipe.xadd(key, fields, id=cursor)  # type: ignore[arg-type]
        pipe.execute()
    return cursors


def exchange(bridge: BridgeProcess, request: bytes, *, half_close: bool = False) -> bytes:
    """Send raw bytes (then end our side, with `half_close`), read the answer until the
    server closes."""
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=10) as conn:
        conn.sendall(request)
        if half_close:
            conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer
