"""Sending a stored event on to a local app, as the provider sent it: the raw body bytes (from
`GET /api/endpoints/<id>/events/<cursor>/raw`) with the original headers, so the app's own
signature check passes. Used by `listen --forward-to` (retrying) and `replay` (once each).

Headers: every header the provider sent, minus the hop-by-hop ones that belong to one HTTP
connection (HOP_BY_HOP) and minus the credentials the bridge masked (`Authorization`,
`Cookie`: stored as `***`), plus `X-Bridge-Cursor: <event id>` so the app can tell a repeat.
GitLab's `X-Gitlab-Token` is masked too but is GitLab's signature (the secret itself, sent
in clear): it is put back from the endpoint's secret that verified the delivery.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.util import SKIP_HEADER

from bridge.answers import ENDPOINT
from bridge.backoff import Backoff
from bridge.client import Api, AuthRefused, CliError, Gone

HOP_BY_HOP = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "transfer-encoding",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
        "expect",
    }
)
MASKED = "***"
# GitLab sends its secret itself as its "signature"; restored from the endpoint.
RESTORED_FROM_SECRET = "x-gitlab-token"  # noqa: S105 - a header name
CURSOR_HEADER = "X-Bridge-Cursor"
# Headers requests and urllib3 add by themselves, each dropped unless the provider sent it
# (None removes a requests default; SKIP_HEADER stops urllib3 from adding its own).
_ADDED_BY_CLIENT: dict[str, str | None] = {
    "User-Agent": SKIP_HEADER,
    "Accept-Encoding": SKIP_HEADER,
    "Accept": None,
    "Connection": None,
}
CONNECT_TIMEOUT = 5.0
# Retries of one event (listen): first wait, doubling up to the cap, forever.
RETRY_FIRST = 0.5
RETRY_CAP = 10.0

Notice = Callable[[str], None]


@dataclass(frozen=True)
class Attempt:
    """One POST to the app: its status, or why there was none; and how long it took."""

    status: int | None
    problem: str | None
    ms: float

    @property
    def label(self) -> str:
        return str(self.status) if self.status is not None else f"no answer ({self.problem})"

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """No answer, a 5xx or a 429: the app could take it later. Any other 4xx is the
        app's considered no (a failed signature check, an unknown route): not retried."""
        return self.status is None or self.status >= 500 or self.status == 429


