"""`bridge listen --forward-to`: raw bytes and headers reach a local app that verifies the
signature itself; retries; several endpoints on one socket; the checkpoint across `kill -9`;
idle, stalled and back notices (real bridge, real subprocesses)."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from pathlib import Path

from tests.cli_support import (
    SECRET,
    Listen,
    Receiver,
    cli_env,
    deliver,
    one_error_line,
    post,
    run,
)
from tests.support import BridgeProcess, free_port, wait_until


def checkpoint_cursors(path: Path) -> dict[str, str]:
    cursors: dict[str, str] = json.loads(path.read_text())["cursors"]
    return cursors


# -- forwarding ------------------------------------------------------------------------------


BODIES = [
    b"\x89PNG\r\n\x1a\n\x00\xff\xfe not UTF-8 \xc3\x28",
    b'{"zen": "Keep it logically awesome."}\n',
    b'{"text": "caf\\u00e9 \\"q\\" \\/", "n": 1.50e+3}\r\n',
]


def test_forward_keeps_raw_bytes_and_headers(
    bridge: BridgeProcess, uid: str, listen: Listen, receiver: Receiver, tmp_path: Path
) -> None:
    """Each event reaches the app byte for byte with its original headers, so GitHub's own
    HMAC check passes, also for a body that is not UTF-8 and bodies ending in newlines."""
    bridge.create_endpoint(uid, "github", SECRET)
    listener = listen(uid, "--forward-to", receiver.url, "--checkpoint", str(tmp_path / "cp"),
                      "--server", bridge.url)  # fmt: skip
    listener.started()
    sent = [deliver(bridge, uid, body) for body in BODIES]
    got = receiver.wait_accepted(len(BODIES))
    assert [r.body for r in got] == BODIES
    assert all(r.signature_ok for r in got)
    assert [r.delivery for r in got] == [delivery for _, delivery in sent]
    assert [r.headers["x-bridge-cursor"] for r in got] == [cursor for cursor, _ in sent]
    stored = bridge.api("GET", f"/api/endpoints/{uid}/events").json()["events"]
    for received, envelope in zip(got, stored, strict=True):
        assert received.path == "/webhooks"
        assert received.headers["x-github-event"] == envelope["headers"]["x-github-event"]
        assert received.headers["user-agent"] == envelope["headers"]["user-agent"]
        assert received.headers["content-type"] == "application/json"
        assert received.headers["content-length"] == str(len(received.body))
        assert received.headers["host"] == f"127.0.0.1:{receiver.port}"
    lines = listener.wait_for(listener.out, " -> 200 ", count=3)
    assert [line.split()[0] for line in lines] == [cursor for cursor, _ in sent]
    assert checkpoint_cursors(tmp_path / "cp") == {uid: sent[-1][0]}


def test_app_errors_are_retried_until_taken(
    bridge: BridgeProcess, uid: str, listen: Listen, tmp_path: Path
) -> None:
    """A 5xx is retried with backoff, a refused connection too until the app is up; the event
    is never skipped, and every failure is printed."""
    bridge.create_endpoint(uid, "github", SECRET)
    port = free_port()  # nothing listens here yet
    url = f"http://127.0.0.1:{port}/webhooks"
    listener = listen(uid, "--forward-to", url, "--checkpoint", str(tmp_path / "cp"),
                      "--server", bridge.url)  # fmt: skip
    listener.started()
    first, _ = deliver(bridge, uid, b'{"n": 1}')
    listener.wait_for(listener.err, "failed: no answer (connection refused); retry 2 in")
    app = Receiver(port=port, statuses=[503, 500])
    try:
        (taken,) = app.wait_accepted(1)
        assert taken.headers["x-bridge-cursor"] == first
        assert [r.status for r in app.requests] == [503, 500, 200]
        listener.wait_for(listener.out, f"{first} push verified")
        failures = [line for line in listener.err if f"forward {first} to {url}" in line]
        assert any("failed: HTTP 503; retry" in line for line in failures)
        assert any("failed: HTTP 500; retry" in line for line in failures)
    finally:
        app.close()


def test_a_4xx_is_printed_and_passed(
    bridge: BridgeProcess, uid: str, listen: Listen, tmp_path: Path
) -> None:
    """An app's 4xx is its considered answer: printed, not retried, and the next event follows."""
    bridge.create_endpoint(uid, "github", SECRET)
    app = Receiver(statuses=[422])
    try:
        listener = listen(uid, "--forward-to", app.url, "--checkpoint", str(tmp_path / "cp"),
                          "--server", bridge.url)  # fmt: skip
        listener.started()
        refused, accepted = post(bridge, uid, 2)
        app.wait_accepted(1)
        listener.wait_for(listener.out, f"{refused} push verified")
        lines = listener.wait_for(listener.out, " -> ", count=2)
        assert " -> 422 " in lines[0]
        assert lines[1].startswith(accepted)
        assert " -> 200 " in lines[1]
        assert [r.status for r in app.requests] == [422, 200]
    finally:
        app.close()


