"""Sensitive-field masking: endpoint option `mask`, a list of JSON paths whose values become
`"***"` in the envelope, once per event at ingest (never per socket).

Path syntax: dotted keys (`data.object.customer_email`), `*` for any key or index
(`*.card.last4`), and `[N]` or `[*]` after a key for list items (`payload[*].email`; a body
that is a list starts with one: `[*].email`). A path that names an object masks all of it.
Only the envelope is masked: the raw bytes are stored as received, so a forwarded or
replayed event still verifies, and only the admin token can read them (`/raw`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bridge.errors import InvalidInput
from bridge.text import SPACE_CLASS

MASK = "***"
MAX_PATHS = 50
MAX_PATH_LENGTH = 200

# None stands for `*`: any key of an object, any index of a list.
Segment = str | int | None
# No whitespace (spelled out: a key must be refused by both regex dialects or neither).
_KEY = rf"[^.\[\]{SPACE_CLASS}]+"
_INDEX = r"\*|[0-9]{1,9}"
# A whole path (the OpenAPI document states the same): a key or an index first, then
# indexes and `.key`s.
PATH_PATTERN = rf"(?:\[(?:{_INDEX})\]|{_KEY})(?:\[(?:{_INDEX})\]|\.{_KEY})*"
_PATH = re.compile(PATH_PATTERN)
# What validate() takes, for the OpenAPI document's `options.mask`.
SCHEMA = {
    "maxItems": MAX_PATHS,
    "items": {"type": "string", "pattern": f"^{PATH_PATTERN}$", "maxLength": MAX_PATH_LENGTH},
}
_TOKEN = re.compile(rf"\[({_INDEX})\]|(?:^|\.)({_KEY})")


def parse_path(text: str, field: str = "options.mask") -> tuple[Segment, ...]:
    """`"payload[*].email"` -> `("payload", None, "email")`; InvalidInput naming `field`."""
    problem = f"{text!r} is not a path like data.object.email or items[*].card.last4"
    if len(text) > MAX_PATH_LENGTH or _PATH.fullmatch(text) is None:
        raise InvalidInput(field, problem)
    segments: list[Segment] = []
    for index, key in _TOKEN.findall(text):
        if key:
            segments.append(None if key == "*" else key)
        else:
            segments.append(None if index == "*" else int(index))
    return tuple(segments)


def validate(value: Any, field: str = "options.mask") -> list[str]:
    """The option as stored: a list of at most MAX_PATHS valid paths, duplicates dropped."""
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise InvalidInput(field, "must be a list of JSON paths")
    if len(value) > MAX_PATHS:
        raise InvalidInput(field, f"at most {MAX_PATHS} paths")
    for path in value:
        parse_path(path, field)
    return list(dict.fromkeys(value))


@dataclass(frozen=True)
class Mask:
    paths: tuple[tuple[Segment, ...], ...]

    def apply(self, value: Any) -> int:
        """Replace every value the paths name with MASK, in place; how many were masked."""
        return sum(_mask(value, path, 0) for path in self.paths)


@functools.lru_cache(maxsize=1024)
def compile_mask(paths: tuple[str, ...]) -> Mask:
    return Mask(tuple(parse_path(p) for p in paths))


def mask_body(body: Any, paths: Sequence[str]) -> int:
    """Mask a parsed body in place with an endpoint's paths; how many values were masked."""
    if not paths or not isinstance(body, dict | list):
        return 0
    return compile_mask(tuple(paths)).apply(body)


def _mask(node: Any, path: tuple[Segment, ...], depth: int) -> int:
    # Recursion is bounded by the path's length (MAX_PATH_LENGTH characters), not the body.
    segment, last = path[depth], depth == len(path) - 1
    found: list[Any]
    if isinstance(node, dict):
        found = list(node) if segment is None else [segment] if segment in node else []
    elif isinstance(node, list):
        if segment is None:
            found = list(range(len(node)))
        else:
            found = [segment] if isinstance(segment, int) and segment < len(node) else []
    else:
        return 0
    count = 0
    for key in found:
        if last:
            node[key] = MASK
            count += 1
        else:
            count += _mask(node[key], path, depth + 1)
    return count