class Secrets:
    """The endpoints' secrets by id, fetched once per endpoint (only GitLab's need them)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self._known: dict[str, dict[str, str]] = {}

    def value(self, endpoint_id: str, secret_id: str) -> str | None:
        known = self._known.get(endpoint_id, {})
        if secret_id not in known:  # new endpoint, or a secret added since: ask again
            endpoint = self.api.call("GET", self.api.endpoint_path(endpoint_id), shape=ENDPOINT)
            known = {str(s.get("id")): str(s.get("value")) for s in endpoint.get("secrets", [])}
            self._known[endpoint_id] = known
        return known.get(secret_id)


def headers_for(
    endpoint_id: str, event: Mapping[str, Any], secrets: Secrets
) -> dict[str, str | None]:
    """The headers to forward `event` of `endpoint_id` with (see the module docstring)."""
    stored = event.get("headers") or {}
    headers = dict(_ADDED_BY_CLIENT)
    for name, value in stored.items():
        lowered = str(name).lower()
        if lowered in HOP_BY_HOP:
            continue
        if value == MASKED:
            if lowered != RESTORED_FROM_SECRET:
                continue
            secret_id = str((event.get("verification") or {}).get("secret_id") or "")
            restored = secrets.value(endpoint_id, secret_id)
            if restored is None:
                continue
            value = restored
        # Names as stored (lower case): HTTP header names are case-insensitive.
        headers = {k: v for k, v in headers.items() if k.lower() != lowered}
        headers[lowered] = str(value)
    headers[CURSOR_HEADER] = str(event.get("id"))
    return headers


def post(url: str, body: bytes, headers: Mapping[str, str | None], timeout: float) -> Attempt:
    """POST once; never raises for the app's failures (they are the Attempt's `problem`)."""
    started = time.monotonic()

    def took() -> float:
        return (time.monotonic() - started) * 1000

    try:
        response = requests.post(
            url,
            data=body,
            headers=_as_sent(headers),
            timeout=(CONNECT_TIMEOUT, timeout),
            allow_redirects=False,
            stream=True,  # the status is all we need: do not wait for the app's body
        )
    except requests.ConnectTimeout:
        return Attempt(None, f"no connection within {CONNECT_TIMEOUT:.0f} s", took())
    except requests.Timeout:
        return Attempt(None, f"no answer within {timeout:g} s", took())
    except requests.ConnectionError as exc:
        return Attempt(None, _why(exc), took())
    except requests.RequestException as exc:
        raise CliError(f"cannot POST to {url}: {exc}") from None
    response.close()
    return Attempt(response.status_code, None, took())


def _as_sent(headers: Mapping[str, str | None]) -> dict[str, str | bytes | None]:
    """The provider's header values as bytes: requests checks a text value against Unicode's
    whitespace and refuses one that begins with NBSP (0xA0, obs-text a sender may use and
    gunicorn passes on), where bytes are checked as HTTP does. Values are latin-1, as WSGI
    decoded them; the markers that drop a default header stay as they are."""
    return {
        name: value if value is None or value == SKIP_HEADER else _octets(value)
        for name, value in headers.items()
    }


def _octets(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # not from a live delivery (WSGI's text is latin-1)
        return value.encode()


def _why(exc: requests.ConnectionError) -> str:
    text = str(exc)
    for marker, short in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "unknown host"),
        ("nodename nor servname", "unknown host"),
        ("Connection reset", "connection reset"),
        ("RemoteDisconnected", "connection closed without an answer"),
        ("Connection aborted", "connection closed without an answer"),
    ):
        if marker in text:
            return short
    return text[-160:]


class Forwarder:
    """`listen --forward-to`: each event to its app until the app answers something final."""

    def __init__(self, api: Api, notice: Notice, timeout: float) -> None:
        self.api = api
        self.notice = notice
        self.timeout = timeout
        self.secrets = Secrets(api)

    def deliver(
        self, endpoint_id: str, event: Mapping[str, Any], url: str, answered: Callable[[], None]
    ) -> Attempt | None:
        """Forward `event` to `url`, retrying with backoff (forever) while there is no answer,
        a 5xx or a 429; call `answered()` as soon as a final answer arrived. None when the
        bridge no longer holds the event (it cannot be forwarded)."""
        event_id = str(event.get("id"))
        body = self._raw(endpoint_id, event_id)
        if body is None:
            answered()
            return None
        headers = headers_for(endpoint_id, event, self.secrets)
        backoff = Backoff(RETRY_FIRST, RETRY_CAP)
        attempt = 1
        while True:
            result = post(url, body, headers, self.timeout)
            if not result.retryable:
                answered()
                return result
            what = result.label if result.status is None else f"HTTP {result.status}"
            delay = backoff.next()
            self.notice(
                f"forward {event_id} to {url} failed: {what}; retry {attempt} in {delay:.1f} s"
            )
            time.sleep(delay)
            attempt += 1

    def _raw(self, endpoint_id: str, event_id: str) -> bytes | None:
        backoff = Backoff(RETRY_FIRST, RETRY_CAP)
        while True:
            try:
                return self.api.raw(endpoint_id, event_id)[0]
            except AuthRefused:
                raise
            except Gone:
                self.notice(f"{event_id} is no longer held by the bridge: not forwarded")
                return None
            except CliError as exc:  # the bridge restarting, or its Redis away: wait for it
                delay = backoff.next()
                self.notice(f"cannot fetch {event_id}: {exc}; retrying in {delay:.1f} s")
                time.sleep(delay)
