"""Every signing provider, end to end through a running bridge (gunicorn, real Redis)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
import requests

from bridge.providers.twilio import json_url
from tests.provider_cases import CASES, Case
from tests.support import BridgeProcess


def live(case: Case, hook_url: str) -> Case:
    """The case re-aimed at this bridge's URL (URL-signing schemes sign the URL)."""
    if not case.url:
        return case
    url = json_url(hook_url, case.body) if "bodySHA256" in case.url else hook_url
    return replace(case, url=url)


def send(case: Case, url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    headers = dict(headers)
    if "content-type" not in headers:
        is_json = body.lstrip().startswith((b"{", b"["))
        headers["content-type"] = (
            "application/json" if is_json else "application/x-www-form-urlencoded"
        )
    return requests.post(case.url or url, data=body, headers=headers, timeout=10)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_signed_delivery_is_accepted_and_tampering_refused(
    bridge: BridgeProcess, uid: str, case: Case
) -> None:
    """A request signed as the provider signs is stored by a live bridge; a changed one is 401."""
    options = {k: v for k, v in case.options.items() if k != "url"}
    bridge.create_endpoint(uid, case.provider, secret=case.endpoint_secret, options=options)
    hook_url = f"{bridge.url}/hooks/{uid}"
    aimed = live(case, hook_url)
    body, headers = aimed.signed(now=time.time())
    answer = send(aimed, hook_url, body, headers)
    assert answer.status_code in {200, 202}, answer.text
    events = bridge.api("GET", f"/api/endpoints/{uid}/events").json()["events"]
    assert len(events) == 1
    assert events[0]["verified"] is True
    if case.covered:
        tampered = body[:-2] + bytes([body[-2] ^ 1]) + body[-1:]
        refused = send(aimed, hook_url, tampered, headers)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"] == "invalid_signature"
