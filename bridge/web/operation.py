"""What the OpenAPI document says about one view, declared on the view itself.

`@documented(...)` sits on the route beside the checks it describes; bridge/web/openapi.py
takes the path, methods, path parameters, summary (the view's docstring) and whether the
admin token is needed from the registered routes, and only the rest from here: responses,
request body, query parameters. A view without it is still listed, with a bare 200.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

Schema = dict[str, Any]
View = TypeVar("View", bound=Callable[..., Any])

_ATTRIBUTE = "openapi_operation"
OBJECT: Schema = {"type": "object"}
ERROR: Schema = {"$ref": "#/components/schemas/Error"}


@dataclass(frozen=True)
class Operation:
    responses: Mapping[str, Schema]
    body: Schema | None = None  # the whole requestBody object
    query: tuple[Schema, ...] = ()  # query parameters
    path: Mapping[str, Schema] = field(default_factory=dict)  # schemas of path parameters
    hidden: bool = False  # not an HTTP operation (a WebSocket, static files)


def documented(
    responses: Mapping[str, Schema],
    *,
    body: Schema | None = None,
    query: tuple[Schema, ...] = (),
    path: Mapping[str, Schema] | None = None,
) -> Callable[[View], View]:
    operation = Operation(responses, body, query, path or {})

    def mark(view: View) -> View:
        setattr(view, _ATTRIBUTE, operation)
        return view

    return mark


def undocumented(view: View) -> View:
    """Left out of the document (flask-sock's `functools.wraps` carries the mark along)."""
    setattr(view, _ATTRIBUTE, Operation({}, hidden=True))
    return view


def operation_of(view: Callable[..., Any]) -> Operation | None:
    found = getattr(view, _ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None


def ok(description: str, schema: Schema | None = None, media: str = "application/json") -> Schema:
    answer: Schema = {"description": description}
    if schema is not None:
        answer["content"] = {media: {"schema": schema}}
    return answer


def err(description: str) -> Schema:
    return ok(description, ERROR)


def request_body(schema: Schema, *, required: bool = True) -> Schema:
    body: Schema = {"content": {"application/json": {"schema": schema}}}
    if required:
        body["required"] = True
    return body


def query(name: str, schema: Schema, description: str | None = None) -> Schema:
    parameter: Schema = {"name": name, "in": "query", "schema": schema}
    if description is not None:
        parameter["description"] = description
    return parameter
