"""The `bridge` command, run for real (`python -m bridge ...`) against a real bridge."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.cli import shared
from bridge.providers import get as provider
from tests.cli_support import (
    SECRET,
    Listen,
    as_json,
    cli_env,
    events,
    ok,
    one_error_line,
    post,
    run,
)
from tests.support import ADMIN_TOKEN, NOT_WHOLE, BridgeProcess, Connect, free_port

CURSOR = re.compile(r"^\d+-\d+$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def answers(stdout: str) -> list[tuple[int, dict[str, Any]]]:
    """`bridge send` output: one `<status> <JSON>` line per request."""
    parsed = []
    for line in stdout.splitlines():
        status, _, body = line.partition(" ")
        parsed.append((int(status), json.loads(body)))
    return parsed


# -- endpoints ---------------------------------------------------------------------------


def test_endpoint_round_trip_with_json(bridge: BridgeProcess, uid: str) -> None:
    """create, list, show, rotate and delete work end to end, and --json is the API's JSON."""
    server = ["--server", bridge.url]
    create = ["endpoints", "create", uid, "--provider", "github", "--secret", SECRET]
    created = as_json(*create, "--description", "from the CLI", *server)
    assert created["id"] == uid
    assert created["provider"] == "github"
    assert created["url"] == f"{bridge.url}/hooks/{uid}"
    assert [s["value"] for s in created["secrets"]] == [SECRET]
    assert created["description"] == "from the CLI"
    assert created["setup"]

    listed = as_json("endpoints", "list", *server)
    assert uid in [e["id"] for e in listed["endpoints"]]
    assert as_json("endpoints", "show", uid, *server) == created

    rotated = as_json("endpoints", "rotate", uid, *server)
    assert rotated["secret"]["id"] == "s2"
    assert len(rotated["secret"]["value"]) >= 16  # generated
    chosen = as_json("endpoints", "rotate", uid, "--secret", "chosen-secret-789", *server)
    assert (chosen["secret"]["id"], chosen["secret"]["value"]) == ("s3", "chosen-secret-789")
    shown = as_json("endpoints", "show", uid, *server)
    assert [s["id"] for s in shown["secrets"]] == ["s1", "s2", "s3"]

    assert as_json("endpoints", "delete", uid, *server) == {"id": uid, "deleted": True}
    gone = one_error_line(run("endpoints", "show", uid, *server))
    assert f"no endpoint '{uid}'" in gone
    assert uid not in [e["id"] for e in as_json("endpoints", "list", *server)["endpoints"]]


def test_readable_output(bridge: BridgeProcess, uid: str) -> None:
    """Without --json, create and show print the URL, secret and steps; list prints a table."""
    server = ["--server", bridge.url]
    text = ok("endpoints", "create", uid, "--provider", "github", "--secret", SECRET, *server)
    assert f"{bridge.url}/hooks/{uid}" in text
    assert SECRET in text
    assert "1. On GitHub" in text
    assert f"bridge send {uid} --provider github --secret {SECRET}" in text
    assert f"{bridge.url}/hooks/{uid}" in ok("endpoints", "show", uid, *server)

    table = ok("endpoints", "list", *server).splitlines()
    assert table[0].split() == ["ID", "PROVIDER", "SECRETS", "URL", "DESCRIPTION"]
    (row,) = [line for line in table if line.startswith(uid + " ")]
    assert row.split()[:4] == [uid, "github", "1", f"{bridge.url}/hooks/{uid}"]

    rotated = ok("endpoints", "rotate", uid, "--secret", "chosen-secret-789", *server)
    assert "chosen-secret-789" in rotated
    assert "s1, s2" in rotated
    assert uid in ok("endpoints", "delete", uid, *server)


