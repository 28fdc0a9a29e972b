"""`responses.json_answer` is `jsonify` with a status: the same bytes and headers, compact or
(in debug mode, or with another provider setting) whatever jsonify makes."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, Response, jsonify
from flask.testing import FlaskClient

from bridge.web.responses import json_answer
from tests.ingest_support import create, deliver

VALUES: list[dict[str, Any]] = [
    {"id": "1765112345678-0", "endpoint": "gh", "duplicate": False, "trace": "0123456789abcdef"},
    {"id": "1-1", "endpoint": "é\u2028\ud800", "duplicate": True, "trace": '"\\</script>'},
    {"n": 1, "x": 1.5, "none": None, "nested": {"a": [1, "b"]}},
    {},
]


def answered(app: Flask, value: dict[str, Any], status: int) -> tuple[Response, Response]:
    with app.test_request_context("/hooks/gh", method="POST"):
        ours = json_answer(value, status)
        theirs = jsonify(value)
        theirs.status_code = status
    return ours, theirs


def same(ours: Response, theirs: Response) -> None:
    assert ours.get_data() == theirs.get_data()
    assert ours.status == theirs.status
    assert list(ours.headers.items()) == list(theirs.headers.items())
    assert type(ours) is type(theirs)


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("status", [200, 202])
def test_the_answer_is_jsonify_s_in_the_bridge_s_settings(
    app: Flask, value: dict[str, Any], status: int
) -> None:
    same(*answered(app, value, status))


@pytest.mark.parametrize(
    "setting",
    [
        {"debug": True},
        {"compact": False},
        {"compact": True, "debug": True},
        {"sort_keys": True},
        {"ensure_ascii": False},
    ],
)
def test_other_provider_settings_answer_as_jsonify_does(setting: dict[str, Any]) -> None:
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # the bridge's (factory.py)
    for name, value in setting.items():
        if name == "debug":
            app.debug = value
        else:
            setattr(app.json, name, value)
    for value in VALUES:
        if not app.json.ensure_ascii and "\ud800" in value.get("endpoint", ""):  # type: ignore[attr-defined]
            # No UTF-8 holds a lone surrogate: jsonify raises, and so does json_answer.
            with pytest.raises(UnicodeEncodeError):
                answered(app, value, 202)
            continue
        same(*answered(app, value, 202))


def test_a_webhook_s_answer_is_as_jsonify_wrote_it(
    client: FlaskClient, auth: dict[str, str], uid: str
) -> None:
    create(client, auth, uid, "github")
    answer = deliver(client, uid, b'{"n":1}', event_id="j1")
    assert answer.status_code == 202
    got = answer.get_json()
    expected = {"id": got["id"], "endpoint": uid, "duplicate": False, "trace": got["trace"]}
    with client.application.test_request_context():
        assert answer.get_data() == jsonify(expected).get_data()
    assert answer.headers["Content-Type"] == "application/json"
    again = deliver(client, uid, b'{"n":1}', event_id="j1")
    assert again.status_code == 200
    assert again.get_json()["duplicate"] is True