def test_several_endpoints_on_one_socket(
    bridge: BridgeProcess, uid: str, listen: Listen, tmp_path: Path
) -> None:
    """One listen takes several endpoints, each forwarded to its own app (with its own
    secret), lines prefixed with the endpoint, one checkpoint holding both cursors."""
    first, second = f"{uid}a", f"{uid}b"
    bridge.create_endpoint(first, "github", SECRET)
    bridge.create_endpoint(second, "github", "another-secret-7890")
    app_a, app_b = Receiver(), Receiver("another-secret-7890")
    try:
        listener = listen(first, second, "--forward-to", f"{first}={app_a.url}",
                          "--forward-to", f"{second}={app_b.url}",
                          "--checkpoint", str(tmp_path / "cp"), "--server", bridge.url)  # fmt: skip
        listener.started()
        to_a = post(bridge, first, 2)
        to_b = [deliver(bridge, second, b'{"to": "b"}', "another-secret-7890")[0]]
        assert [r.headers["x-bridge-cursor"] for r in app_a.wait_accepted(2)] == to_a
        assert [r.headers["x-bridge-cursor"] for r in app_b.wait_accepted(1)] == to_b
        assert all(r.signature_ok for r in app_a.requests + app_b.requests)
        lines = listener.wait_for(listener.out, " -> 200 ", count=3)
        assert sorted(line.split()[:2] for line in lines) == sorted(
            [[first, to_a[0]], [first, to_a[1]], [second, to_b[0]]]
        )
        assert checkpoint_cursors(tmp_path / "cp") == {first: to_a[-1], second: to_b[0]}
    finally:
        app_a.close()
        app_b.close()


def test_an_app_that_is_down_holds_up_only_its_own_endpoint(
    bridge: BridgeProcess, uid: str, listen: Listen, tmp_path: Path
) -> None:
    """While endpoint A's app is down, B's events are forwarded in order all the same; once A's
    app is up, A's events arrive in order, each once, though more came than its lane holds."""
    first, second = f"{uid}a", f"{uid}b"
    bridge.create_endpoint(first, "github", SECRET)
    bridge.create_endpoint(second, "github", SECRET)
    port = free_port()  # A's app: nothing listens here yet
    app_b = Receiver()
    checkpoint = tmp_path / "cp"
    try:
        listener = listen(first, second, "--forward-to", f"{first}=http://127.0.0.1:{port}/a",
                          "--forward-to", f"{second}={app_b.url}", "--queue", "2",
                          "--checkpoint", str(checkpoint), "--server", bridge.url)  # fmt: skip
        listener.started()
        to_a, to_b = [], []
        for _ in range(8):  # A's first, then B's: one queue for both would hold B up
            to_a += post(bridge, first, 1)
            to_b += post(bridge, second, 1)
        assert [r.headers["x-bridge-cursor"] for r in app_b.wait_accepted(8)] == to_b
        lines = listener.wait_for(listener.out, lambda line: line.startswith(second), count=8)
        assert [line.split()[1] for line in lines] == to_b
        assert checkpoint_cursors(checkpoint)[second] == to_b[-1]
        assert checkpoint_cursors(checkpoint)[first] not in to_a
        listener.wait_for(listener.err, f"forward {to_a[0]} to http://127.0.0.1:{port}/a failed")

        app_a = Receiver(port=port)
        try:
            taken = app_a.wait_accepted(8)
            listener.wait_for(listener.out, lambda line: line.startswith(first), count=8)
        finally:
            app_a.close()
        assert [r.headers["x-bridge-cursor"] for r in taken] == to_a
        assert [r.headers["x-bridge-cursor"] for r in app_a.requests] == to_a
        assert all(r.signature_ok for r in taken)
        assert [r.headers["x-bridge-cursor"] for r in app_b.requests] == to_b
        assert checkpoint_cursors(checkpoint) == {first: to_a[-1], second: to_b[-1]}
    finally:
        app_b.close()