def test_rotate_says_what_is_left_to_do(bridge: BridgeProcess, uid: str) -> None:
    """After a rotation the last line says to give the new secret to a provider that takes
    the bridge's (not to one that issued it) and how to retire the old live one."""
    server = ["--server", bridge.url]
    ok("endpoints", "create", uid, "--provider", "github", "--secret", SECRET, *server)
    generated = ok("endpoints", "rotate", uid, *server).splitlines()
    assert generated[-1] == (
        "Give the new secret to github; the old ones stay valid until you retire them: "
        f"bridge endpoints retire {uid} s1 --server {bridge.url}"
    )
    issued = f"{uid}-pay"
    ok("endpoints", "create", issued, "--provider", "stripe", "--secret", "whsec_first_123",
       *server)  # fmt: skip
    ok("endpoints", "rotate", issued, "--secret", "whsec_second_123", *server)
    ok("endpoints", "retire", issued, "s1", "--grace", "600", *server)
    rotated = ok("endpoints", "rotate", issued, "--secret", "whsec_third_123", *server)
    assert rotated.splitlines()[-1] == (
        "The old ones stay valid until you retire them: "
        f"bridge endpoints retire {issued} s2 --server {bridge.url}"
    )


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["Not_An_Id", "--provider", "github"], "id"),
        (["{uid}", "--provider", "stripe"], "secret"),
        (["{uid}", "--provider", "no-such-provider"], "provider"),
        (["{uid}", "--provider", "github", "--secret", "short"], "secret"),
        (["{uid}", "--provider", "hmac", "--option", "algorithm=md5"], "options.algorithm"),
        (["{uid}", "--provider", "github", "--option", "tolerance=0"], "options.tolerance"),
    ],
)
def test_create_errors_name_the_field(
    bridge: BridgeProcess, uid: str, args: list[str], field: str
) -> None:
    """A refused create exits 1 with one line naming the bad field."""
    argv = [a.format(uid=uid) for a in args]
    line = one_error_line(run("endpoints", "create", *argv, "--server", bridge.url))
    assert line.startswith(f"bridge: {field}: "), line
    assert "(invalid_request)" in line


def test_a_tolerance_that_is_no_number_is_named_with_its_value(
    bridge: BridgeProcess, uid: str
) -> None:
    """`--option tolerance=abc` exits 1 with one line naming the option, what it takes and
    the value given."""
    argv = ["endpoints", "create", uid, "--provider", "github", "--option", "tolerance=abc"]
    line = one_error_line(run(*argv, "--server", bridge.url))
    assert line == (
        "bridge: options.tolerance: must be a whole number of seconds from 1 to 86400, "
        'got "abc" (invalid_request)'
    )


def test_create_twice_is_a_conflict(bridge: BridgeProcess, uid: str) -> None:
    """Creating an id that exists exits 1 saying it already exists."""
    bridge.create_endpoint(uid)
    line = one_error_line(
        run("endpoints", "create", uid, "--provider", "github", "--server", bridge.url)
    )
    assert "already exists" in line


def test_unreachable_server(uid: str) -> None:
    """No bridge at the URL: exit 1 with one line saying so, for the API and for listen."""
    url = f"http://127.0.0.1:{free_port()}"
    for args in (["endpoints", "list"], ["listen", uid], ["token", "--channel", uid]):
        line = one_error_line(run(*args, "--server", url))
        assert line == (
            f"bridge: cannot reach {url}: is the bridge running? (make run; one on another"
            " address: --server URL or BRIDGE_SERVER)"
        )
    line = one_error_line(
        run("send", uid, "--provider", "github", "--secret", SECRET, "--server", url)
    )
    assert f"cannot reach {url}" in line


def test_a_server_that_hangs_up_unanswered_is_not_called_unreachable() -> None:
    """A listener that takes the request and closes without an answer was reached: the line
    says it hung up, not that the bridge may be down."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"

        def hang_up() -> None:  # the one request the command makes (requests retries none)
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)

        answering = threading.Thread(target=hang_up)
        answering.start()
        line = one_error_line(run("endpoints", "list", "--server", url))
        answering.join()
    assert line == f"bridge: {url} closed the connection without an answer: is that a bridge?"


@pytest.mark.parametrize("body", [b"[]", b'"x"', b"null", b"not json"])
def test_a_server_answering_no_json_object_is_not_a_bridge(body: bytes) -> None:
    """A 200 whose body is a JSON list, string or null (or no JSON) is not a bridge's answer:
    one line saying so, exit 1 (a list read as "No endpoints yet", exit 0)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"

        def answer() -> None:  # the one request the command makes
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )

        answering = threading.Thread(target=answer)
        answering.start()
        result = run("endpoints", "list", "--server", url)
        answering.join()
    assert result.returncode == 1
    assert one_error_line(result) == (
        f"bridge: {url}/api/endpoints answered 200 with something that is not a JSON object:"
        " is that a bridge?"
    )


