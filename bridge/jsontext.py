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

import codecs
import functools
import gc
import json
import math
import re
import sys
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


def problem(exc: ValueError) -> str:
    """What made a JSON text unreadable, in our words (Python's messages name its internals)."""
    if isinstance(exc, TooDeep):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON at line {exc.lineno} column {exc.colno} ({exc.msg})"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    if str(exc).startswith("Exceeds the limit"):  # int()'s, on a number's digits
        return f"a number with more than {sys.get_int_max_str_digits()} digits"
    return str(exc)  # ours: NaN, Infinity


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
_STRING_TEXT = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_STRING = re.compile(_STRING_TEXT)
_SCALAR_TEXT = rb"[-+.0-9a-zA-Z]++"
_SCALAR = re.compile(_SCALAR_TEXT)
_PLAIN = rb'[^"\[\]{}]++|' + _STRING_TEXT
# A member name as json.loads reads it (a string strictly: valid escapes, no control
# characters; the body's UTF-8 is checked once, whole).
_NAME = rb'"(?:[^"\\\x00-\x1f]++|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*+"'
# Containers nested at most this many levels are stepped over by one regular expression
# (the pattern doubles with each level: 2**NESTED copies of _PLAIN); above that, a deeper
# one goes by runs of brackets with nothing but plain text between them (a chain
# `[0,[0,[...` in one step), so by two steps per element of depth NESTED + 1.
NESTED = 6
_CLOSER = {b"{": b"}", b"[": b"]"}
# Openers (closers) with nothing but plain text between them, and how to read them.
_OPENING = re.compile(rb'(?:[^"\[\]{}]*+[\[{])++')
_CLOSING = re.compile(rb'(?:[^"\[\]{}]*+[\]}])++')
_TO_CLOSER = bytes.maketrans(b"[{", b"]}")
_NOT_OPENER = bytes(set(range(256)) - set(b"[{"))
_NOT_CLOSER = bytes(set(range(256)) - set(b"]}"))
MISSING = object()


def _nested(levels: int) -> bytes:
    """A container holding containers at most `levels` deep in all (brackets matched)."""
    inner = _PLAIN if levels == 1 else _PLAIN + b"|" + _nested(levels - 1)
    return rb"\{(?:" + inner + rb")*+\}|\[(?:" + inner + rb")*+\]"


# _OVER[n]: everything up to and with the next bracket, stepping over whole containers of at
# most n levels (none for n = 0): most of a large body, in one match.
_OVER = [re.compile(rb"(?:" + _PLAIN + rb")*+([\[\]{}])")] + [
    re.compile(rb"(?:" + _PLAIN + rb"|" + _nested(n) + rb")*+([\[\]{}])")
    for n in range(1, NESTED + 1)
]
_VALUE = _STRING_TEXT + rb"|" + _SCALAR_TEXT + rb"|" + _nested(NESTED)
# How many members one match of a run steps over at most (a repetition the engine keeps
# its place in for each member: bounded, so is its memory). Atomic members, not a
# possessive repetition: with a group inside one, 3.11's re raised SystemError.
RUN = 1024
_NAME_STRING = re.compile(_NAME)
_COLON = re.compile(rb"[ \t\n\r]*+:[ \t\n\r]*+")
_AFTER = re.compile(rb"[ \t\n\r]*+([,}])[ \t\n\r]*+")


@functools.lru_cache(maxsize=8)
def _members(name: str) -> re.Pattern[bytes]:
    """Member after member, each with its ',' (or the last, before '}'): those named `name`
    and those not (group `value`: the last one named `name`), values nested at most NESTED
    levels. It stops before a deeper value or anything not so simple, left to `member`'s
    loop."""
    named = _spelt(name)
    one = (
        rb"(?:" + named + rb"[ \t\n\r]*+:[ \t\n\r]*+(?P<value>" + _VALUE + rb")"
        rb"|(?!" + named + rb")" + _NAME + rb"[ \t\n\r]*+:[ \t\n\r]*+(?:" + _VALUE + rb"))"
    )
    # The last member too (group `end`, before the closing brace): a body of one large member
    # is gone over once, not once by a match that then fails and once by the loop.
    after = rb"[ \t\n\r]*+(?:,[ \t\n\r]*+|(?P<end>)(?=\}))"
    return re.compile(rb"(?:(?>" + one + after + rb")){0," + str(RUN).encode() + b"}")


@functools.lru_cache(maxsize=8)
def _named(name: str) -> re.Pattern[bytes]:
    return re.compile(_spelt(name))


def _spelt(name: str) -> bytes:
    """A pattern for every JSON string (with its quotes) whose value is `name`: each
    character as itself in UTF-8 or escaped (`\\u` with hex digits of either case, a short
    escape, a surrogate pair), as json.loads reads them."""
    parts = []
    for char in name:
        ways = []
        if char not in '"\\' and char >= " ":
            ways.append(re.escape(char.encode("utf-8", "surrogatepass")))
        if char in _SHORT:
            ways.append(re.escape(b"\\" + _SHORT[char]))
        units = char.encode("utf-16-be", "surrogatepass")
        hexes = (f"{int.from_bytes(units[i : i + 2], 'big'):04x}" for i in range(0, len(units), 2))
        ways.append(b"".join(rb"\\u" + _any_case(h) for h in hexes))
        parts.append(b"(?:" + b"|".join(ways) + b")")
    return b'"' + b"".join(parts) + b'"'