# -- the checkpoint --------------------------------------------------------------------------


def test_kill_9_mid_stream_then_restart_forwards_each_event_once(
    bridge: BridgeProcess, uid: str, listen: Listen, tmp_path: Path
) -> None:
    """listen killed with SIGKILL while an event is on its way to the app resumes from its
    checkpoint: across both runs the app takes every event exactly once, in order."""
    bridge.create_endpoint(uid, "github", SECRET)
    checkpoint = tmp_path / "listen.json"
    app = Receiver(hold_at=6)  # the 6th request hangs until the sender is dead
    try:
        args = [uid, "--forward-to", app.url, "--checkpoint", str(checkpoint),
                "--server", bridge.url]  # fmt: skip
        first_run = listen(*args)
        first_run.started()
        sent = [deliver(bridge, uid, json.dumps({"n": n}).encode()) for n in range(12)]
        assert app.holding.wait(20), app.requests
        assert first_run.kill() == -signal.SIGKILL
        app.release.set()
        # Five were taken and recorded; the sixth was under way, so it is not recorded.
        assert checkpoint_cursors(checkpoint) == {uid: sent[4][0]}

        second_run = listen(*args)
        second_run.started()
        second_run.wait_for(second_run.err, "resuming from the checkpoint")
        sent += [deliver(bridge, uid, json.dumps({"n": n}).encode()) for n in range(12, 15)]
        taken = app.wait_accepted(len(sent))
        second_run.wait_for(second_run.out, sent[-1][0])
        counts = Counter(r.delivery for r in taken)
        assert counts == Counter({delivery: 1 for _, delivery in sent})
        assert [r.delivery for r in taken] == [delivery for _, delivery in sent]
        assert all(r.signature_ok for r in taken)
        assert checkpoint_cursors(checkpoint) == {uid: sent[-1][0]}
    finally:
        app.close()


