"""JSON from strangers: parsed with a nesting limit, so no input can reach a RecursionError.

Python's decoder recurses once per `[` or `{`: a body of a few thousand brackets raises
RecursionError (not ValueError), and a tree that parses near the interpreter's limit can
still fail later, when the envelope holding it is encoded or read back deeper in the stack.
Everything the bridge parses from the network goes through `loads`, which refuses any tree
deeper than MAX_DEPTH with a ValueError, like any other text that is not JSON for us.
"""

from __future__ import annotations

import gc
import json
import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

# Real webhook payloads nest a dozen levels or so; 128 leaves room and stays far below the
# interpreter's recursion limit wherever the envelope is encoded or decoded again.
MAX_DEPTH = 128


class TooDeep(ValueError):
    """JSON nested more than MAX_DEPTH levels."""

    def __init__(self) -> None:
        super().__init__(f"JSON nested more than {MAX_DEPTH} levels deep")


def loads(data: bytes | str, *, finite: bool = False, keep: frozenset[str] | None = None) -> Any:
    """The JSON value of `data`; ValueError for anything else (not UTF-8, not JSON, NaN or
    Infinity, an integer too long to convert, or nested more than MAX_DEPTH levels).

    `finite` also refuses a number too large for a float (1e400), which json.loads makes
    `inf`: for a value that is written out again as JSON (an envelope's body), where it
    would come out as `Infinity`, which no strict parser reads.

    `keep` builds only the members of each object named in it, and an object with none of
    them as None (the outermost as {}): for a field read out of a stranger's large body
    before it is verified, whose whole tree took ~25 times the body's size in memory."""
    opening = (
        data.count(b"[") + data.count(b"{")
        if isinstance(data, bytes)
        else (data.count("[") + data.count("{"))
    )
    # Millions of containers (25 MB of `{},`) made while the collector runs: each collection
    # walks the whole growing tree, which cost seconds of a worker on top of the parse. The
    # tree holds no cycles, so collecting during the parse finds nothing. The collector is
    # the process's: the rest of the worker (a large body is parsed in offload.py's thread
    # pool) goes without collections meanwhile, which delays garbage, never loses any.
    paused = gc.isenabled() and opening > MAX_DEPTH
    if paused:
        gc.disable()
    try:
        value = json.loads(
            data,
            parse_float=_finite_float if finite else float,
            parse_constant=_reject_constant,
            object_pairs_hook=None if keep is None else partial(_kept, keep),
        )
        if keep is not None and value is None and _opens_object(data):
            value = {}
        # Fewer brackets than the limit cannot nest deeper than it: skip the walk.
        too_deep = opening > MAX_DEPTH and _deeper_than(value, MAX_DEPTH)
    except RecursionError:
        raise TooDeep() from None
    finally:
        if paused:
            gc.enable()
    if too_deep:
        raise TooDeep()
    return value


@dataclass(frozen=True)
class Body:
    """A webhook body as an envelope carries it: "json" (`value` the parsed tree: strict
    UTF-8, without a BOM, holding JSON with finite numbers), "text" (`value` the text: not
    JSON for us) or "bytes" (not UTF-8; `value` None)."""

    kind: Literal["json", "text", "bytes"]
    value: Any


def parse_body(body: bytes) -> Body:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Body("bytes", None)
    try:
        return Body("json", loads(text, finite=True))
    except ValueError:
        return Body("text", text)


def _kept(keep: frozenset[str], pairs: list[tuple[str, Any]]) -> dict[str, Any] | None:
    return {name: value for name, value in pairs if name in keep} or None


def _opens_object(data: bytes | str) -> bool:
    if isinstance(data, bytes):
        return data.lstrip(b" \t\n\r")[:1] == b"{"
    return data.lstrip(" \t\n\r")[:1] == "{"


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than `limit` levels; iterative, so it cannot recurse.
    Two stacks side by side, not one of (node, depth) tuples: nothing is allocated per node."""
    if type(value) is not dict and type(value) is not list:
        return False
    nodes, depths = [value], [1]
    while nodes:
        node, depth = nodes.pop(), depths.pop()
        if depth > limit:
            return True
        for child in node.values() if type(node) is dict else node:
            if type(child) is dict or type(child) is list:
                nodes.append(child)
                depths.append(depth + 1)
    return False


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text[:40]} is too large for a JSON number")
    return value


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON, and a browser's JSON.parse refuses them.
    raise ValueError(f"{name} is not JSON")