def test_wrong_token_is_refused(bridge: BridgeProcess, uid: str) -> None:
    """A wrong admin token exits 1 with one line, for the API and for the WebSocket upgrade."""
    bridge.create_endpoint(uid)
    env = cli_env("wrong-token-0123456789")
    api = one_error_line(run("endpoints", "list", "--server", bridge.url, env=env))
    assert api.startswith(f"bridge: the admin token was refused by {bridge.url} (HTTP 401)")
    assert "check BRIDGE_ADMIN_TOKEN" in api
    ws = one_error_line(run("listen", uid, "--server", bridge.url, env=env))
    assert ws.startswith(f"bridge: the admin token was refused by {bridge.url}")
    assert "HTTP 401 on the WebSocket upgrade" in ws


def test_admin_token_from_the_data_dir(bridge: BridgeProcess, tmp_path: Path) -> None:
    """Without BRIDGE_ADMIN_TOKEN the token is read from $BRIDGE_DATA_DIR/admin-token."""
    env = cli_env(None, BRIDGE_DATA_DIR=str(tmp_path))
    missing = one_error_line(run("endpoints", "list", "--server", bridge.url, env=env))
    assert "no admin token" in missing
    assert str(tmp_path / "admin-token") in missing
    (tmp_path / "admin-token").write_text(ADMIN_TOKEN + "\n")
    assert "endpoints" in json.loads(
        ok("endpoints", "list", "--server", bridge.url, "--json", env=env)
    )


def test_server_from_the_environment(bridge: BridgeProcess) -> None:
    """BRIDGE_SERVER is the default server; a malformed one exits 1 naming the variable."""
    assert "endpoints" in json.loads(
        ok("endpoints", "list", "--json", env=cli_env(BRIDGE_SERVER=bridge.url))
    )
    line = one_error_line(run("endpoints", "list", env=cli_env(BRIDGE_SERVER="localhost:8000")))
    assert line.startswith("bridge: BRIDGE_SERVER: ")


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["endpoints"],
        ["endpoints", "create", "x"],
        ["endpoints", "create", "x", "--provider", "github", "--option", "no-equals-sign"],
        ["endpoints", "list", "--server", "ftp://example.com"],
        ["send", "x", "--provider", "github"],
        ["send", "x", "--provider", "no-such-provider", "--secret", SECRET],
        ["listen", "x", "--since", "yesterday"],
        ["listen", "Not_An_Id"],
        ["listen", "x", "--forward-to", "localhost:3000"],
        ["listen", "x", "--forward-to", "http://a.test", "--forward-to", "http://b.test"],
        ["listen", "x", "--forward-to", "y=http://a.test"],
        ["listen", "x", "--stall-after", "0"],
        ["replay", "x", "--to", "http://a.test"],
        ["replay", "x", "--since", "0", "--to", "ftp://a.test"],
        ["replay", "x", "--since", "5-0", "--until", "4-0", "--to", "http://a.test"],
        ["replay", "x", "--since", "0", "--to", "http://a.test", "--rate", "0"],
        ["register"],
        ["register", "github"],
        ["register", "github", "--repo", "not-a-repo"],
        ["register", "github", "--repo", "o/r", "--events", "push,,issues"],
        ["register", "stripe", "--api-base", "api.stripe.com"],
        ["token", "--channel", "x", "--ttl", "-5"],
        # an argument that is no endpoint id, or not text (a byte that is not UTF-8)
        *(
            [*command, bad]
            for command in (
                ["endpoints", "show"],
                ["endpoints", "delete"],
                ["endpoints", "rotate"],
                ["rejections"],
                ["send", "--provider", "github", "--secret", SECRET],
            )
            for bad in ("\udcff", "x\n", "a" * 5000)
        ),
        ["endpoints", "retire", "\udcff", "s1"],
        ["send", "x", "--provider", "github", "--secret", SECRET, "--event-id", "\udcff"],
        ["send", "x", "--provider", "github", "--secret", SECRET, "--event-id", "a\nb"],
        ["send", "x", "--provider", "github", "--secret", SECRET, "--event-type", "\u20ac"],
        ["send", "x", "--provider", "github", "--secret", SECRET, "--data", "\udcff"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    """A malformed command line is a usage error: exit 2, usage on stderr."""
    result = run(*args)
    assert result.returncode == 2, result
    assert "usage: bridge" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("server", "named"),
    [
        ("http://user:pw@127.0.0.1:8000", "no user:password@"),
        ("http://127.0.0.1:99999", "from 1 to 65535"),
        ("http://127.0.0.1:0", "from 1 to 65535"),
        ("http://127.0.0.1:8000?x=1", "no ?query"),
        ("http://127.0.0.1:8000/#top", "no ?query"),
    ],
)
def test_a_server_url_the_cli_cannot_use_is_a_usage_error_naming_why(
    server: str, named: str
) -> None:
    """Credentials (requests sent them as Basic auth instead of the token, and the error
    echoed the password), a port outside 1-65535, or a query the paths were glued onto:
    exit 2 naming --server and why, the password never shown."""
    result = run("endpoints", "list", "--server", server)
    assert result.returncode == 2, result
    assert "--server" in result.stderr
    assert named in result.stderr
    assert "pw" not in result.stderr


