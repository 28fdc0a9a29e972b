"""JSON from strangers: parsed with a nesting limit, so no input can reach a RecursionError.

Python's decoder recurses once per `[` or `{`: a body of a few thousand brackets raises
RecursionError (not ValueError), and a tree that parses near the interpreter's limit can
still fail later, when the envelope holding it is encoded or read back deeper in the stack.
Everything the bridge parses from the network goes through `loads`, which refuses any tree
deeper than MAX_DEPTH with a ValueError, like any other text that is not JSON for us.

`member` reads one member of a large object without building the rest (Mailgun's signature,
read before anything is verified); `parse_body` is a webhook body as the envelope carries it.
"""

from __future__ import annotations

import gc
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

# `json.dumps(value, separators=(",", ":"))` without an encoder made per call (~1 us):
# encode() keeps no state between calls, so one serves every caller and thread.
COMPACT = json.JSONEncoder(separators=(",", ":"))

# Real webhook payloads nest a dozen levels or so; 128 leaves room and stays far below the
# interpreter's recursion limit wherever the envelope is encoded or decoded again.
MAX_DEPTH = 128


class TooDeep(ValueError):
    """JSON nested more than its limit (MAX_DEPTH unless told) levels."""

    def __init__(self, limit: int = MAX_DEPTH) -> None:
        super().__init__(f"JSON nested more than {limit} levels deep")


def loads(
    data: bytes | str, *, finite: bool = False, depth: int = MAX_DEPTH, unique: bool = False
) -> Any:
    """The JSON value of `data`; ValueError for anything else (not UTF-8, not JSON, NaN or
    Infinity, an integer too long to convert, or nested more than `depth` levels).

    `finite` also refuses a number too large for a float (1e400), which json.loads makes
    `inf`: for a value that is written out again as JSON (an envelope's body), where it
    would come out as `Infinity`, which no strict parser reads. `depth` is MAX_DEPTH for
    what a stranger sends; a client reading the bridge's own frames and pages allows the
    levels they wrap a body in (envelope.FRAME_DEPTH, envelope.PAGE_DEPTH). `unique` refuses
    an object naming a member twice (`{"id": "a", "id": "b"}`), which json.loads settles
    silently for the last: for a request to the bridge, not a webhook body (kept as sent)."""
    opening = containers(data)
    # Millions of containers (25 MB of `{},`) made while the collector runs: each collection
    # walks the whole growing tree, which cost seconds of a worker on top of the parse. The
    # tree holds no cycles, so collecting during the parse finds nothing. The collector is
    # the process's: the rest of the worker (a large body is parsed in offload.py's thread
    # pool) goes without collections meanwhile, which delays garbage, never loses any.
    paused = gc.isenabled() and opening > depth
    if paused:
        gc.disable()
    try:
        if isinstance(data, str) and not data.startswith("\ufeff"):
            # What json.loads does with these arguments, without making a decoder per call.
            value = _DECODERS[finite, unique].decode(data)
        else:  # bytes, or a BOM: json.loads' own decoding and its errors
            value = json.loads(
                data,
                parse_float=_finite_float if finite else float,
                parse_constant=_reject_constant,
                object_pairs_hook=_unique_object if unique else None,
            )
        # Fewer brackets than the limit cannot nest deeper than it: skip the walk.
        too_deep = opening > depth and _deeper_than(value, depth)
    except RecursionError:
        raise TooDeep(depth) from None
    finally:
        if paused:
            gc.enable()
    if too_deep:
        raise TooDeep(depth)
    return value


def containers(data: bytes | str) -> int:
    """How many arrays and objects JSON `data` opens at most (its `[` and `{`, strings too)."""
    if isinstance(data, bytes):
        return data.count(b"[") + data.count(b"{")
    return data.count("[") + data.count("{")


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


# What `member` steps over: whitespace; a string; a number or literal (loosely: only the
# member it returns is parsed, strictly); inside a container, everything up to and with its
# next bracket outside a string. Possessive, so a body that does not match fails at once.
_SPACE = re.compile(rb"[ \t\n\r]*+")
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"')
_SCALAR = re.compile(rb"[-+.0-9a-zA-Z]++")
_PLAIN = rb'[^"\[\]{}]++|"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_FLAT = rb"\{(?:" + _PLAIN + rb")*+\}|\[(?:" + _PLAIN + rb")*+\]"  # holding no container
_TO_BRACKET = re.compile(rb"(?:" + _PLAIN + rb")*+([\[\]{}])")
# The same, stepping over flat containers whole: most of a large body, in one match.
_OVER_FLAT = re.compile(rb"(?:" + _PLAIN + rb"|" + _FLAT + rb")*+([\[\]{}])")
_CLOSER = {b"{": b"}", b"[": b"]"}
MISSING = object()


