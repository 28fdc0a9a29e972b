"""History search: which stored events match `event_type` (a glob), `q` (text in the body,
case-insensitive) and `verified`. A pure filter over stored events; the events API pages it.

The body searched is the envelope's, as every reader sees it: masked values are `***` there,
so a search cannot tell whether a masked value was some given text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from bridge import jsontext
from bridge.errors import InvalidInput
from bridge.store import StoredEvent
from bridge.text import CONTROL, CONTROL_CLASS

MAX_TERM = 200  # characters of an event_type glob or a q text
# Entries one request may look at: a search that matches little stops there and answers
# `next`, so one request costs bounded time whatever the stream holds.
SCAN_BUDGET = 5_000
# What _term() takes (no control character: C0, DEL, C1), for the OpenAPI document.
TERM_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_TERM,
    "pattern": f"^[^{CONTROL_CLASS}]+$",
}


@dataclass(frozen=True)
class Search:
    event_type: str | None = None
    q: str | None = None
    verified: bool | None = None

    @property
    def active(self) -> bool:
        return self.event_type is not None or self.q is not None or self.verified is not None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Search:
        verified = args.get("verified")
        if verified not in {None, "true", "false"}:
            raise InvalidInput("verified", "expected true or false")
        return cls(
            event_type=_term(args, "event_type"),
            q=_term(args, "q"),
            verified=None if verified is None else verified == "true",
        )

    def matches(self, event: StoredEvent) -> bool:
        if self.event_type is not None and not fnmatchcase(event.event_type, self.event_type):
            return False
        if self.q is None and self.verified is None:
            return True
        envelope: dict[str, Any] = json.loads(event.envelope_tail)
        if self.verified is not None and envelope.get("verified") is not self.verified:
            return False
        return self.q is None or body_holds(envelope.get("body"), self.q.casefold())


def _term(args: Mapping[str, str], name: str) -> str | None:
    value = args.get(name)
    if value is None:
        return None
    if not 0 < len(value) <= MAX_TERM or CONTROL.search(value):
        raise InvalidInput(name, f"expected 1 to {MAX_TERM} characters, none a control one")
    return value


def body_holds(body: Any, folded: str) -> bool:
    """Whether the body holds the text: a text body anywhere in it, a JSON body in one of its
    keys or values as the sender meant them. Not in the JSON the bridge writes out again: its
    escapes (`\\"`, `\\\\`) and its `": "` between members matched text no body held.
    The dashboard filters live events the same way (static/match.js `bodyHolds`)."""
    for leaf in jsontext.leaves(body):
        if isinstance(leaf, str):
            if folded in leaf.casefold():
                return True
        elif leaf is not None and folded in json.dumps(leaf):  # a number, true or false
            return True
    return False