def test_a_forward_to_url_keeps_its_query_and_credentials() -> None:
    """A local app's URL may carry a query and user:password@ (only the server's may not);
    its port is still checked."""
    assert (
        shared.url_arg("http://u:p@127.0.0.1:3000/hook?x=1") == "http://u:p@127.0.0.1:3000/hook?x=1"
    )
    with pytest.raises(argparse.ArgumentTypeError, match="from 1 to 65535"):
        shared.url_arg("http://127.0.0.1:70000/hook")


@pytest.mark.parametrize(
    "command",
    [
        ["endpoints", "create", "v5", "--provider", "github"],
        ["send", "v5", "--provider", "github", "--secret", SECRET],
    ],
)
@pytest.mark.parametrize("option", ["tolerance=1e400", "tolerance=-1e400", "mask=[1e400]"])
def test_an_option_number_past_a_float_is_a_usage_error_naming_it(
    command: list[str], option: str
) -> None:
    """`--option` holding a number too large for JSON (1e400) is exit 2 naming the option and
    its value, not requests' "Out of range float values are not JSON compliant"."""
    result = run(*command, "--option", option, "--server", "http://127.0.0.1:9")
    assert result.returncode == 2, result
    assert "usage: bridge" in result.stderr
    last = result.stderr.splitlines()[-1]
    assert f"error: argument --option: {option}: " in last, last
    assert "too large for a JSON number" in last, last
    assert "Out of range" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["serve"],
        ["endpoints"],
        ["endpoints", "create"],
        ["endpoints", "list"],
        ["endpoints", "show"],
        ["endpoints", "delete"],
        ["endpoints", "rotate"],
        ["endpoints", "retire"],
        ["rejections"],
        ["send"],
        ["listen"],
        ["replay"],
        ["register"],
        ["register", "github"],
        ["register", "stripe"],
        ["token"],
    ],
)
def test_every_help_has_an_example(args: list[str]) -> None:
    """Every command's --help ends with at least one example."""
    text = ok(*args, "--help")
    assert re.search(r"^examples?:\n  ([A-Z_]+=\S+ )?bridge ", text, re.MULTILINE), text


def test_version() -> None:
    """`bridge --version` prints the package version."""
    from bridge import __version__

    assert ok("--version").strip() == f"bridge {__version__}"


# -- send --------------------------------------------------------------------------------

CORE = [
    # provider, secret, --event-type (None: the sample's default), the event_type stored
    ("github", SECRET, None, "push"),
    ("github", SECRET, "pull_request.opened", "pull_request.opened"),
    ("stripe", "whsec_test_secret_0123456789", None, "payment_intent.succeeded"),
    ("stripe", "whsec_test_secret_0123456789", "invoice.paid", "invoice.paid"),
    ("standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", None, "invoice.paid"),
    ("slack", "8f742231b10e8888abcd99yyyzzz85a5", None, "app_mention"),
    ("shopify", "shpss_test_secret_0123456789", None, "orders/create"),
    ("shopify", "shpss_test_secret_0123456789", "products/update", "products/update"),
    ("razorpay", SECRET, None, "payment.captured"),
    ("hmac", SECRET, None, "order.created"),
]