def test_kill_9_with_two_endpoints_records_each_on_its_own(
    bridge: BridgeProcess, uid: str, listen: Listen, tmp_path: Path
) -> None:
    """With two endpoints, listen killed while A's event is on its way has recorded every event
    of B, handled meanwhile; after a restart each app takes each of its events once, in order."""
    first, second = f"{uid}a", f"{uid}b"
    bridge.create_endpoint(first, "github", SECRET)
    bridge.create_endpoint(second, "github", SECRET)
    checkpoint = tmp_path / "listen.json"
    app_a, app_b = Receiver(hold_at=3), Receiver()  # A's 3rd request hangs until the kill
    try:
        args = [first, second, "--forward-to", f"{first}={app_a.url}",
                "--forward-to", f"{second}={app_b.url}", "--checkpoint", str(checkpoint),
                "--server", bridge.url]  # fmt: skip
        first_run = listen(*args)
        first_run.started()
        to_a, to_b = post(bridge, first, 5), post(bridge, second, 4)
        assert app_a.holding.wait(20), app_a.requests
        app_b.wait_accepted(4)
        first_run.wait_for(first_run.out, f"{second} {to_b[-1]} ")
        assert first_run.kill() == -signal.SIGKILL
        app_a.release.set()
        assert checkpoint_cursors(checkpoint) == {first: to_a[1], second: to_b[-1]}

        second_run = listen(*args)
        second_run.wait_for(second_run.err, "resuming from the checkpoint")
        second_run.started()
        to_a += post(bridge, first, 2)
        to_b += post(bridge, second, 2)
        taken_a, taken_b = app_a.wait_accepted(len(to_a)), app_b.wait_accepted(len(to_b))
        second_run.wait_for(second_run.out, to_a[-1])
        second_run.wait_for(second_run.out, to_b[-1])
        assert [r.headers["x-bridge-cursor"] for r in taken_a] == to_a
        assert [r.headers["x-bridge-cursor"] for r in taken_b] == to_b
        assert checkpoint_cursors(checkpoint) == {first: to_a[-1], second: to_b[-1]}
    finally:
        app_a.close()
        app_b.close()


def test_restart_resumes_from_the_default_checkpoint(
    bridge: BridgeProcess, uid: str, listen: Listen, receiver: Receiver, tmp_path: Path
) -> None:
    """Without --checkpoint the position lives in $BRIDGE_DATA_DIR/listen-<endpoint>.json, so
    events sent while listen was stopped are forwarded when it starts again."""
    bridge.create_endpoint(uid, "github", SECRET)
    env = cli_env(BRIDGE_DATA_DIR=str(tmp_path))
    args = [uid, "--forward-to", receiver.url, "--server", bridge.url]
    first_run = listen(*args, env=env)
    first_run.started()
    before = post(bridge, uid, 2)
    receiver.wait_accepted(2)
    first_run.wait_for(first_run.out, before[-1])
    assert first_run.interrupt() == 0
    meanwhile = post(bridge, uid, 3)
    assert checkpoint_cursors(tmp_path / f"listen-{uid}.json") == {uid: before[-1]}

    second_run = listen(*args, env=env)
    taken = receiver.wait_accepted(5)
    assert [r.headers["x-bridge-cursor"] for r in taken] == before + meanwhile
    second_run.wait_for(second_run.out, meanwhile[-1])
    assert checkpoint_cursors(tmp_path / f"listen-{uid}.json") == {uid: meanwhile[-1]}


def test_since_wins_over_the_checkpoint(
    bridge: BridgeProcess, uid: str, listen: Listen, receiver: Receiver, tmp_path: Path
) -> None:
    """--since starts after its cursor whatever the checkpoint says, and becomes the position;
    --json prints each frame with the app's answer."""
    bridge.create_endpoint(uid, "github", SECRET)
    ids = post(bridge, uid, 3)
    path = tmp_path / "cp.json"
    args = [uid, "--forward-to", receiver.url, "--checkpoint", str(path), "--server", bridge.url]
    first_run = listen(*args, "--since", ids[0], "--json")
    frames = [json.loads(line) for line in first_run.wait_for(first_run.out, ids[2])]
    assert frames[0]["event"]["id"] == ids[2]
    assert frames[0]["forward"]["status"] == 200
    assert first_run.interrupt(signal.SIGTERM) == 0  # as cleanly as Ctrl-C: checkpointed
    assert checkpoint_cursors(path) == {uid: ids[2]}

    second_run = listen(*args, "--since", "0")
    second_run.wait_for(second_run.out, ids[2])
    taken = [r.headers["x-bridge-cursor"] for r in receiver.wait_accepted(5)]
    assert taken == ids[1:] + ids
    assert second_run.interrupt() == 0


