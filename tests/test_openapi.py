"""/api/openapi.json is derived from the registered routes: every route and method is in it,
nothing else, and a new route appears with its parameters, summary and admin rule."""

from __future__ import annotations

import re

from flask import Blueprint, Flask, Response, jsonify
from flask.testing import FlaskClient

from bridge import cursor
from bridge.identifiers import ENDPOINT_ID_SCHEMA
from bridge.web.api import require_admin
from bridge.web.operation import OBJECT, documented, err, ok, query
from tests.support import MakeApp


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_openapi_describes_every_route(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    """/api/openapi.json is OpenAPI 3 and documents every route and method the app serves."""
    answer = client.get("/api/openapi.json", headers=auth)
    assert answer.status_code == 200
    document = answer.get_json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"]
    paths = document["paths"]

    served: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith(".static") or rule.rule == "/ws":
            continue
        methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
        served.setdefault(_openapi_path(rule.rule), set()).update(methods)
    assert "/hooks/{endpoint_id}" in served  # the conversion above works

    missing = {
        f"{method.upper()} {path}"
        for path, methods in served.items()
        for method in methods
        if method not in paths.get(path, {})
    }
    assert not missing, f"routes not in the OpenAPI document: {sorted(missing)}"
    stale = {
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        for method in operations
        if method not in served.get(path, set())
    }
    assert not stale, f"documented routes the app does not serve: {sorted(stale)}"
    for operations in paths.values():
        for operation in operations.values():
            assert operation["responses"]


def test_a_route_registered_on_the_app_is_documented_from_its_registration(
    make_app: MakeApp, auth: dict[str, str]
) -> None:
    """A new admin route appears with its methods, path parameters (schemas by name), query
    parameters, summary from its docstring, and the admin token's 401, with no edit to
    bridge/web/openapi.py."""
    app = make_app()
    probe = Blueprint("probe", __name__, url_prefix="/api/probe/<endpoint_id>")
    probe.before_request(require_admin)

    @probe.route("/things/<cursor>/<label>", methods=["GET", "PUT"])
    @documented(
        {"200": ok("A thing", OBJECT), "404": err("unknown_thing")},
        query=(query("depth", {"type": "integer", "maximum": 3}),),
    )
    def thing(endpoint_id: str, cursor: str, label: str) -> Response:
        """Look at one thing

        More words that stay out of the summary."""
        return jsonify({})

    app.register_blueprint(probe)
    document = app.test_client().get("/api/openapi.json", headers=auth).get_json()

    operations = document["paths"]["/api/probe/{endpoint_id}/things/{cursor}/{label}"]
    assert set(operations) == {"get", "put"}
    operation = operations["put"]
    assert operation["summary"] == "Look at one thing"
    assert operation["parameters"] == [
        {"name": "endpoint_id", "in": "path", "required": True, "schema": ENDPOINT_ID_SCHEMA},
        {"name": "cursor", "in": "path", "required": True, "schema": cursor.SCHEMA},
        {"name": "label", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "depth", "in": "query", "schema": {"type": "integer", "maximum": 3}},
    ]
    assert operation["security"] == [{"admin": []}]
    # 400: what screening answers on any route (a bad Host), documented on every one.
    assert set(operation["responses"]) == {"200", "400", "401", "404"}


def test_a_route_without_the_admin_check_is_documented_without_security(
    make_app: MakeApp, auth: dict[str, str]
) -> None:
    """A route whose blueprint does not run require_admin is listed without `security`, and
    one declared nowhere gets a bare 200 (and screening's 400) rather than being left out."""
    app = make_app()

    @app.get("/probe-open")
    def probe_open() -> Response:
        """Open to anyone"""
        return jsonify({})

    document = app.test_client().get("/api/openapi.json", headers=auth).get_json()
    operation = document["paths"]["/probe-open"]["get"]
    assert "security" not in operation
    assert operation["summary"] == "Open to anyone"
    assert set(operation["responses"]) == {"200", "400"}
    assert operation["responses"]["200"] == {"description": "OK"}
