"""The URL a request was made to, as its client wrote it (bridge/web/origin.py): Twilio's
signature over a percent-escaped query or a punycode host verifies, and a Host werkzeug
cannot turn into an IRI is never a 500 (before, after a write was made), against a real
bridge under gunicorn."""

from __future__ import annotations

import socket
import time
import urllib.parse

import pytest
import requests

from bridge.providers import get as provider
from tests.support import BridgeProcess

pytestmark = pytest.mark.gunicorn

# Each passes URI_HOST (letters, digits, `.-_~`, or `[` hex digits, `:` and `.` `]`), so the
# screening lets it through; werkzeug's URL building raises on each (UnicodeError from the
# idna codec, ValueError from urllib.parse's bracketed-host check).
# `xn--strae-oqa.de` is a real, valid host (straße.de, IDNA 2008) that Python's IDNA 2003
# codec refuses to round-trip.
UNBUILDABLE_HOSTS = ["xn--a", "xn--zz.example.com", "[1.2.3.4]", "[:]", "xn--strae-oqa.de"]
TWILIO_SECRET = "twilio-auth-token-0123"


@pytest.mark.parametrize("host", UNBUILDABLE_HOSTS)
def test_unbuildable_host_on_a_url_signing_endpoint_is_not_a_500(
    bridge: BridgeProcess, uid: str, host: str
) -> None:
    """A Host that passes the screening but that werkzeug's IRI building refuses gets 400
    (not an IP literal) or 401 (the forged signature), never a 500."""
    bridge.create_endpoint(f"tw-{uid}", "twilio", TWILIO_SECRET)
    answer = requests.post(
        f"{bridge.url}/hooks/tw-{uid}",
        data=b"MessageStatus=sent",
        headers={
            "Host": host,
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": "AAAA",
        },
        timeout=10,
    )
    # docs/api.md: a Host that is not host[:port] is `400 bad_request` on every route; a
    # forged signature is a 401. Today: 500 internal and a traceback per request.
    # Brackets round no IPv6 address are no host (400); the others are names (401: forged).
    expected = (400, "bad_request") if host.startswith("[") else (401, "invalid_signature")
    assert (answer.status_code, answer.json()["error"]) == expected, answer.text


@pytest.mark.parametrize("host", ["xn--a", "[1.2.3.4]"])
def test_unbuildable_host_does_not_answer_500_after_creating_an_endpoint(
    bridge: BridgeProcess, uid: str, host: str
) -> None:
    """Creating an endpoint with such a Host is refused before anything is made, or made
    and shown: never a 500 after the write."""
    created = bridge.api(
        "POST", "/api/endpoints", json={"id": f"h-{uid}", "provider": "github"},
        headers={"Host": host},
    )  # fmt: skip
    exists = bridge.api("GET", f"/api/endpoints/h-{uid}").status_code == 200
    # Either refused (400, nothing made) or made and shown (201): never a 500 that made it
    # anyway, whose generated secret the caller never saw, and whose retry is a 409.
    assert (created.status_code, exists) in ((400, False), (201, True)), (
        created.status_code,
        created.text,
        exists,
    )


def test_unbuildable_host_does_not_answer_500_after_adding_a_secret(
    bridge: BridgeProcess, uid: str
) -> None:
    """Adding a secret with such a Host is refused, or added and shown: never a 500 after it."""
    bridge.create_endpoint(f"s-{uid}")
    added = bridge.api(
        "POST", f"/api/endpoints/s-{uid}/secrets", json={}, headers={"Host": "xn--a"}
    )
    secrets = bridge.api("GET", f"/api/endpoints/s-{uid}").json()["secrets"]
    assert (added.status_code, len(secrets)) in ((400, 1), (201, 2)), (
        added.status_code,
        added.text,
        [s["id"] for s in secrets],
    )


# requests sends %7E as ~ (it unquotes unreserved characters), so no such case here.
@pytest.mark.parametrize("query", ["?Name=%C3%A9", "?city=S%C3%A3o+Paulo"])
def test_twilio_signature_over_a_percent_escaped_query_verifies(
    bridge: BridgeProcess, uid: str, query: str
) -> None:
    """A genuine Twilio delivery to a URL whose query holds percent-escapes verifies: the URL
    checked is the one sent, not werkzeug's decoded IRI."""
    bridge.create_endpoint(f"tq-{uid}", "twilio", TWILIO_SECRET)
    # The URL exactly as Twilio requests it (and signs it): percent-escapes kept.
    url = f"{bridge.url}/hooks/tq-{uid}{query}"
    body = urllib.parse.urlencode({"MessageStatus": "sent", "MessageSid": "SM1"}).encode()
    headers = provider("twilio").sign(body, TWILIO_SECRET, now=time.time(), options={"url": url})
    answer = requests.post(url, data=body, headers=headers, timeout=10)
    assert answer.status_code == 202, answer.text


