"""X-Forwarded-* from a client that is not a trusted proxy change nothing; from a trusted
one (BRIDGE_TRUSTED_PROXIES) they apply. Real gunicorn, real HTTP and WebSockets."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest
import requests
import websocket

from tests.support import BridgeProcess, exchange, wait_until

FORGED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "https",
}

pytestmark = pytest.mark.gunicorn


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    """A bridge with no trusted proxy (the default)."""
    process = BridgeProcess(tmp_path_factory.mktemp("direct"), None).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    """A bridge behind one trusted proxy (the test client plays it)."""
    process = BridgeProcess(
        tmp_path_factory.mktemp("proxied"),
        None,
        BRIDGE_TRUSTED_PROXIES="1",
    ).start()
    yield process
    process.stop()


def _urls(bridge: BridgeProcess, endpoint_id: str) -> tuple[str, str]:
    created = bridge.api(
        "POST", "/api/endpoints", json={"id": endpoint_id, "provider": "github"}, headers=FORGED
    )
    assert created.status_code == 201, created.text
    shown = bridge.api("GET", f"/api/endpoints/{endpoint_id}", headers=FORGED)
    return created.json()["url"], shown.json()["url"]


def _ws_status(bridge: BridgeProcess, origin: str) -> int:
    forged = FORGED.items()
    try:
        ws = websocket.create_connection(
            bridge.ws_url,
            header=[f"Authorization: Bearer {bridge.token}", *(f"{k}: {v}" for k, v in forged)],
            origin=origin,
            timeout=10,
        )
    except websocket.WebSocketBadStatusException as refused:
        return int(refused.status_code)
    ws.close()
    return 101


def _logged_client(bridge: BridgeProcess, path: str) -> str:
    """The client address the access log gives for the last request to `path` (a path of
    its own, so the line is this request's; the log leaves out query strings)."""
    line = wait_until(
        lambda: next((x for x in reversed(bridge.log().splitlines()) if f' {path}"' in x), None)
    )
    return str(line.split()[0])


def test_forged_forwarded_headers_change_nothing(direct: BridgeProcess, uid: str) -> None:
    """Without a trusted proxy, forged X-Forwarded-* leave the webhook URL, the Origin check
    and the logged client address as the real connection has them."""
    assert _urls(direct, uid) == (f"{direct.url}/hooks/{uid}",) * 2
    assert _ws_status(direct, "https://evil.example") == 403
    assert _ws_status(direct, direct.url) == 101
    requests.get(direct.url + "/direct-probe?token=not-for-logs", headers=FORGED, timeout=10)
    assert _logged_client(direct, "/direct-probe") == "127.0.0.1"
    assert "not-for-logs" not in direct.log()


def test_trusted_proxy_headers_apply(proxied: BridgeProcess, uid: str) -> None:
    """With BRIDGE_TRUSTED_PROXIES=1 the same headers give the URL, origin and client address."""
    assert _urls(proxied, uid) == (f"https://evil.example/hooks/{uid}",) * 2
    assert _ws_status(proxied, "https://evil.example") == 101
    requests.get(proxied.url + "/proxied-probe", headers=FORGED, timeout=10)
    assert _logged_client(proxied, "/proxied-probe") == "203.0.113.9"


def _with_host(bridge: BridgeProcess, path: str, host: str, **headers: str) -> tuple[int, str]:
    """GET `path` with exactly this Host header (http.client sends it as given)."""
    connection = http.client.HTTPConnection("127.0.0.1", bridge.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=True)
        for name, value in {
            "Host": host,
            "Authorization": f"Bearer {bridge.token}",
            **headers,
        }.items():
            connection.putheader(name, value)
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


NOT_HOST_PORT = [
    *("a b", "evil.example/x", "127.0.0.1:99999", "127.0.0.1:abc", "[::1", "", "x, y"),
    *("127.0.0.1:80:80", "a..b", ".a.example", "a.example:"),
]


@pytest.mark.parametrize("host", NOT_HOST_PORT)
def test_a_host_that_is_not_host_port_is_400(direct: BridgeProcess, uid: str, host: str) -> None:
    """A Host header that is not `host[:port]` is a 400 naming it, never an answer holding
    a webhook URL built without a host (`http:/hooks/<id>`)."""
    created = direct.api("POST", "/api/endpoints", json={"id": uid, "provider": "github"})
    assert created.status_code == 201, created.text
    for path in (f"/api/endpoints/{uid}", "/api/endpoints", "/api/openapi.json", f"/hooks/{uid}"):
        status, body = _with_host(direct, path, host)
        assert status == 400, (path, status, body[:200])
        answer = json.loads(body)
        assert answer["error"] == "bad_request"
        assert "Host header" in answer["message"]
    assert "Traceback" not in direct.log()


def test_an_http_1_1_request_without_host_is_400_and_an_http_1_0_one_is_served(
    direct: BridgeProcess,
) -> None:
    """An HTTP/1.1 request that sends no Host is a 400 naming the header (RFC 9112 3.2); an
    HTTP/1.0 one, which has none to send, is answered."""
    answer = exchange(direct, b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer[:200]
    refused = json.loads(body)
    assert refused["error"] == "bad_request"
    assert "Host header" in refused["message"]
    answer = exchange(direct, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 200 ") or answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert "Traceback" not in direct.log()


def test_a_proxy_port_past_65535_is_400_not_a_url_without_host(
    proxied: BridgeProcess, uid: str
) -> None:
    """Behind a trusted proxy, an X-Forwarded-Port out of range or an X-Forwarded-Host that
    is not a host is a 400 saying so; a good pair still gives the endpoint's URL."""
    created = proxied.api("POST", "/api/endpoints", json={"id": uid, "provider": "github"})
    assert created.status_code == 201, created.text
    path = f"/api/endpoints/{uid}"
    for forwarded in (
        {"X-Forwarded-Host": "bridge.example", "X-Forwarded-Port": "99999"},
        {"X-Forwarded-Host": "bridge.example", "X-Forwarded-Port": "https"},
        {"X-Forwarded-Host": "bridge example"},
    ):
        status, body = _with_host(proxied, path, "127.0.0.1", **forwarded)
        assert status == 400, (forwarded, body[:200])
        assert "X-Forwarded-Host" in json.loads(body)["message"]
    good = {"X-Forwarded-Host": "bridge.example", "X-Forwarded-Port": "8443"}
    status, body = _with_host(proxied, path, "127.0.0.1", **good)
    assert status == 200, body[:200]
    assert json.loads(body)["url"] == f"http://bridge.example:8443/hooks/{uid}"


def test_a_proxy_scheme_is_read_in_lower_case_and_only_http_or_https(
    proxied: BridgeProcess, uid: str
) -> None:
    """A trusted proxy's `X-Forwarded-Proto: HTTPS` is https (its default port left out of
    the URL, the Origin check passed); a scheme other than http or https is a 400 naming it."""
    created = proxied.api("POST", "/api/endpoints", json={"id": uid, "provider": "github"})
    assert created.status_code == 201, created.text
    path = f"/api/endpoints/{uid}"
    upper = {
        "X-Forwarded-Host": "bridge.example",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "HTTPS",
    }
    status, body = _with_host(proxied, path, "127.0.0.1", **upper)
    assert status == 200, body[:200]
    assert json.loads(body)["url"] == f"https://bridge.example/hooks/{uid}"
    ws = websocket.create_connection(
        proxied.ws_url,
        header=[f"Authorization: Bearer {proxied.token}", *(f"{k}: {v}" for k, v in upper.items())],
        origin="https://bridge.example",
        timeout=10,
    )
    ws.close()
    for scheme in ("javascript", "ftp", "http:"):
        forwarded = {"X-Forwarded-Host": "bridge.example", "X-Forwarded-Proto": scheme}
        status, body = _with_host(proxied, path, "127.0.0.1", **forwarded)
        assert status == 400, (scheme, body[:200])
        assert "X-Forwarded-Proto" in json.loads(body)["message"]


@pytest.mark.parametrize(
    ("host", "base"),
    [("webhook_bridge:8000", "http://webhook_bridge:8000"), ("Bridge_1:80", "http://bridge_1")],
)
def test_a_host_with_an_underscore_is_taken_as_sent(
    direct: BridgeProcess, uid: str, host: str, base: str
) -> None:
    """A Host with an underscore (a docker-compose service name), which a URI allows and
    werkzeug reads as no host, gives the endpoint's webhook URL with it."""
    created = direct.api("POST", "/api/endpoints", json={"id": uid, "provider": "github"})
    assert created.status_code == 201, created.text
    status, body = _with_host(direct, f"/api/endpoints/{uid}", host)
    assert status == 200, body[:200]
    assert json.loads(body)["url"] == f"{base}/hooks/{uid}"
