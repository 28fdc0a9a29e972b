"""The close-code catalogue (bridge/closecodes.py) is the one table: docs and browsers agree."""

from __future__ import annotations

import json
import re

from flask.testing import FlaskClient

from bridge import closecodes
from tests.support import ROOT

ROW = re.compile(r"^\| (\d{4}) \| `([a-z_]+)` \| .+ \| `(resume|token|never)` \|$")


def documented() -> list[tuple[int, str, str]]:
    """The rows of docs/protocol.md's close-code table: (code, name, reconnect)."""
    text = (ROOT / "docs" / "protocol.md").read_text()
    section = text.split("## Close codes\n", 1)[1].split("\n## ", 1)[0]
    return [(int(m[1]), m[2], m[3]) for line in section.splitlines() if (m := ROW.match(line))]


def test_protocol_doc_lists_exactly_the_catalogue() -> None:
    """docs/protocol.md's close-code table has one row per catalogue entry, same name and advice."""
    expected = [(c.code, c.name, c.reconnect) for c in closecodes.CATALOGUE]
    assert documented() == expected


def test_close_codes_module_is_the_catalogue_served_cross_origin(client: FlaskClient) -> None:
    """/close-codes.js exports the catalogue as JSON, as JavaScript any origin may import."""
    answer = client.get("/close-codes.js")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    body = answer.get_data(as_text=True)
    table = json.loads(body.split("Object.freeze(", 1)[1].rsplit(");", 1)[0])
    assert table == {
        str(c.code): {"name": c.name, "meaning": c.meaning, "reconnect": c.reconnect}
        for c in closecodes.CATALOGUE
    }
    again = client.get("/close-codes.js", headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 304


def test_cli_explains_a_close_with_the_catalogue_meaning() -> None:
    """The CLI's one-line reason for a close is the catalogue's, and unknown codes are named."""
    assert closecodes.meaning(4008) == closecodes.SLOW_CONSUMER.meaning
    assert closecodes.meaning(None) == "connection dropped"
    assert closecodes.meaning(4999) == "closed with code 4999"