def send(
    bridge: BridgeProcess, endpoint_id: str, name: str, secret: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """`bridge send <endpoint> --provider <name> --secret <secret> <extra>` to `bridge`."""
    args = ["send", endpoint_id, "--provider", name, "--secret", secret, *extra]
    return run(*args, "--server", bridge.url)


@pytest.mark.parametrize(("name", "secret", "event_type", "stored_type"), CORE)
def test_send_lands_for_each_core_provider(
    bridge: BridgeProcess,
    uid: str,
    name: str,
    secret: str,
    event_type: str | None,
    stored_type: str,
) -> None:
    """`bridge send` signs as the provider does: 202, and the event is stored with its type."""
    bridge.create_endpoint(uid, name, secret)
    result = send(bridge, uid, name, secret, *(["--event-type", event_type] if event_type else []))
    assert result.returncode == 0, result
    ((status, answer),) = answers(result.stdout)
    assert status == 202
    assert answer["duplicate"] is False
    (stored,) = events(bridge, uid)
    assert stored["id"] == answer["id"]
    assert stored["event_type"] == stored_type
    assert stored["verified"] is True
    assert stored["headers"]["content-type"] == "application/json"


@pytest.mark.parametrize("name", ["github", "stripe", "slack", "standard"])
def test_send_with_event_id(bridge: BridgeProcess, uid: str, name: str) -> None:
    """--event-id becomes the stored event id (header or body, as the provider carries it)."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    bridge.create_endpoint(uid, name, secret)
    assert send(bridge, uid, name, secret, "--event-id", "evt_cli_1").returncode == 0
    (stored,) = events(bridge, uid)
    assert stored["event_id"] == "evt_cli_1"


def test_send_hmac_with_the_endpoints_options(bridge: BridgeProcess, uid: str) -> None:
    """An hmac endpoint's header, prefix and type field options are honoured by --option, and
    the `Test it:` line that create prints carries them and works as printed."""
    options = {"header": "X-Acme-Signature", "prefix": "sha256=", "type_field": "meta.event"}
    flags = [arg for key, value in options.items() for arg in ("--option", f"{key}={value}")]
    printed = ok("endpoints", "create", uid, "--provider", "hmac", "--secret", SECRET, *flags,
                 "--server", bridge.url)  # fmt: skip
    (test_it,) = [line for line in printed.splitlines() if line.startswith("Test it:")]
    command = shlex.split(test_it.removeprefix("Test it:"))
    assert command[:2] == ["bridge", "send"]
    assert answers(ok(*command[1:], "--event-type", "user.signup"))[0][0] == 202
    (stored,) = events(bridge, uid)
    assert stored["event_type"] == "user.signup"
    assert stored["headers"]["x-acme-signature"].startswith("sha256=")
    assert stored["body"]["meta"] == {"event": "user.signup"}


def test_send_data_from_a_file_and_inline(bridge: BridgeProcess, uid: str, tmp_path: Path) -> None:
    """--data @file and --data '<json>' are sent byte for byte; a missing file is one line."""
    bridge.create_endpoint(uid, "github", SECRET)
    raw = b'{"zen": "Keep it logically awesome.",\n "hook_id": 1}\n'
    (tmp_path / "ping.json").write_bytes(raw)
    inline = '{"action": "closed", "issue": {"number": 7}}'
    from_file = send(bridge, uid, "github", SECRET, "--event-type", "ping",
                     "--data", f"@{tmp_path / 'ping.json'}")  # fmt: skip
    assert from_file.returncode == 0, from_file
    given = send(bridge, uid, "github", SECRET, "--event-type", "issues.closed", "--data", inline)
    assert given.returncode == 0, given
    first, second = events(bridge, uid)
    assert first["event_type"] == "ping"
    assert first["body"] == json.loads(raw)
    assert second["event_type"] == "issues.closed"
    assert second["body"] == json.loads(inline)
    missing = send(bridge, uid, "github", SECRET, "--data", f"@{tmp_path / 'missing.json'}")
    assert "cannot read --data file" in one_error_line(missing)


@pytest.mark.parametrize(
    ("flag", "name", "secret", "reason"),
    [
        ("--tamper", "github", SECRET, "bad_signature"),
        ("--tamper", "stripe", "whsec_test_secret_0123456789", "bad_signature"),
        ("--tamper", "shopify", "shpss_test_secret_0123456789", "bad_signature"),
        ("--stale", "stripe", "whsec_test_secret_0123456789", "stale_timestamp"),
        ("--stale", "slack", "8f742231b10e8888abcd99yyyzzz85a5", "stale_timestamp"),
        ("--stale", "standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "stale_timestamp"),
        ("--wrong-secret", "github", SECRET, "bad_signature"),
        ("--wrong-secret", "razorpay", SECRET, "bad_signature"),
        ("--wrong-secret", "hmac", SECRET, "bad_signature"),
    ],
)
def test_send_negative_cases_are_refused(
    bridge: BridgeProcess, uid: str, flag: str, name: str, secret: str, reason: str
) -> None:
    """--tamper, --stale and --wrong-secret get 401 with the right reason, exit 1, store nothing."""
    bridge.create_endpoint(uid, name, secret)
    result = send(bridge, uid, name, secret, flag)
    assert result.returncode == 1, result
    assert result.stderr == ""
    assert answers(result.stdout) == [(401, {"error": "invalid_signature", "reason": reason})]
    assert events(bridge, uid) == []


def test_send_duplicate(bridge: BridgeProcess, uid: str) -> None:
    """--duplicate sends the same signed request twice: 202, then 200 duplicate, one event."""
    secret = "whsec_test_secret_0123456789"
    bridge.create_endpoint(uid, "stripe", secret)
    result = send(bridge, uid, "stripe", secret, "--duplicate")
    assert result.returncode == 0, result
    (first_status, first), (second_status, second) = answers(result.stdout)
    assert (first_status, first["duplicate"]) == (202, False)
    assert (second_status, second["duplicate"]) == (200, True)
    assert second["id"] == first["id"]
    assert len(events(bridge, uid)) == 1


def test_send_to_an_unknown_endpoint(bridge: BridgeProcess, uid: str) -> None:
    """A 404 answer is printed and the command exits 1."""
    result = send(bridge, uid, "github", SECRET)
    assert result.returncode == 1
    assert answers(result.stdout) == [(404, {"error": "unknown_endpoint", "id": uid})]


def test_send_slack_url_verification(bridge: BridgeProcess, uid: str) -> None:
    """A signed Slack url_verification is answered with its challenge, and nothing is stored."""
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    bridge.create_endpoint(uid, "slack", secret)
    result = send(bridge, uid, "slack", secret, "--event-type", "url_verification")
    assert result.returncode == 0, result
    ((status, answer),) = answers(result.stdout)
    assert status == 200
    assert set(answer) == {"challenge"}
    assert events(bridge, uid) == []


# -- listen ------------------------------------------------------------------------------


def test_listen_prints_live_events(bridge: BridgeProcess, uid: str, listen: Listen) -> None:
    """listen prints one `<id> <type> <verified> <received_at>` line per event posted after it
    started, and exits 0 on Ctrl-C."""
    bridge.create_endpoint(uid)
    before = post(bridge, uid, 1)
    listener = listen(uid, "--server", bridge.url)
    listener.started()
    ids = post(bridge, uid, 3)
    lines = listener.wait_for(listener.out, lambda line: True, count=3)
    assert [line.split()[0] for line in lines] == ids
    for line in lines:
        cursor, event_type, verified, received_at = line.split()
        assert CURSOR.match(cursor)
        assert (event_type, verified) == ("push", "verified")
        assert ISO.match(received_at), received_at
    assert listener.interrupt() == 0
    assert before[0] not in "\n".join(listener.out)
    assert len(listener.out) == 3


def test_listen_since_prints_the_backlog_as_json(
    bridge: BridgeProcess, uid: str, listen: Listen
) -> None:
    """listen --since prints the retained events after the cursor, then live ones; --json
    prints whole event frames."""
    bridge.create_endpoint(uid)
    ids = post(bridge, uid, 3)
    listener = listen(uid, "--since", ids[0], "--json", "--server", bridge.url)
    listener.wait_for(listener.out, lambda line: True, count=2)
    later = post(bridge, uid, 1)
    lines = listener.wait_for(listener.out, lambda line: True, count=3)
    frames = [json.loads(line) for line in lines]
    assert [f["event"]["id"] for f in frames] == ids[1:] + later
    assert all(f["type"] == "event" and f["channel"] == uid for f in frames)
    assert frames[0]["event"]["body"] == {"n": 1}
    assert listener.interrupt() == 0
    assert len(listener.out) == 3

    everything = listen(uid, "--since", "0", "--server", bridge.url)
    lines = everything.wait_for(everything.out, lambda line: True, count=4)
    assert [line.split()[0] for line in lines] == ids + later
    assert everything.interrupt() == 0


def test_listen_warns_when_events_were_missed(
    tight_bridge: BridgeProcess, uid: str, listen: Listen
) -> None:
    """A --since older than the retained history prints a warning line, then what is left."""
    tight_bridge.create_endpoint(uid)  # this bridge keeps 5 events per endpoint
    ids = post(tight_bridge, uid, 8)
    listener = listen(uid, "--since", ids[0], "--server", tight_bridge.url)
    lines = listener.wait_for(listener.out, lambda line: True, count=5)
    assert [line.split()[0] for line in lines] == ids[3:]
    (warning,) = listener.wait_for(listener.err, "WARNING")
    assert "missed" in warning
    assert "recovered: false" in warning
    assert listener.interrupt() == 0


def test_listen_to_an_unknown_endpoint(bridge: BridgeProcess, uid: str) -> None:
    """Listening to an endpoint that does not exist exits 1 with one line."""
    line = one_error_line(run("listen", uid, "--server", bridge.url))
    assert f"no endpoint '{uid}'" in line


def test_listen_reconnects_and_resumes(
    redis_url: str, tmp_path: Path, uid: str, listen: Listen
) -> None:
    """When the bridge restarts, listen says it is away, comes back by itself, and prints the
    next event exactly once, having resumed after the last one it saw."""
    first = BridgeProcess(tmp_path / "first", redis_url)
    second = BridgeProcess(tmp_path / "second", redis_url, port=first.port)
    try:
        first.start()
        first.create_endpoint(uid)
        listener = listen(uid, "--server", first.url)
        listener.started()
        (seen,) = post(first, uid, 1)
        listener.wait_for(listener.out, seen)
        assert first.stop(signal.SIGTERM) == 0
        listener.wait_for(listener.err, "away: lost")

        second.start()
        (after,) = post(second, uid, 1)
        listener.wait_for(listener.out, after, timeout=45)
        listener.wait_for(listener.err, f"back: reconnected to {first.url}")
        assert listener.interrupt() == 0
        assert [line.split()[0] for line in listener.out] == [seen, after]
    finally:
        second.stop()
        first.stop()


# -- token -------------------------------------------------------------------------------


def test_token_prints_a_usable_subscriber_token(
    bridge: BridgeProcess, uid: str, connect: Connect
) -> None:
    """`bridge token` prints a token that may subscribe to its channel and to no other."""
    bridge.create_endpoint(uid)
    minted = ok("token", "--channel", uid, "--ttl", "60", "--server", bridge.url).strip()
    assert minted.startswith("wbs1.")
    client = connect(bridge, minted)
    assert client.subscribe(uid)["recovered"] is True
    client.send({"type": "subscribe", "channel": "someone-else"})
    assert client.recv()["code"] == "forbidden"
    (cursor,) = post(bridge, uid, 1)
    assert client.events(1)[0]["id"] == cursor

    described = as_json("token", "--channel", uid, "--server", bridge.url)
    assert described["channels"] == [uid]
    assert described["token"].startswith("wbs1.")
    assert ISO.match(described["expires_at"])


def test_token_for_an_unknown_channel(bridge: BridgeProcess, uid: str) -> None:
    """Minting a token for an endpoint that does not exist exits 1 with one line."""
    line = one_error_line(run("token", "--channel", uid, "--server", bridge.url))
    assert f"no endpoint '{uid}'" in line


def test_samples_verify_with_the_providers_own_check() -> None:
    """The sample bodies parse as JSON and the provider's own verifier accepts the signature."""
    from bridge.cli import samples
    from bridge.providers import Secret, WebhookRequest

    for name, secret, _, stored_type in CORE[::2]:
        event_type = samples.default_event_type(name)
        now = time.time()
        body = samples.sample(name, event_type, event_id=None, now=now)
        assert isinstance(json.loads(body), dict)
        headers = provider(name).sign(body, secret, now=now, event_type=event_type)
        request = WebhookRequest(
            body=body, headers={k.lower(): v for k, v in headers.items()}, now=now
        )
        assert provider(name).verify(request, [Secret("s1", secret)]).verified
        assert provider(name).identify(request).event_type == stored_type


def test_client_settings_from_the_environment() -> None:
    """ClientSettings reads the client's variables once, masks credentials in its repr, and a
    malformed URL raises ConfigError naming the variable."""
    from bridge.config import ClientSettings
    from bridge.errors import ConfigError

    settings = ClientSettings.from_env(
        {
            "BRIDGE_SERVER": " https://hooks.example.com/ ",
            "BRIDGE_ADMIN_TOKEN": "admin-token-0123456789",
            "BRIDGE_DATA_DIR": "/srv/bridge",
            "GITHUB_TOKEN": "ghp_secret",
            "STRIPE_API_KEY": "sk_test_secret",
        }
    )
    assert settings.server == "https://hooks.example.com"
    assert str(settings.data_dir) == "/srv/bridge"
    assert settings.github_api_url == "https://api.github.com"
    assert settings.stripe_api_base == "https://api.stripe.com"
    shown = repr(settings)
    assert "ghp_secret" not in shown
    assert "sk_test_secret" not in shown
    assert "admin-token-0123456789" not in shown
    assert ClientSettings.from_env({}) == ClientSettings()
    for name in ("BRIDGE_SERVER", "GITHUB_API_URL", "STRIPE_API_BASE"):
        with pytest.raises(ConfigError) as refused:
            ClientSettings.from_env({name: "localhost:8000"})
        assert refused.value.variable == name


@pytest.mark.parametrize(
    ("variable", "args"),
    [
        ("BRIDGE_ADMIN_TOKEN", ["endpoints", "list"]),
        ("GITHUB_TOKEN", ["register", "github", "--repo", "octo/hello"]),
        ("STRIPE_API_KEY", ["register", "stripe"]),
    ],
)
def test_a_credential_no_header_can_carry_is_refused_without_showing_it(
    bridge: BridgeProcess, variable: str, args: list[str]
) -> None:
    """A token or key holding a newline (or anything no HTTP header can carry) exits 1 with
    one line naming its variable, and the credential's text appears nowhere in the output."""
    secret = "0123456789abcdef\nsecret-part-42"
    env = cli_env(**{variable: secret}) if variable != "BRIDGE_ADMIN_TOKEN" else cli_env(secret)
    result = run(*args, "--server", bridge.url, env=env)
    line = one_error_line(result)
    assert line.startswith(f"bridge: {variable}: "), line
    assert "secret-part-42" not in result.stderr + result.stdout
    assert "0123456789abcdef" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "content", [b"0123456789abcdef\nsecret-part-42\n", b"\xff\xfesecret-part-42"]
)
def test_an_admin_token_file_no_header_can_carry_is_refused_without_showing_it(
    bridge: BridgeProcess, tmp_path: Path, content: bytes
) -> None:
    """An admin-token file of two lines or of bytes that are not ASCII text exits 1 with one
    line naming the file, and none of its text in the output."""
    (tmp_path / "admin-token").write_bytes(content)
    env = cli_env(None, BRIDGE_DATA_DIR=str(tmp_path))
    result = run("endpoints", "list", "--server", bridge.url, env=env)
    line = one_error_line(result)
    assert str(tmp_path / "admin-token") in line
    assert "secret-part-42" not in result.stderr + result.stdout


