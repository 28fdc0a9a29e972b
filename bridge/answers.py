"""What the CLI reads of a bridge's answers, and the check of each against it.

A server at a URL the user gave may answer 200 with any JSON object: each answer the CLI
reads is checked against its shape first (Api.call), so one that is not a bridge's is one
line naming the URL and the field, never an AttributeError. Only what the CLI reads and
would crash on or print wrong is named; docs/api.md and /api/openapi.json have the rest.

A shape is a type, or a tuple of them (an instance of one); `{key: shape}` an object
holding each key; `[shape]` a list of them; Maybe(shape) also absent or null; Some(shape)
a list of at least one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias


@dataclass(frozen=True)
class Maybe:
    """`shape`, or absent, or null."""

    shape: Shape


@dataclass(frozen=True)
class Some:
    """A list of at least one `shape`."""

    shape: Shape


Shape: TypeAlias = "type | tuple[type, ...] | dict[str, Shape] | list[Shape] | Maybe | Some"

NUMBER = (int, float)
_NAMES: dict[Any, str] = {
    str: "a string",
    bool: "true or false",
    dict: "an object",
    list: "a list",
    NUMBER: "a number",
}

SECRET: Shape = {"id": str, "value": str}
ENDPOINT: dict[str, Shape] = {
    "id": str,
    "provider": str,
    "url": str,
    "secrets": [SECRET],
    "options": Maybe(dict),
    "setup": Maybe([str]),
}
# What `register` reads of an endpoint it made: the secret the bridge gave it.
ENDPOINT_WITH_SECRET: Shape = {**ENDPOINT, "secrets": Some(SECRET)}
ENDPOINTS: Shape = {"endpoints": [ENDPOINT]}
SECRET_ADDED: Shape = {"endpoint": ENDPOINT, "secret": SECRET}
# An event as the history holds it and the WebSocket sends it (forward.headers_for reads it).
EVENT: Shape = {"id": str, "headers": Maybe(dict), "verification": Maybe(dict)}
EVENT_PAGE: Shape = {
    "events": [EVENT],
    "next": Maybe(str),
    "recovered": Maybe(bool),
}
REJECTIONS: Shape = {
    "rejections": [
        {
            "diagnosis": Maybe(
                {
                    "secrets_tried": Maybe([str]),
                    "hints": Maybe(list),
                    "work": Maybe({"expected": Maybe(dict), "received": Maybe(list)}),
                    "first_difference": Maybe({"kind": object, "detail": object}),
                }
            )
        }
    ]
}
TOKEN: Shape = {"token": str}
BACKFILL_CHECKED: Shape = {
    "events": [{"event_id": str, "duplicate": bool}],
    "accepts_after": NUMBER,
}
BACKFILL_STORED: Shape = {"events": [{"duplicate": bool}]}
OPENAPI_SERVERS: Shape = {"servers": Maybe([{"url": str}])}
# WebSocket frames (bridge/cli/connection.py): a channel is looked up by name.
FRAME: Shape = {"channel": Maybe(str)}
EVENT_FRAME: Shape = {"channel": str, "event": EVENT}


def misfit(value: Any, shape: Shape, at: str = "") -> str | None:
    """What of `value` is not of `shape` (`"endpoints[0].id" not a string`), or None."""
    if isinstance(shape, Maybe):
        return None if value is None else misfit(value, shape.shape, at)
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f'"{at}" not an object'
        for key, inner in shape.items():
            where = f"{at}.{key}" if at else key
            if key not in value and not isinstance(inner, Maybe):
                return f'no "{where}"'
            if wrong := misfit(value.get(key), inner, where):
                return wrong
        return None
    if isinstance(shape, list | Some):
        if not isinstance(value, list):
            return f'"{at}" not a list'
        if isinstance(shape, Some) and not value:
            return f'"{at}" empty'
        item = shape.shape if isinstance(shape, Some) else shape[0]
        return next(
            (wrong for i, v in enumerate(value) if (wrong := misfit(v, item, f"{at}[{i}]"))),
            None,
        )
    kinds = shape if isinstance(shape, tuple) else (shape,)
    # True is an int to isinstance, not to JSON.
    if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
        return None
    return f'"{at}" not {_NAMES[shape]}'