def test_a_start_before_any_event_is_said_in_words(
    bridge: BridgeProcess, uid: str, listen: Listen, receiver: Receiver, tmp_path: Path
) -> None:
    """A checkpoint taken before an endpoint's first event (0-0), and --since 0 for several
    endpoints, are announced as the start of the history, never as the cursor 0-0."""
    other = f"{uid}b"
    bridge.create_endpoint(uid, "github", SECRET)
    bridge.create_endpoint(other, "github", SECRET)
    path = tmp_path / "cp.json"
    args = [uid, "--forward-to", receiver.url, "--checkpoint", str(path), "--server", bridge.url]
    first_run = listen(*args)
    first_run.started()
    wait_until(lambda: path.exists() and checkpoint_cursors(path) == {uid: "0-0"})
    assert first_run.interrupt() == 0

    second_run = listen(*args)
    second_run.wait_for(second_run.err, f"resuming from the checkpoint {path}")
    start = f"listening to {uid} on {bridge.url}, from the start of its history (Ctrl-C to stop)"
    second_run.wait_for(second_run.err, lambda line: line == f"bridge: {start}")
    assert second_run.interrupt() == 0
    both = listen(uid, other, "--since", "0", "--server", bridge.url)
    start = f"listening to {uid}, {other} on {bridge.url}, each from the start of its history"
    both.wait_for(both.err, f"bridge: {start} (Ctrl-C to stop)")
    assert both.interrupt() == 0
    assert not any("0-0" in line for line in first_run.err + second_run.err + both.err)


def test_checkpoint_refusals(
    bridge: BridgeProcess, uid: str, listen: Listen, receiver: Receiver, tmp_path: Path
) -> None:
    """A checkpoint in use by another listen, one of another bridge, or one that is not a
    checkpoint (not JSON, not UTF-8): exit 1 with one line each."""
    bridge.create_endpoint(uid, "github", SECRET)
    path = tmp_path / "cp.json"
    args = [uid, "--forward-to", receiver.url, "--checkpoint", str(path), "--server", bridge.url]
    holder = listen(*args)
    holder.started()
    assert "in use by another `bridge listen`" in one_error_line(run("listen", *args))
    assert holder.interrupt() == 0

    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": 1, "server": "http://elsewhere:8000", "cursors": {}}))
    line = one_error_line(run("listen", *args[:-4], "--checkpoint", str(other), *args[-2:]))
    assert "is the position on http://elsewhere:8000" in line
    broken = tmp_path / "broken.json"
    for content in (b"{not json", b"\xff\xfe{}"):  # the second: not even UTF-8
        broken.write_bytes(content)
        line = one_error_line(run("listen", *args[:-4], "--checkpoint", str(broken), *args[-2:]))
        assert "is not a `bridge listen` checkpoint" in line


# -- a bridge that goes quiet, or away -------------------------------------------------------


def test_idle_stalled_and_back(redis_url: str, tmp_path: Path, uid: str, listen: Listen) -> None:
    """A quiet stream whose bridge answers pings is called idle; a bridge that stops answering
    (SIGSTOP) is called stalled, and back when it answers again; then events flow as before."""
    own = BridgeProcess(tmp_path / "bridge", redis_url).start()
    try:
        own.create_endpoint(uid)
        listener = listen(uid, "--stall-after", "1", "--server", own.url)
        listener.started()
        listener.wait_for(listener.err, "idle: no events for 1 s")
        assert own.process is not None
        frozen = [own.process.pid, *own.worker_pids()]
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            listener.wait_for(listener.err, "stalled: no answer from")
        finally:
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
        listener.wait_for(listener.err, f"back: {own.url} answers again")
        (cursor,) = post(own, uid, 1)
        listener.wait_for(listener.out, cursor)
        assert not any("away:" in line for line in listener.err)
        assert listener.interrupt() == 0
    finally:
        own.stop()


