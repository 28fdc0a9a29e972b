"""What the bench's processes share: file limits, the webhook body, reading a frame's mark.

Every process of the bench (orchestrator, load generator, socket clients) takes times from
`time.monotonic()`, which on Linux is one system-wide clock (CLOCK_MONOTONIC): a send time
written into a webhook body by one process can be subtracted from a receive time taken by
another.
"""

from __future__ import annotations

import json
import resource
import uuid

# Every event the bench sends carries `"bench": [seq, sent]` in its JSON body; the bridge
# copies the body into the envelope and the peer into its payload, so clients find it there.
MARK = b'"bench":'


def raise_nofile(want: int = 65536) -> int:
    """Raise RLIMIT_NOFILE as far as allowed (the hard limit too when root); return the soft."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in (max(want, hard), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(want, target)), target))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def webhook_body(seq: int, sent: float) -> bytes:
    """A GitHub `push`-like body (~0.9 KB) carrying the bench mark."""
    body = {
        "ref": "refs/heads/main",
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "76ae82c7b1a177c8d03f9e96e0adf2466113728f",
        "repository": {
            "id": 186853002,
            "name": "webhook-bridge",
            "full_name": "octo-org/webhook-bridge",
            "private": False,
            "html_url": "https://github.com/octo-org/webhook-bridge",
            "default_branch": "main",
        },
        "pusher": {"name": "octocat", "email": "octocat@example.com"},
        "sender": {"login": "octocat", "id": 21031067, "type": "User"},
        "head_commit": {
            "id": "76ae82c7b1a177c8d03f9e96e0adf2466113728f",
            "message": "Bench: event " + str(seq),
            "timestamp": "2026-11-26T03:30:00Z",
            "author": {"name": "Octo Cat", "email": "octocat@example.com"},
            "added": ["bench/run.py"],
            "removed": [],
            "modified": ["README.md", "docs/performance.md"],
        },
        "delivery_nonce": uuid.uuid4().hex,
        "bench": [seq, sent],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def read_mark(payload: bytes) -> tuple[int, float] | None:
    """`(seq, sent)` from a frame holding the bench mark (any JSON spacing), else None."""
    at = payload.find(MARK)
    if at < 0:
        return None
    start = payload.find(b"[", at)
    end = payload.find(b"]", start)
    seq, _, sent = payload[start + 1 : end].partition(b",")
    return int(seq), float(sent)
