"""`bridge replay`: stored events sent again, raw and signed, to a local app; the range, the
rate limit, the progress bar and the summary of answers (real bridge)."""

from __future__ import annotations

import json
import time
import uuid

import requests

from bridge.providers import get as provider
from tests.cli_support import (
    SECRET,
    Receiver,
    deliver,
    github_signature,
    ok,
    one_error_line,
    post,
    run,
)
from tests.support import BridgeProcess, free_port


def test_replay_sends_the_range_with_a_summary(
    bridge: BridgeProcess, uid: str, receiver: Receiver
) -> None:
    """--since (exclusive) to --until (inclusive) is sent oldest first, raw and signed; stderr
    shows the progress bar, stdout the count of each answer."""
    bridge.create_endpoint(uid, "github", SECRET)
    sent = [deliver(bridge, uid, b"\xff\xfe raw \r\n"), *[(c, "") for c in post(bridge, uid, 5)]]
    ids = [cursor for cursor, _ in sent]
    result = run("replay", uid, "--since", ids[0], "--until", ids[4], "--to", receiver.url,
                 "--server", bridge.url)  # fmt: skip
    assert result.returncode == 0, result
    taken = receiver.accepted()
    assert [r.headers["x-bridge-cursor"] for r in taken] == ids[1:5]
    assert all(r.signature_ok for r in taken)
    assert [json.loads(r.body)["n"] for r in taken] == [0, 1, 2, 3]
    assert f"Replayed 4 events of {uid} after {ids[0]} up to {ids[4]}" in result.stdout
    assert result.stdout.splitlines()[-1].split() == ["200", "4"]
    assert result.stderr.splitlines()[-1].startswith(f"replay {uid} [{'#' * 30}] 4/4 100%")

    everything = json.loads(ok("replay", uid, "--since", "0", "--to", receiver.url, "--json",
                               "--server", bridge.url))  # fmt: skip
    assert everything["events"] == 6
    assert everything["answers"] == {"200": 6}
    assert receiver.accepted()[4].body == b"\xff\xfe raw \r\n"


def test_replay_says_its_range_in_words(
    bridge: BridgeProcess, uid: str, receiver: Receiver
) -> None:
    """`--since 0` is summed up without the cursor 0-0, one event is "1 event", and a
    --since from before the endpoint is warned of as such."""
    bridge.create_endpoint(uid, "github", SECRET)
    server = ["--to", receiver.url, "--server", bridge.url]
    assert ok("replay", uid, "--since", "0", *server) == f"No events of {uid}: nothing replayed.\n"
    (only,) = post(bridge, uid, 1)
    text = ok("replay", uid, "--since", "0", *server)
    assert text.startswith(f"Replayed 1 event of {uid} to {receiver.url} in "), text
    text = ok("replay", uid, "--since", "0", "--until", only, *server)
    assert text.startswith(f"Replayed 1 event of {uid} up to {only} to {receiver.url} in "), text
    early = "1732590000000-0"  # long before this endpoint was created
    result = run("replay", uid, "--since", early, *server)
    assert result.returncode == 0, result
    assert (
        f"bridge: WARNING: the bridge no longer holds every event of {uid} after {early}: the "
        f"oldest ones were dropped by retention, or --since {early} is from before this "
        "endpoint (recovered: false)"
    ) in result.stderr.splitlines()


def test_replay_counts_every_kind_of_answer(bridge: BridgeProcess, uid: str) -> None:
    """Answers that are not 2xx are each listed and counted; the exit status is then 1."""
    bridge.create_endpoint(uid, "github", SECRET)
    post(bridge, uid, 5)
    app = Receiver(statuses=[500, 404])
    try:
        result = run("replay", uid, "--since", "0", "--to", app.url, "--json",
                     "--server", bridge.url)  # fmt: skip
        assert result.returncode == 1, result
        assert json.loads(result.stdout)["answers"] == {"200": 3, "404": 1, "500": 1}
        assert (
            sum(" -> 500" in line or " -> 404" in line for line in result.stderr.splitlines()) == 2
        )
        assert len(app.requests) == 5  # each once: replay does not retry
    finally:
        app.close()