def test_a_reconnect_keeps_what_a_paused_endpoint_holds(
    redis_url: str, tmp_path: Path, uid: str, listen: Listen
) -> None:
    """A bridge restart while an endpoint's app is down and its stream is paused loses
    nothing: once the app is up it takes every event, from before and after the restart,
    once each and in order."""
    first = BridgeProcess(tmp_path / "first", redis_url)
    second = BridgeProcess(tmp_path / "second", redis_url, port=first.port)
    port = free_port()  # the app: nothing listens here yet
    checkpoint = tmp_path / "cp"
    try:
        first.start()
        first.create_endpoint(uid, "github", SECRET)
        listener = listen(uid, "--forward-to", f"http://127.0.0.1:{port}/webhooks",
                          "--queue", "2", "--checkpoint", str(checkpoint),
                          "--server", first.url)  # fmt: skip
        listener.started()
        sent = post(first, uid, 5)
        listener.wait_for(listener.err, f"{uid}: too many events waiting to be handled")
        assert first.stop(signal.SIGTERM) == 0
        listener.wait_for(listener.err, "away: lost")
        second.start()
        sent += post(second, uid, 2)
        listener.wait_for(listener.err, f"back: reconnected to {first.url}", timeout=45)
        app = Receiver(port=port)
        try:
            app.wait_accepted(len(sent))
            listener.wait_for(listener.out, sent[-1])
        finally:
            app.close()
        assert [r.headers["x-bridge-cursor"] for r in app.requests] == sent
        assert checkpoint_cursors(checkpoint) == {uid: sent[-1]}
    finally:
        second.stop()
        first.stop()


def test_token_refused_after_a_restart_exits_with_one_line(
    redis_url: str, tmp_path: Path, uid: str, listen: Listen
) -> None:
    """When the bridge comes back with another admin token, listen stops: exit 1, and its
    last line says the token was refused."""
    first = BridgeProcess(tmp_path / "first", redis_url)
    second = BridgeProcess(
        tmp_path / "second",
        redis_url,
        port=first.port,
        BRIDGE_ADMIN_TOKEN="another-token-0123456789",
    )
    try:
        first.start()
        first.create_endpoint(uid)
        listener = listen(uid, "--server", first.url)
        listener.started()
        assert first.stop(signal.SIGTERM) == 0
        listener.wait_for(listener.err, "away: lost")
        second.start()
        assert listener.finish(timeout=45) == 1
        assert listener.err[-1].startswith(f"bridge: the admin token was refused by {first.url}")
        assert not any("Traceback" in line for line in listener.err)
    finally:
        second.stop()
        first.stop()


def test_listen_prints_a_senders_escape_sequences_escaped(
    bridge: BridgeProcess, uid: str, listen: Listen
) -> None:
    """An event type carrying terminal escapes (here GitHub's `action` setting the window
    title) is printed with them escaped, never handed to the terminal."""
    bridge.create_endpoint(uid, "github", SECRET)
    listener = listen(uid, "--server", bridge.url)
    listener.started()
    cursor, _ = deliver(bridge, uid, json.dumps({"action": "\x1b]0;pwned\x07"}).encode())
    (line,) = listener.wait_for(listener.out, lambda text: text.startswith(cursor))
    assert line.split()[1] == "push.\\x1b]0;pwned\\x07"
    assert "\x1b" not in "".join(listener.out)


def test_listen_escapes_a_senders_bidi_overrides_and_line_separators(
    bridge: BridgeProcess, uid: str, listen: Listen
) -> None:
    """An event type carrying a right-to-left override or a line separator is printed with
    them escaped, so the line reads in the order it was sent and stays one line."""
    bridge.create_endpoint(uid, "github", SECRET)
    listener = listen(uid, "--server", bridge.url)
    listener.started()
    action = "paid\u202edesrever\u2069\u2028forged verified"
    cursor, _ = deliver(bridge, uid, json.dumps({"action": action}).encode())
    (line,) = listener.wait_for(listener.out, lambda text: text.startswith(cursor))
    assert line.split()[1] == "push.paid\\u202edesrever\\u2069\\u2028forged"
    printed = "".join(listener.out)
    assert not {"\u202e", "\u2069", "\u2028"} & set(printed)
