"""Endpoint records are cached per worker, yet every change applies at once on every worker."""

from __future__ import annotations

import redis

from tests.support import BridgeProcess

OLD = "cache-old-secret-1234"


def warm(bridge: BridgeProcess, uid: str, secret: str, rounds: int = 12) -> None:
    """Deliver on fresh connections (the kernel spreads them over the workers), so both
    workers have read, and cached, the record."""
    for n in range(rounds):
        answer = bridge.post_signed(uid, b'{"warm": %d}' % n, secret=secret, event_id=f"w{n}")
        assert answer.status_code == 202, answer.text


def calls(client: redis.Redis, command: str) -> int:
    stats: dict[str, dict[str, int]] = client.info("commandstats")
    return stats.get(f"cmdstat_{command}", {}).get("calls", 0)


def worker_gets(client: redis.Redis) -> int:
    """GETs not made by the append script (which GETs the record and the dedup key)."""
    return calls(client, "get") - 2 * calls(client, "evalsha")


def test_warm_workers_read_no_endpoint_record_per_delivery(
    bridge: BridgeProcess, uid: str, redis_client: redis.Redis
) -> None:
    """Once both workers hold the record, a delivery reads it only inside the append script
    (to check it is unchanged), not in a round trip of its own."""
    bridge.create_endpoint(uid, secret=OLD)
    warm(bridge, uid, OLD)
    before = worker_gets(redis_client)
    for n in range(20):
        answer = bridge.post_signed(uid, b'{"n": %d}' % n, secret=OLD, event_id=f"c{n}")
        assert answer.status_code == 202
    assert worker_gets(redis_client) - before <= 2  # slack for a re-read


def test_added_secret_verifies_at_once_on_every_worker(bridge: BridgeProcess, uid: str) -> None:
    """Right after a secret is added through one worker, deliveries signed with it pass on all."""
    bridge.create_endpoint(uid, secret=OLD)
    warm(bridge, uid, OLD)
    for n in range(15):
        new = f"cache-new-secret-{n:04d}"
        added = bridge.api("POST", f"/api/endpoints/{uid}/secrets", json={"secret": new})
        assert added.status_code == 201
        answer = bridge.post_signed(uid, b'{"n": %d}' % n, secret=new, event_id=f"{uid}-{n}")
        assert answer.status_code == 202, (n, answer.text)
        removed = bridge.api(
            "DELETE", f"/api/endpoints/{uid}/secrets/{added.json()['secret']['id']}"
        )
        assert removed.status_code == 200
        refused = bridge.post_signed(uid, b'{"m": %d}' % n, secret=new, event_id=f"{uid}-m{n}")
        assert refused.status_code == 401, (n, refused.text)


def test_deleted_endpoint_is_gone_at_once_on_every_worker(bridge: BridgeProcess, uid: str) -> None:
    """Right after an endpoint is deleted, every worker answers 404 for it."""
    bridge.create_endpoint(uid, secret=OLD)
    warm(bridge, uid, OLD)
    assert bridge.api("DELETE", f"/api/endpoints/{uid}").status_code == 204
    for n in range(10):
        answer = bridge.post_signed(uid, b"{}", secret=OLD, event_id=f"gone-{n}")
        assert answer.status_code == 404, (n, answer.text)