_SHORT = {'"': b'"', "\\": b"\\", "/": b"/", "\b": b"b", "\f": b"f", "\n": b"n", "\r": b"r"}
_SHORT["\t"] = b"t"


def _any_case(digits: str) -> bytes:
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in digits).encode()


def member(data: bytes, name: str, *, max_bytes: int) -> Any:
    """The value of member `name` of the JSON object `data` (the last of that name, as
    json.loads keeps; only that one is parsed), parsed only if its text is at most
    `max_bytes`; MISSING where there is none or it is longer. ValueError where `data` is not
    a UTF-8 JSON object (its structure is checked, not every value's syntax) or nests deeper
    than MAX_DEPTH.

    Nothing else is built: for one field of a stranger's large body, read before anything
    is verified, whose whole tree took ~25 times the body's size in memory. Nor is anything
    done per member in Python but for the few a regular expression does not step over (the
    last, one nested deeper than NESTED levels, one that does not parse): a member name
    per member, parsed and compared, cost ~1 us a member, 8 s for 8 MB of `"":0,`."""
    _check_utf8(data)
    at = _skip_space(data, 0)
    if data[at : at + 1] != b"{":
        raise ValueError("not a JSON object")
    found: tuple[int, int] | None = None  # where the value of the last member named `name` is
    at = _skip_space(data, at + 1)
    if data[at : at + 1] == b"}":
        return MISSING
    run, named = _members(name), _named(name)
    while True:
        members = run.match(data, at)
        if members is not None and members.end() > at:
            if members.start("value") >= 0:
                found = members.span("value")
            at = members.end()
            if members.start("end") < 0:
                continue
            if _skip_space(data, at + 1) != len(data):
                raise ValueError("text after the object")
            break
        key = _STRING.match(data, at)
        if key is None:
            raise ValueError("expected a member name")
        colon = _COLON.match(data, key.end())
        if colon is None:
            raise ValueError("expected ':'")
        start = colon.end()
        end = _value_end(data, start)
        text = key.group()
        # A name json.loads would refuse (a bad escape) is parsed, to raise as it does.
        if named.fullmatch(text) if _NAME_STRING.fullmatch(text) else loads(text) == name:
            found = (start, end)
        after = _AFTER.match(data, end)
        if after is None:
            raise ValueError("expected ',' or '}'")
        at = after.end()
        if after.group(1) == b"}":
            if at != len(data):
                raise ValueError("text after the object")
            break
    if found is None or found[1] - found[0] > max_bytes:
        return MISSING
    return loads(data[found[0] : found[1]])


def _check_utf8(data: bytes, piece: int = 64 * 1024) -> None:
    """ValueError unless `data` is UTF-8; a piece at a time, never the whole text at once
    (a body with one character past U+FFFF made a str four times its size)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for at in range(0, len(data), piece):
            decoder.decode(view[at : at + piece])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None


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
    closers = bytearray(_CLOSER[data[at : at + 1]])  # what each open container ends with
    at += 1
    while True:
        # Levels: the outermost object, those open, and the containers stepped over.
        step = _OVER[min(NESTED, MAX_DEPTH - 1 - len(closers))].match(data, at)
        if step is None:
            raise ValueError("a container is not closed")
        at, bracket = step.end(), step.group(1)
        if bracket in _CLOSER:
            # With the brackets that follow it outside any string: a chain `[0,[0,[...`
            # in one step, not one a level.
            opening = _OPENING.match(data, at)
            at = opening.end() if opening else at
            closers += (bracket + (opening.group() if opening else b"")).translate(
                _TO_CLOSER, _NOT_OPENER
            )
            if len(closers) + 1 > MAX_DEPTH:
                raise TooDeep()
            continue
        closing = _CLOSING.match(data, at)
        run = bracket + (closing.group().translate(None, _NOT_CLOSER) if closing else b"")
        if run[: len(closers)] != closers[: -len(run) - 1 : -1]:
            if closers[-1:] != bracket:
                raise ValueError(f"a container closed with {bracket.decode()}")
            del closers[-1:]  # and on a bracket at a time, to the one that does not match
        elif len(run) < len(closers):
            del closers[-len(run) :]
            at = closing.end() if closing else at
        else:  # the value ends at the last of those open, among the closers just read
            last = _closed(len(closers) - 1).match(data, at) if len(closers) > 1 else None
            return last.end() if last else at


@functools.lru_cache(maxsize=MAX_DEPTH)
def _closed(count: int) -> re.Pattern[bytes]:
    """`count` closers with plain text between them."""
    return re.compile(rb'(?:[^"\[\]{}]*+[\]}]){%d}' % count)


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