def test_a_description_holding_terminal_escapes_is_shown_escaped(
    bridge: BridgeProcess, uid: str
) -> None:
    """`endpoints show` and `endpoints list` write an endpoint's description with its control
    characters escaped: one set through the API with ESC sequences cleared the screen (and
    set the title) of whoever listed the endpoints."""
    bridge.create_endpoint(uid, description="\x1b[2Jwiped\x1b]0;title\x07")
    for args in (["endpoints", "show", uid], ["endpoints", "list"]):
        out = ok(*args, "--server", bridge.url)
        assert "\x1b" not in out
        assert "\x07" not in out
        assert "\\x1b[2Jwiped" in out


@pytest.mark.parametrize("raw", NOT_WHOLE)
@pytest.mark.parametrize("parse", [shared.positive_int, shared.seconds_arg])
def test_a_whole_number_argument_takes_ascii_digits_only(
    parse: Callable[[str], int], raw: str
) -> None:
    """--ttl, --grace, --last and the like refuse what int() would read, saying what is taken."""
    with pytest.raises(argparse.ArgumentTypeError, match=r"^(expected a whole number|must be)"):
        parse(raw)


@pytest.mark.parametrize("raw", [*NOT_WHOLE, "1e3", "inf", "nan", "0", "-1"])
def test_a_number_of_seconds_argument_takes_a_plain_decimal_above_0(raw: str) -> None:
    """--rate, --timeout and the like refuse what float() would read besides a decimal."""
    with pytest.raises(argparse.ArgumentTypeError, match=r"^(expected a number|must be more)"):
        shared.positive_float(raw)


def test_a_count_of_arabic_indic_digits_is_a_usage_error_naming_the_argument() -> None:
    """`rejections x --last ١٢` exits 2 naming --last and quoting the value."""
    result = run("rejections", "x", "--last", "\u0661\u0662")
    assert result.returncode == 2, result
    assert "argument --last: expected a whole number, got '\u0661\u0662'" in result.stderr
    assert "Traceback" not in result.stderr
