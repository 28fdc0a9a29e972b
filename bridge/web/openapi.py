"""The OpenAPI 3 description of every HTTP route, served at /api/openapi.json.

Derived, not kept by hand: paths, methods and path parameters come from the app's registered
routes, summaries from the views' docstrings, `security` (and the 401) from whether the
route's blueprint runs `require_admin`. What a route cannot tell (responses, bodies, query
parameters) is declared on the view with `@documented` (bridge/web/operation.py), from
schemas kept beside the checks that enforce them (identifiers, cursor, search, masking,
backfill, each provider's options). tests/test_openapi_fuzz.py runs schemathesis over it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from bridge import __version__, cursor
from bridge.identifiers import ENDPOINT_ID_SCHEMA
from bridge.web.api import require_admin
from bridge.web.operation import Operation, Schema, err, operation_of
from bridge.web.schemas import components

# Path parameters by name, wherever they appear; a view may say more (Operation.path).
PATH_SCHEMAS: dict[str, Schema] = {
    "endpoint_id": ENDPOINT_ID_SCHEMA,
    "cursor": cursor.SCHEMA,
}
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_ADMIN: list[dict[str, list[str]]] = [{"admin": []}]
_IMPLICIT = frozenset({"HEAD", "OPTIONS"})
_SCREENED = "bad_request: a Host that is no host[:port], or a forwarded scheme not http(s)"


def path_of(rule: Rule) -> str:
    """`/api/endpoints/<endpoint_id>` as OpenAPI writes it: `/api/endpoints/{endpoint_id}`."""
    return _ARGUMENT.sub(r"{\1}", rule.rule)


def _summary(view: Any) -> str:
    doc = (getattr(view, "__doc__", None) or "").strip()
    first = doc.split("\n\n", 1)[0]
    return " ".join(first.split()) or str(getattr(view, "__name__", "")).replace("_", " ")


def _admin_only(app: Flask, endpoint: str) -> bool:
    """Whether the route runs require_admin: its blueprint's before_request says so."""
    blueprint = endpoint.rpartition(".")[0] or None
    return require_admin in app.before_request_funcs.get(blueprint, [])


def _operation(app: Flask, rule: Rule, view: Any, spec: Operation) -> dict[str, Any]:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": spec.path.get(name) or PATH_SCHEMAS.get(name, {"type": "string"}),
        }
        for name in _ARGUMENT.findall(rule.rule)
    ]
    operation: dict[str, Any] = {"summary": _summary(view)}
    if parameters or spec.query:
        operation["parameters"] = [*parameters, *spec.query]
    if spec.body is not None:
        operation["requestBody"] = spec.body
    operation["responses"] = dict(spec.responses) or {"200": {"description": "OK"}}
    # bridge/web/screening.py answers any route so, before its view runs.
    operation["responses"].setdefault("400", err(_SCREENED))
    if _admin_only(app, rule.endpoint):
        operation["security"] = _ADMIN
        operation["responses"]["401"] = err("unauthorized")
    return operation


def _routes(app: Flask) -> Iterator[tuple[Rule, Any, Operation]]:
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        spec = operation_of(view) or Operation({})
        if not spec.hidden:
            yield rule, view, spec


def document(app: Flask, server_url: str, *, allow_unverified: bool = False) -> dict[str, Any]:
    """The document for `app` served at `server_url`; `allow_unverified` is whether it
    accepts provider `none`."""
    paths: dict[str, dict[str, Any]] = {}
    for rule, view, spec in sorted(_routes(app), key=lambda found: found[0].rule):
        methods = sorted((rule.methods or set()) - _IMPLICIT)
        for method in methods:
            paths.setdefault(path_of(rule), {})[method.lower()] = _operation(app, rule, view, spec)
    return {
        "openapi": "3.0.3",
        "info": {"title": "Webhook Bridge", "version": __version__},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": components(allow_unverified=allow_unverified),
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
        },
    }