def test_replay_to_an_app_that_is_down(bridge: BridgeProcess, uid: str) -> None:
    """A receiver that does not answer is counted as such, and the exit status is 1."""
    bridge.create_endpoint(uid, "github", SECRET)
    post(bridge, uid, 2)
    url = f"http://127.0.0.1:{free_port()}/hook"
    result = run("replay", uid, "--since", "0", "--to", url, "--server", bridge.url)
    assert result.returncode == 1, result
    assert result.stdout.splitlines()[-1].split() == [
        "no",
        "answer",
        "(connection",
        "refused)",
        "2",
    ]


def test_replay_rate_limit(bridge: BridgeProcess, uid: str, receiver: Receiver) -> None:
    """--rate N keeps the sends at least 1/N s apart."""
    bridge.create_endpoint(uid, "github", SECRET)
    post(bridge, uid, 6)
    ok("replay", uid, "--since", "0", "--to", receiver.url, "--rate", "10", "--server", bridge.url)
    times = [r.at for r in receiver.accepted()]
    assert len(times) == 6
    # Sends start 5 x 0.1 s apart; each arrives a few ms after its start, the first (whose
    # connection is made then) later than the rest on a loaded machine: 200 ms of room for
    # that, against some 10-50 ms for six sends not paced at all.
    assert times[-1] - times[0] >= 5 / 10 - 0.2


def test_replay_nothing_and_refusals(bridge: BridgeProcess, uid: str, receiver: Receiver) -> None:
    """An empty range says so and exits 0; an unknown endpoint is one line and exit 1."""
    bridge.create_endpoint(uid, "github", SECRET)
    (last,) = post(bridge, uid, 1)
    text = ok("replay", uid, "--since", last, "--to", receiver.url, "--server", bridge.url)
    assert f"No events of {uid} after {last}: nothing replayed." in text
    assert receiver.requests == []
    missing = run("replay", f"{uid}x", "--since", "0", "--to", receiver.url, "--server", bridge.url)
    assert f"no endpoint '{uid}x'" in one_error_line(missing)


def test_replay_sends_a_header_that_begins_with_obs_text_as_received(
    bridge: BridgeProcess, uid: str, receiver: Receiver
) -> None:
    """A stored delivery whose header value begins with byte 0xA0 (obs-text, which gunicorn
    passes on) is replayed with that header byte for byte, not refused by the HTTP client."""
    bridge.create_endpoint(uid, "github", SECRET)
    body = b'{"n": 0}'
    headers: dict[str, str | bytes] = {
        **provider("github").sign(body, SECRET, now=time.time(), event_id=str(uuid.uuid4())),
        "Content-Type": "application/json",
        "X-Note": b"\xa0from the sender",
    }
    answer = requests.post(f"{bridge.url}/hooks/{uid}", data=body, headers=headers, timeout=10)
    assert answer.status_code == 202, answer.text
    result = run("replay", uid, "--since", "0", "--to", receiver.url, "--server", bridge.url)
    assert result.returncode == 0, result
    (taken,) = receiver.accepted()
    assert taken.signature_ok
    assert taken.headers["x-note"] == "\xa0from the sender"


def test_a_backfilled_header_with_surrounding_whitespace_is_stored_and_replayed_trimmed(
    bridge: BridgeProcess, uid: str, receiver: Receiver
) -> None:
    """A backfill header value padded with spaces and tabs is stored as HTTP would read it,
    trimmed, so replay can send it (it stopped the whole replay, with nothing sent)."""
    bridge.create_endpoint(uid, "github", SECRET)
    body = '{"n": 0}'
    padded = f" \t{github_signature(SECRET, body.encode())} "
    item = {"event_id": "e1", "body": body,
            "headers": [{"name": "X-Hub-Signature-256", "value": padded}]}  # fmt: skip
    stored = bridge.api("POST", f"/api/endpoints/{uid}/backfill", json={"events": [item]})
    assert stored.status_code == 200, stored.text
    (event,) = bridge.api("GET", f"/api/endpoints/{uid}/events").json()["events"]
    assert event["headers"]["x-hub-signature-256"] == padded.strip()
    result = run("replay", uid, "--since", "0", "--to", receiver.url, "--server", bridge.url)
    assert result.returncode == 0, result
    (taken,) = receiver.accepted()
    assert taken.signature_ok