def test_twilio_signature_on_an_internationalised_host_verifies(
    bridge: BridgeProcess, uid: str
) -> None:
    """A genuine Twilio delivery to a punycode host verifies against that host as sent."""
    bridge.create_endpoint(f"ti-{uid}", "twilio", TWILIO_SECRET)
    host = "xn--bcher-kva.example"  # bücher.example, as DNS, Host and Twilio write it
    url = f"http://{host}/hooks/ti-{uid}"
    body = b"MessageStatus=sent&MessageSid=SM7"
    headers = provider("twilio").sign(body, TWILIO_SECRET, now=time.time(), options={"url": url})
    answer = requests.post(
        f"{bridge.url}/hooks/ti-{uid}", data=body, headers={**headers, "Host": host}, timeout=10
    )
    assert answer.status_code == 202, answer.text


def raw_post(bridge: BridgeProcess, target: str, body: bytes, headers: dict[str, str]) -> bytes:
    """POST `target` exactly as written (requests would rewrite `%7E` as `~`); the status line."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{bridge.port}\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\n{head}\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=10) as sock:
        sock.sendall(request)
        return sock.makefile("rb").readline()


@pytest.mark.parametrize("form", ["origin", "absolute"])
def test_twilio_signature_over_the_request_line_as_sent_verifies(
    bridge: BridgeProcess, uid: str, form: str
) -> None:
    """A Twilio delivery whose URL holds `%7E` verifies against those bytes, whether the
    request line names the path (`/hooks/...`) or the whole URL (`http://host/hooks/...`)."""
    bridge.create_endpoint(f"tl-{uid}", "twilio", TWILIO_SECRET)
    url = f"{bridge.url}/hooks/tl-{uid}?x=%7E&y=%C3%A9"
    body = b"MessageStatus=sent&MessageSid=SM9"
    headers = provider("twilio").sign(body, TWILIO_SECRET, now=time.time(), options={"url": url})
    target = url if form == "absolute" else url.removeprefix(bridge.url)
    assert raw_post(bridge, target, body, headers).startswith(b"HTTP/1.1 202")


def raw_get(
    bridge: BridgeProcess, target: str, host: str | None = None, method: str = "GET"
) -> tuple[bytes, bytes]:
    """GET (or `method`) `target` as written, with the admin token; the status line and the
    body."""
    request = (
        f"{method} {target} HTTP/1.1\r\nHost: {host or f'127.0.0.1:{bridge.port}'}\r\n"
        f"Authorization: Bearer {bridge.token}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=10) as sock:
        sock.sendall(request)
        answer = sock.makefile("rb").read()
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0], body


@pytest.mark.parametrize(
    "target",
    ["//api/endpoints", "///api/endpoints", "//hooks/x", "http://127.0.0.1//api/endpoints"],
)
def test_a_path_with_leading_slashes_is_no_route(bridge: BridgeProcess, target: str) -> None:
    """werkzeug's matching dropped leading slashes (`//api/endpoints` was the endpoint list,
    past any rule a proxy keeps for `/api/`): such a path is a JSON 404 saying why."""
    status, body = raw_get(bridge, target)
    assert status.startswith(b"HTTP/1.1 404 "), status
    assert b'"error":"not_found"' in body
    assert b"starts with //" in body


@pytest.mark.parametrize(
    "target",
    ["/%2Fapi/endpoints", "/%2f%2Fapi/endpoints", "/api%2Fendpoints", "/hooks%2Fx", "/%2Fhooks/x"],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_path_with_an_encoded_slash_is_no_route(
    bridge: BridgeProcess, target: str, method: str
) -> None:
    """gunicorn decodes %2F into a slash before routing: `/%2Fapi/endpoints` was the endpoint
    list (and a signed POST to `/%2Fhooks/x` stored) past a proxy's rule for `/api/` or
    `/hooks/`, as it reads the path. Such a path is a JSON 404 saying why, on every route."""
    status, body = raw_get(bridge, target, method=method)
    assert status.startswith(b"HTTP/1.1 404 "), status
    assert b'"error":"not_found"' in body
    assert b"encoded slash" in body


@pytest.mark.parametrize(
    "target",
    [
        "http://a:99999/api/endpoints",
        "http://ev%20il/api/endpoints",
        "http://a..b/api/endpoints",
        "ftp://a/api/endpoints",
    ],
)
def test_an_absolute_target_of_no_http_authority_is_400(bridge: BridgeProcess, target: str) -> None:
    """The authority of an absolute-form target replaces Host (RFC 9112 3.2.2), so it is held
    to the Host rule: a port past 65535, a space, an empty label or another scheme is 400."""
    status, body = raw_get(bridge, target)
    assert status.startswith(b"HTTP/1.1 400 "), status
    assert b"request target" in body


def test_an_absolute_target_names_the_host_the_urls_are_built_from(
    bridge: BridgeProcess, uid: str
) -> None:
    """An endpoint read through `http://other.example:8080/...` shows its webhook URL on that
    authority, not on the Host header's."""
    bridge.create_endpoint(uid)
    status, body = raw_get(bridge, f"http://Other.example:8080/api/endpoints/{uid}")
    assert status.startswith(b"HTTP/1.1 200 "), status
    assert f'"url":"http://other.example:8080/hooks/{uid}"'.encode() in body
