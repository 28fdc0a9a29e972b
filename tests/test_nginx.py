"""The nginx server block of docs/deployment.md, run in Debian's real nginx in front of a real
gunicorn bridge, over TLS with a certificate made here: what breaks first behind a proxy
(upgrades, timeouts, forwarded headers, HTML error pages) is what these tests exercise."""

from __future__ import annotations

import contextlib
import datetime
import http.client
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bridge.providers import get as provider
from tests.support import ROOT, BridgeProcess, Client, free_port, wait_until

pytestmark = [
    pytest.mark.gunicorn,
    pytest.mark.skipif(
        shutil.which("nginx") is None,
        reason="nginx is not installed (.ci/run installs Debian's nginx-light)",
    ),
]

READ_TIMEOUT = 3  # proxy_read_timeout in the test, for the documented 75 s
SECRET = "test-secret-123456"


def documented_block() -> str:
    """The nginx block docs/deployment.md shows, as written there."""
    text = (ROOT / "docs" / "deployment.md").read_text()
    found = re.search(r"```nginx\n(upstream bridge .*?)```", text, re.S)
    assert found, "docs/deployment.md has no complete nginx block"
    return found.group(1)


def render(block: str, *, name: str, listen: int, upstream: int, cert: Path, key: Path) -> str:
    """The documented block with only its ports, certificate and read timeout changed."""
    changes = [
        (r"upstream bridge \{", f"upstream {name} {{"),
        (r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{upstream};"),
        (r"proxy_pass http://bridge;", f"proxy_pass http://{name};"),
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{listen} ssl http2;"),
        (r"ssl_certificate +\S+;", f"ssl_certificate {cert};"),
        (r"ssl_certificate_key +\S+;", f"ssl_certificate_key {key};"),
        (r"proxy_read_timeout 75s;", f"proxy_read_timeout {READ_TIMEOUT}s;"),
        (r"server_name \S+;", "server_name localhost;"),
    ]
    for pattern, replacement in changes:
        block, count = re.subn(pattern, replacement, block)
        assert count >= 1, f"the documented block no longer has {pattern!r}"
    return block


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Nginx:
    """Debian's nginx as a subprocess, with `servers` as its only server blocks."""

    def __init__(self, directory: Path, servers: str) -> None:
        self.directory = directory
        temps = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        for temp in temps:
            (directory / temp).mkdir(exist_ok=True)
        (directory / "nginx.conf").write_text(
            # As root, nginx's workers would run as nobody, who cannot enter pytest's tmp dir.
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"pid {directory}/nginx.pid;\nerror_log {directory}/error.log warn;\n"
            + "events { worker_connections 256; }\n"
            + f"http {{\n  access_log {directory}/access.log;\n"
            + "".join(f"  {t}_temp_path {directory}/{t};\n" for t in temps)
            + f"{servers}\n}}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *ports: int) -> Nginx:
        conf = str(self.directory / "nginx.conf")
        with (self.directory / "nginx.out").open("wb") as out:
            self.process = subprocess.Popen(
                ["nginx", "-p", str(self.directory), "-c", conf, "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=out,
            )
        wait_until(lambda: self._exited() or all(_listening(p) for p in ports))
        return self

    def _exited(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError("nginx exited: " + (self.directory / "nginx.out").read_text())
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGQUIT)  # graceful: open sockets are closed
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Proxied:
    """nginx on `port` in front of `bridge`; `slow` is nginx in front of a bridge that pings
    less often than nginx's read timeout."""

    port: int
    slow_port: int
    bridge: BridgeProcess
    cert: Path

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def ws(self, port: int | None = None, **options: object) -> Client:
        return Client(
            f"wss://localhost:{port or self.port}/ws",
            sslopt={"ca_certs": str(self.cert)},
            **options,  # type: ignore[arg-type]
        )

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.bridge.token}"}
        return requests.request(
            method, self.url + path, headers=headers, verify=str(self.cert), timeout=10, **kwargs
        )


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory, redis_server: object) -> Iterator[Proxied]:
    directory = tmp_path_factory.mktemp("nginx")
    redis_url = getattr(redis_server, "url")  # noqa: B009 - the session's EmbeddedRedis
    bridge = BridgeProcess(
        directory / "bridge", redis_url, BRIDGE_TRUSTED_PROXIES="1", BRIDGE_WS_PING_INTERVAL="1"
    ).start()
    slow = BridgeProcess(
        directory / "slow", redis_url, BRIDGE_TRUSTED_PROXIES="1", BRIDGE_WS_PING_INTERVAL="60"
    ).start()
    cert, key = make_certificate(directory)
    port, slow_port = free_port(), free_port()
    block = documented_block()
    servers = render(block, name="bridge", listen=port, upstream=bridge.port, cert=cert, key=key)
    servers += render(block, name="slow", listen=slow_port, upstream=slow.port, cert=cert, key=key)
    nginx = Nginx(directory, servers)
    try:
        nginx.start(port, slow_port)
        yield Proxied(port, slow_port, bridge, cert)
    finally:
        nginx.stop()
        bridge.stop()
        slow.stop()


def test_webhook_over_https_reaches_a_socket_over_wss(proxied: Proxied, uid: str) -> None:
    """Through nginx: the endpoint's URL is the public https one, a signed webhook is 202,
    and a wss socket from the bridge's own origin receives it."""
    created = proxied.api("POST", "/api/endpoints", json={"id": uid, "provider": "github",
                                                            "secret": SECRET})  # fmt: skip
    assert created.status_code == 201, created.text
    assert created.json()["url"] == f"{proxied.url}/hooks/{uid}"
    socket_ = proxied.ws(origin=proxied.url)
    try:
        socket_.subscribe(uid)
        body = b'{"through":"nginx"}'
        headers = provider("github").sign(body, SECRET, now=time.time(), event_id="via-nginx")
        answer = requests.post(
            f"{proxied.url}/hooks/{uid}", data=body, headers=headers, verify=str(proxied.cert),
            timeout=10,
        )  # fmt: skip
        assert answer.status_code == 202, answer.text
        (event,) = socket_.events(1)
        assert event["trace"] == answer.json()["trace"]
    finally:
        socket_.close()


def test_foreign_origin_is_refused_through_the_proxy(proxied: Proxied) -> None:
    """A forwarded host makes the bridge's own origin the public one, and only that one."""
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        proxied.ws(origin="https://evil.example")
    assert refused.value.status_code == 403


def test_client_address_is_the_one_nginx_saw_not_a_forged_one(proxied: Proxied, uid: str) -> None:
    """With one trusted proxy the logged client is the address nginx saw (127.0.0.2 here),
    even when the client sends an X-Forwarded-For of its own."""
    context = ssl.create_default_context(cafile=str(proxied.cert))
    conn = http.client.HTTPSConnection(
        "localhost", proxied.port, context=context, source_address=("127.0.0.2", 0), timeout=10
    )
    path = f"/probe-{uid}"
    conn.request("GET", path, headers={"X-Forwarded-For": "203.0.113.9"})
    assert conn.getresponse().status == 404
    conn.close()
    line = wait_until(
        lambda: next((x for x in proxied.bridge.log().splitlines() if f' {path}"' in x), None)
    )
    assert line.split()[0] == "127.0.0.2"


def test_body_over_the_limit_is_refused_by_nginx_as_json(proxied: Proxied, uid: str) -> None:
    """A body over client_max_body_size gets the bridge's JSON 413, not nginx's HTML page."""
    answer = requests.post(
        f"{proxied.url}/hooks/{uid}",
        data=b"x" * (25 * 1024 * 1024 + 1),
        verify=str(proxied.cert),
        timeout=30,
    )
    assert answer.status_code == 413
    assert answer.json() == {"error": "payload_too_large"}


def test_socket_outlives_the_proxy_read_timeout_thanks_to_pings(proxied: Proxied, uid: str) -> None:
    """A quiet socket stays open through nginx past its read timeout, since the bridge pings
    more often; behind the same block, a bridge that pings less often is cut by nginx."""
    bridge = proxied.bridge
    bridge.create_endpoint(uid, secret=SECRET)
    kept, cut = proxied.ws(origin=proxied.url), proxied.ws(port=proxied.slow_port)
    try:
        kept.subscribe(uid)
        cut.subscribe(uid)
        _idle([kept, cut], READ_TIMEOUT * 2.5)
        assert bridge.post_signed(uid, b'{"late":true}', event_id="late").status_code == 202
        (event,) = kept.events(1)
        assert event["event_id"] == "late"
        assert _cut(cut)
        assert not _cut(kept)
    finally:
        kept.close()
        cut.close()


def _idle(clients: list[Client], seconds: float) -> None:
    """Send nothing for `seconds`, but read, as a browser does: reading answers the bridge's
    pings with pongs, and there is nothing else to read."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        for client in clients:
            client.ws.settimeout(min(left, 0.2))
            with contextlib.suppress(
                websocket.WebSocketTimeoutException,
                OSError,
                websocket.WebSocketConnectionClosedException,
            ):
                frame = client.ws.recv()
                assert not frame, f"a frame while idle: {frame!r}"
    for client in clients:
        client.ws.settimeout(10)


def _cut(client: Client) -> bool:
    """Whether the connection is gone: a ping gets no pong but the end of the stream."""
    try:
        client.send({"type": "ping"})
        return bool(client.recv(timeout=5)["type"] != "pong")
    except (websocket.WebSocketConnectionClosedException, OSError):
        return True


def test_bridge_down_is_the_json_503_providers_retry_on(proxied: Proxied, tmp_path: Path) -> None:
    """With nothing listening upstream, nginx answers the documented JSON 503 with Retry-After."""
    cert, key = proxied.cert, proxied.cert.with_name("key.pem")
    port = free_port()
    block = render(documented_block(), name="down", listen=port, upstream=free_port(),
                   cert=cert, key=key)  # fmt: skip
    nginx = Nginx(tmp_path, block).start(port)
    try:
        answer = requests.post(
            f"https://localhost:{port}/hooks/any", data=b"{}", verify=str(cert), timeout=10
        )
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "5"
        assert json.loads(answer.text) == {"error": "unavailable", "reason": "unreachable"}
    finally:
        nginx.stop()
