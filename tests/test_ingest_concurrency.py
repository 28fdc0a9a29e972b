"""Concurrent duplicates on a real gunicorn store exactly one event."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests

from tests.ingest_support import (
    SECRET,
    signed_headers,
)
from tests.support import BridgeProcess


@pytest.mark.gunicorn
def test_concurrent_duplicates_store_exactly_one_event(bridge: BridgeProcess, uid: str) -> None:
    """20 simultaneous deliveries of one event: one 202, nineteen 200 duplicates, one stored."""
    bridge.create_endpoint(uid, "github", secret=SECRET)
    body = b'{"action":"created","n":20}'
    headers = signed_headers(body, event_id=f"{uid}-same", event_type="issue_comment")
    count = 20
    barrier = threading.Barrier(count, timeout=20)
    results: list[tuple[int, dict[str, Any]]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send() -> None:
        try:
            with requests.Session() as session:
                barrier.wait()
                answer = session.post(
                    f"{bridge.url}/hooks/{uid}", data=body, headers=headers, timeout=20
                )
                with lock:
                    results.append((answer.status_code, answer.json()))
        except BaseException as exc:  # surfaced below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert len(results) == count

    accepted = [reply for status, reply in results if status == 202]
    duplicates = [reply for status, reply in results if status == 200]
    assert len(accepted) == 1, results
    assert len(duplicates) == count - 1, results
    first = accepted[0]
    assert first["duplicate"] is False
    assert all(d["duplicate"] is True and d["id"] == first["id"] for d in duplicates)

    events = bridge.api("GET", f"/api/endpoints/{uid}/events").json()["events"]
    assert [e["id"] for e in events] == [first["id"]]
