"""The hmac provider's option patterns, as the OpenAPI document states them, take what the
server takes: read as ECMAScript reads them (Node's RegExp), whose whitespace is not
Python's (`\\s` there has a BOM and no \\x1c-\\x1f or NEL)."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from flask.testing import FlaskClient

from bridge.providers import get as provider
from bridge.providers.generic_hmac import GenericHmac
from tests.ingest_support import SECRET, history

# Whitespace one dialect has and the other lacks, and some both have.
ODD_SPACES = ["\ufeff", "\x1c", "\x1f", "\x85", "\xa0", "\u3000", " ", "\t"]
VALUES = [
    *(f"{space}x-my-sig" for space in ODD_SPACES),
    *(f"x-my-sig{space}" for space in ODD_SPACES),
    "x my-sig",
    "x-my-sig",
]


def ecmascript_matches(pattern: str, values: list[str]) -> list[bool]:
    """Whether each value matches `pattern` as a JSON Schema validator in JavaScript reads it."""
    script = (
        "const [p, vs] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const re = new RegExp(p, 'u');"
        "process.stdout.write(JSON.stringify(vs.map((v) => re.test(v))));"
    )
    done = subprocess.run(
        ["node", "-e", script],
        input=json.dumps([pattern, values]),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    matches: list[bool] = json.loads(done.stdout)
    return matches


@pytest.mark.parametrize("option", ["header", "id_header"])
def test_a_header_option_is_taken_by_the_server_as_by_the_document(
    client: FlaskClient, auth: dict[str, str], uid: str, option: str
) -> None:
    """Each header name with odd whitespace around it is refused or taken alike by the
    server and by the document's pattern; taken, it names the header without the space."""
    documented = ecmascript_matches(GenericHmac.option_rules[option]["pattern"], VALUES)
    for n, (value, allowed) in enumerate(zip(VALUES, documented, strict=True)):
        endpoint_id = f"{uid}-{n}"
        body = {"id": endpoint_id, "provider": "hmac", "secret": SECRET, "options": {option: value}}
        answer = client.post("/api/endpoints", json=body, headers=auth)
        assert (answer.status_code == 201) == allowed, (value, answer.get_data(as_text=True))
        if not allowed:
            continue
        data = b'{"type":"t","n":1}'
        headers = provider("hmac").sign(data, SECRET, now=time.time(), options={option: value})
        if option == "id_header":
            headers["x-my-sig"] = f"evt-{n}"
        delivered = client.post(f"/hooks/{endpoint_id}", data=data, headers=headers)
        assert delivered.status_code == 202, (value, delivered.get_data(as_text=True))
        if option == "id_header":
            [event] = history(client, auth, endpoint_id)
            assert event["event_id"] == f"evt-{n}"


@pytest.mark.parametrize("option", ["header", "id_header"])
def test_a_header_option_of_a_long_run_of_spaces_is_refused_at_once(
    client: FlaskClient, auth: dict[str, str], uid: str, option: str
) -> None:
    """`x`, 500,000 spaces, `x`: a 400 naming the option, in one pass over it (stripping
    its ends by a search took time quadratic in the run, some 15 minutes for this one)."""
    value = "x" + " " * 500_000 + "x"
    body = {"id": uid, "provider": "hmac", "secret": SECRET, "options": {option: value}}
    answer = client.post("/api/endpoints", json=body, headers=auth)
    assert answer.status_code == 400
    assert answer.get_json()["field"] == f"options.{option}"
