"""The patterns of the identifiers the bridge takes from outside, checked as whole strings.

`re.match` with `$` accepts a final newline (`"demo\n"`); every check here is a full match,
so an identifier is exactly the characters its pattern allows and nothing after them.
"""

from __future__ import annotations

import re
from typing import TypeGuard

# Contract §2: an endpoint id, which is also its channel name.
ENDPOINT_ID_PATTERN = "[a-z0-9][a-z0-9_-]{0,62}"
ENDPOINT_ID = re.compile(ENDPOINT_ID_PATTERN)
# The same, for the OpenAPI document (path parameters, channels, new endpoints).
ENDPOINT_ID_SCHEMA = {"type": "string", "pattern": f"^{ENDPOINT_ID_PATTERN}$"}


def is_endpoint_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and ENDPOINT_ID.fullmatch(value) is not None
