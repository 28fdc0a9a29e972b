"""Helpers for the CLI tests: run `python -m bridge ...` for real, follow a long-running
`bridge listen`, and a local app (`Receiver`) that verifies GitHub signatures itself."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any

from tests.support import ADMIN_TOKEN, ROOT, BridgeProcess

SECRET = "test-secret-123456"
WAIT = 20.0  # seconds any wait in these tests may take before it fails


def cli_env(token: str | None = ADMIN_TOKEN, **extra: str) -> dict[str, str]:
    """The caller's environment without any BRIDGE_* setting, plus the admin token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    for name in ("GITHUB_TOKEN", "GITHUB_API_URL", "STRIPE_API_KEY", "STRIPE_API_BASE"):
        env.pop(name, None)
    if token is not None:
        env["BRIDGE_ADMIN_TOKEN"] = token
    return {**env, **extra}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args],
        cwd=ROOT,
        env=cli_env() if env is None else env,
        stdin=subprocess.DEVNULL,  # never the terminal pytest runs in: `delete` would ask
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    """Run a command that must succeed; its stdout."""
    result = run(*args, env=env)
    assert result.returncode == 0, result
    return result.stdout


def as_json(*args: str, env: dict[str, str] | None = None) -> Any:
    return json.loads(ok(*args, "--json", env=env))


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """Assert the command failed with exit 1 and exactly one `bridge: ...` line on stderr."""
    assert result.returncode == 1, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bridge: "), lines
    assert "Traceback" not in result.stderr
    return lines[0]


def events(bridge: BridgeProcess, endpoint_id: str) -> list[dict[str, Any]]:
    answer = bridge.api("GET", f"/api/endpoints/{endpoint_id}/events?limit=1000")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["events"]
    return found


def deliver(
    bridge: BridgeProcess, endpoint_id: str, body: bytes, secret: str = SECRET
) -> tuple[str, str]:
    """Post one signed GitHub delivery with a fresh delivery id; (its cursor, that id)."""
    delivery = str(uuid.uuid4())
    answer = bridge.post_signed(endpoint_id, body, secret=secret, event_id=delivery)
    assert answer.status_code == 202, answer.text
    return answer.json()["id"], delivery


def post(bridge: BridgeProcess, endpoint_id: str, count: int) -> list[str]:
    """Post `count` signed GitHub deliveries with bodies {"n": 0...}; their cursors."""
    return [deliver(bridge, endpoint_id, json.dumps({"n": n}).encode())[0] for n in range(count)]


class Listener:
    """`bridge listen` as a subprocess; two threads collect its stdout and stderr lines."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bridge", "listen", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self._pumps = [
            threading.Thread(target=self._pump, args=(stream, lines), daemon=True)
            for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err))
        ]
        for pump in self._pumps:
            pump.start()

    def _pump(self, stream: IO[str], lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(
        self,
        lines: list[str],
        match: str | Callable[[str], bool],
        count: int = 1,
        timeout: float = WAIT,
    ) -> list[str]:
        """Wait until `count` lines match (a substring, or a predicate); return those lines."""
        predicate = match if callable(match) else (lambda line: match in line)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in lines if predicate(line)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no {count} lines matching {match!r} within {timeout} s\n"
                        f"stdout: {self.out}\nstderr: {self.err}\nexit: {self.process.poll()}"
                    )
                self._changed.wait(min(left, 0.5))

    def started(self) -> None:
        """Wait until it has subscribed: events posted from now on reach it."""
        self.wait_for(self.err, "listening to")

    def interrupt(self, sig: int = signal.SIGINT) -> int:
        """Ctrl-C (or another signal that should stop it as cleanly); the exit status."""
        self.process.send_signal(sig)
        return self.finish()

    def kill(self) -> int:
        """kill -9; the exit status."""
        self.process.send_signal(signal.SIGKILL)
        return self.finish()

    def finish(self, timeout: float = 15) -> int:
        code = self.process.wait(timeout)
        for pump in self._pumps:
            pump.join(timeout)
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.finish()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


Listen = Callable[..., Listener]


class Listeners:
    """Start `bridge listen` subprocesses (for a fixture that stops them all afterwards)."""

    def __init__(self) -> None:
        self.started: list[Listener] = []

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Listener:
        listener = Listener(list(args), cli_env() if env is None else env)
        self.started.append(listener)
        return listener

    def close(self) -> None:
        for listener in self.started:
            listener.close()


# -- a local app that verifies what it is sent ----------------------------------------------


def github_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Received:
    """One request as the app got it: raw bytes, headers (lower-case names), its answer."""

    number: int
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    status: int
    at: float

    @property
    def delivery(self) -> str:
        return self.headers.get("x-github-delivery", "")


class Receiver:
    """An app on 127.0.0.1 that checks GitHub's signature by GitHub's rules: HMAC-SHA256 of
    the raw bytes it received, compared with hmac.compare_digest; 200 when it matches, 401
    otherwise. `statuses` overrides the answers to the first requests; the `hold_at`-th
    request waits for `release` (the test kills the sender meanwhile) and is answered 503,
    that is, not taken."""

    def __init__(
        self,
        secret: str = SECRET,
        *,
        port: int = 0,
        statuses: Sequence[int] = (),
        hold_at: int | None = None,
    ) -> None:
        self.secret = secret
        self.statuses = list(statuses)
        self.hold_at = hold_at
        self.holding = threading.Event()
        self.release = threading.Event()
        self.requests: list[Received] = []
        self._changed = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks"

    def accepted(self) -> list[Received]:
        """The requests the app took (answered 2xx), in order."""
        with self._changed:
            return [r for r in self.requests if 200 <= r.status < 300]

    def wait_accepted(self, count: int, timeout: float = WAIT) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(taken := [r for r in self.requests if 200 <= r.status < 300]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(taken)} of {count} accepted: {self.requests}")
                self._changed.wait(min(left, 0.5))
            return taken

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        expected = github_signature(self.secret, body)
        given = headers.get("x-hub-signature-256", "")
        signature_ok = hmac.compare_digest(expected.encode(), given.encode())
        with self._changed:
            number = len(self.requests) + 1
            scripted = self.statuses.pop(0) if self.statuses else None
        if number == self.hold_at:
            self.holding.set()
            self.release.wait(WAIT)
            status = 503
        elif scripted is not None:
            status = scripted
        else:
            status = 200 if signature_ok else 401
        received = Received(number, path, headers, body, signature_ok, status, time.monotonic())
        with self._changed:
            self.requests.append(received)
            self._changed.notify_all()
        return status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._answer(self.path, headers, body)
                answer = json.dumps({"status": status}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:  # the sender is gone (killed while this one was held)
                    return

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


class FakeBridge:
    """A server on 127.0.0.1 that answers admin API routes with fixed JSON of any shape, as
    something that is not a bridge may: `answers` maps "METHOD /path" (no query) to the JSON
    answered 200; any other request is 404 unknown_endpoint, as a bridge answers for an
    endpoint it does not have."""

    def __init__(self, answers: Mapping[str, Any]) -> None:
        self.answers = dict(answers)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        answers = self.answers

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                route = f"{self.command} {self.path.partition('?')[0]}"
                status, answer = (
                    (200, answers[route])
                    if route in answers
                    else (404, {"error": "unknown_endpoint"})
                )
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
