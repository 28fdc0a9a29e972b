"""How the report writes a number: thousands separated, a dash for none or NaN."""

from __future__ import annotations

import math
from typing import Any


def number(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
