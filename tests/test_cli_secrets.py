"""`bridge endpoints retire` and `bridge rejections`, against a live bridge."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
import requests

from bridge.client import AdminToken, Api
from tests.cli_support import as_json, ok, one_error_line, run
from tests.support import BridgeProcess

OLD = "old-secret-0123456789"
NEW = "new-secret-0123456789"


def test_retire_with_grace_then_at_once(bridge: BridgeProcess, uid: str) -> None:
    """A retired secret keeps verifying through its grace, and stops once retired at once."""
    bridge.create_endpoint(uid, secret=OLD)
    ok("endpoints", "rotate", uid, "--secret", NEW, "--server", bridge.url)
    text = ok("endpoints", "retire", uid, "s1", "--grace", "3600", "--server", bridge.url)
    assert "stops verifying after 3600 s" in text
    shown_text = ok("endpoints", "show", uid, "--server", bridge.url)
    assert f"{OLD}  (retiring: stops verifying at 20" in shown_text
    assert f"{NEW}  (retiring" not in shown_text
    assert bridge.post_signed(uid, b"{}", secret=OLD, event_id="a").status_code == 202
    shown = as_json("endpoints", "retire", uid, "s1", "--server", bridge.url)
    assert [s["id"] for s in shown["secrets"]] == ["s2"]
    assert bridge.post_signed(uid, b"{}", secret=OLD, event_id="b").status_code == 401
    assert bridge.post_signed(uid, b"{}", secret=NEW, event_id="c").status_code == 202


def test_show_lines_up_every_secret_value(bridge: BridgeProcess, uid: str) -> None:
    """`endpoints show` starts every secret's value in the same column, marking the newest and
    a retiring one after the value."""
    bridge.create_endpoint(uid, secret=OLD)
    ok("endpoints", "rotate", uid, "--secret", NEW, "--server", bridge.url)
    ok("endpoints", "retire", uid, "s1", "--grace", "3600", "--server", bridge.url)
    lines = ok("endpoints", "show", uid, "--server", bridge.url).splitlines()
    assert lines[2].startswith(f"  Secret s1:    {OLD}  (retiring: stops verifying at 20")
    assert lines[3] == f"  Secret s2:    {NEW}  (newest)"


def test_retiring_the_last_secret_is_one_clear_error(bridge: BridgeProcess, uid: str) -> None:
    """Retiring the only live secret exits 1 with one line saying why."""
    bridge.create_endpoint(uid, secret=OLD)
    result = run("endpoints", "retire", uid, "s1", "--server", bridge.url)
    assert result.returncode == 1
    assert "last live secret" in one_error_line(result)


def test_a_negative_grace_is_a_usage_error(bridge: BridgeProcess, uid: str) -> None:
    """`retire --grace -5` exits 2 saying the grace must be 0 or more, and retires nothing."""
    bridge.create_endpoint(uid, secret=OLD)
    result = run("endpoints", "retire", uid, "s1", "--grace", "-5", "--server", bridge.url)
    assert result.returncode == 2, result
    assert "argument --grace: must be 0 or more, got -5" in result.stderr
    assert bridge.post_signed(uid, b"{}", secret=OLD, event_id="kept").status_code == 202


@pytest.mark.parametrize("secret_id", ["../../{victim}", "s1?grace_seconds=5", "s1#x", "s1\n"])
def test_a_secret_id_that_is_not_one_is_a_usage_error_that_touches_nothing(
    bridge: BridgeProcess, uid: str, secret_id: str
) -> None:
    """`retire` with a secret id made of `../`, `?`, `#` or a trailing newline exits 2 naming
    the argument, and neither another endpoint nor the secret it starts like is retired."""
    victim = f"{uid}-victim"
    bridge.create_endpoint(uid, secret=OLD)
    ok("endpoints", "rotate", uid, "--secret", NEW, "--server", bridge.url)
    bridge.create_endpoint(victim, secret=OLD)
    typed = secret_id.format(victim=victim)
    result = run("endpoints", "retire", uid, typed, "--server", bridge.url)
    assert result.returncode == 2, result
    assert "argument secret_id: a secret id is s and its number, e.g. s1" in result.stderr
    assert repr(typed) in result.stderr
    for endpoint in (uid, victim):
        assert bridge.post_signed(endpoint, b"{}", secret=OLD).status_code == 202
    shown = as_json("endpoints", "show", uid, "--server", bridge.url)
    assert [s["id"] for s in shown["secrets"]] == ["s1", "s2"]


def test_the_client_quotes_a_secret_id_as_one_path_segment() -> None:
    """Api.secret_path quotes the id whole, so no id can climb to another endpoint's path."""
    api = Api("http://127.0.0.1:1", AdminToken("t", "test"))
    assert api.secret_path("pay", "../../other?x#y") == (
        "/api/endpoints/pay/secrets/..%2F..%2Fother%3Fx%23y"
    )


def test_rejections_explain_a_failed_delivery(bridge: BridgeProcess, uid: str) -> None:
    """`bridge rejections` prints each rejected delivery with the debugger's hints."""
    bridge.create_endpoint(uid, secret=OLD)
    assert bridge.post_signed(uid, b'{"n": 1}', secret="some-other-secret-1").status_code == 401
    text = ok("rejections", uid, "--server", bridge.url)
    assert "bad_signature" in text
    assert "secrets tried: s1" in text
    assert "matches none of the endpoint's secrets" in text
    assert "If it is, the body changed on the way" in text  # a tampered body reads the same
    assert OLD not in text


def test_rejections_show_the_debuggers_work(bridge: BridgeProcess, uid: str) -> None:
    """`bridge rejections` shows what GitHub signs, the expected and received signatures'
    first 8 characters, and the first difference."""
    bridge.create_endpoint(uid, secret=OLD)
    body = b'{"n": 2}'
    assert bridge.post_signed(uid, body, secret="some-other-secret-1").status_code == 401
    expected = hmac.new(OLD.encode(), body, hashlib.sha256).hexdigest()
    received = hmac.new(b"some-other-secret-1", body, hashlib.sha256).hexdigest()
    text = ok("rejections", uid, "--server", bridge.url)
    assert "signs: {body} = '{body: 8 bytes}'" in text
    assert f"expected: s1 {expected[:8]}…; received: {received[:8]}…" in text
    assert "first difference (signature): the signature matches none of the live secrets" in text
    assert expected not in text


def test_no_rejections_is_said_plainly(bridge: BridgeProcess, uid: str) -> None:
    """An endpoint with no rejected deliveries says so."""
    bridge.create_endpoint(uid, secret=OLD)
    assert "No rejected deliveries" in ok("rejections", uid, "--server", bridge.url)


def test_rejections_escape_what_a_stranger_sent(bridge: BridgeProcess, uid: str) -> None:
    """A forged Mailgun delivery whose signature is terminal escapes (clear the screen) is
    printed with them escaped: `bridge rejections` never hands a stranger's ESC to the
    terminal."""
    bridge.create_endpoint(uid, "mailgun", "m" * 32)
    forged = {"signature": {"timestamp": str(int(time.time())), "token": "t" * 50,
                            "signature": "\x1b[2J\x1b[H"}}  # fmt: skip
    answer = requests.post(f"{bridge.url}/hooks/{uid}", json=forged, timeout=10)
    assert answer.status_code == 401, answer.text
    text = ok("rejections", uid, "--server", bridge.url)
    assert "\x1b" not in text
    assert "received: \\x1b[2J\\x1b[H…" in text