def member(data: bytes, name: str, *, max_bytes: int) -> Any:
    """The value of member `name` of the JSON object `data` (the last of that name, as
    json.loads keeps), parsed only if its text is at most `max_bytes`; MISSING where there is
    none or it is longer. ValueError where `data` is not a UTF-8 JSON object (its structure
    is checked, not every value's syntax) or nests deeper than MAX_DEPTH.

    Nothing else is built: for one field of a stranger's large body, read before anything
    is verified, whose whole tree took ~25 times the body's size in memory."""
    at = _skip_space(data, 0)
    if data[at : at + 1] != b"{":
        raise ValueError("not a JSON object")
    found: Any = MISSING
    at = _skip_space(data, at + 1)
    if data[at : at + 1] == b"}":
        return found
    while True:
        key = _STRING.match(data, at)
        if key is None:
            raise ValueError("expected a member name")
        at = _skip_space(data, key.end())
        if data[at : at + 1] != b":":
            raise ValueError("expected ':'")
        start = _skip_space(data, at + 1)
        end = _value_end(data, start)
        if loads(key.group()) == name:
            found = loads(data[start:end]) if end - start <= max_bytes else MISSING
        at = _skip_space(data, end)
        if data[at : at + 1] == b"}":
            if _skip_space(data, at + 1) != len(data):
                raise ValueError("text after the object")
            return found
        if data[at : at + 1] != b",":
            raise ValueError("expected ',' or '}'")
        at = _skip_space(data, at + 1)


def _skip_space(data: bytes, at: int) -> int:
    space = _SPACE.match(data, at)
    return space.end() if space else at


def _value_end(data: bytes, at: int) -> int:
    """Where the JSON value starting at `at` ends."""
    if data[at : at + 1] not in (b"{", b"["):
        one = _STRING.match(data, at) or _SCALAR.match(data, at)
        if one is None:
            raise ValueError("expected a value")
        return one.end()
    closers = [_CLOSER[data[at : at + 1]]]  # what each open container must end with
    at += 1
    while True:
        # Levels: the outermost object, those open, and a flat container stepped over.
        step = (_OVER_FLAT if len(closers) + 2 <= MAX_DEPTH else _TO_BRACKET).match(data, at)
        if step is None:
            raise ValueError("a container is not closed")
        at, bracket = step.end(), step.group(1)
        if bracket in _CLOSER:
            closers.append(_CLOSER[bracket])
            if len(closers) + 1 > MAX_DEPTH:
                raise TooDeep()
        elif closers.pop() != bracket:
            raise ValueError(f"a container closed with {bracket.decode()}")
        elif not closers:
            return at


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


def leaves(value: Any) -> Iterator[Any]:
    """Every key, and every value that is not a container, of a parsed JSON tree (in no set
    order); iterative, so a tree at the depth limit cannot make it recurse."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            yield from item
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        else:
            yield item


class TooLarge(ValueError):
    """A number too large for a float (1e400), refused by `loads(finite=True)`."""


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise TooLarge(f"{text[:40]} is too large for a JSON number")
    return value


class DuplicateMember(ValueError):
    """An object names a member twice (loads with `unique`)."""


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise DuplicateMember(f"member {key[:64]!r} given twice")
        seen.add(key)
    return dict(pairs)


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON, and a browser's JSON.parse refuses them.
    raise ValueError(f"{name} is not JSON")


# One decoder per combination of loads' options: json.loads made one per call (its
# scanner with it), ~4 us of a webhook's parse. A decoder keeps no state between calls
# (json's own module-level decoder is shared the same way).
_DECODERS = {
    (finite, unique): json.JSONDecoder(
        parse_float=_finite_float if finite else float,
        parse_constant=_reject_constant,
        object_pairs_hook=_unique_object if unique else None,
    )
    for finite in (False, True)
    for unique in (False, True)
}
