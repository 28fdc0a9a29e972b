"""What each provider's documentation says, apart from how it verifies: the section title
and summary-table row of docs/providers.md, and the steps for registering a webhook URL on the
provider's side (shown by the API on every endpoint, by `bridge endpoints`, and in
docs/providers.md). How a provider signs is documented in its own module's docstring, beside
the code that checks it.

The texts are data, in guides.toml beside this module, read once at import; a malformed entry
fails the import naming the provider and the field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

URL = "{url}"


@dataclass(frozen=True)
class Guide:
    """One provider's documentation. `table` is its row of the summary table after the name, as
    Markdown cells (signature header | who picks the secret | timestamp window | event id |
    event type); each of `steps` may name the webhook URL as `{url}`."""

    title: str
    table: str
    steps: tuple[str, ...]

    def setup_steps(self, url: str) -> list[str]:
        """Plain-text steps for registering `url` on the provider's side."""
        # replace, not format: a step may show literal braces (a JSON example).
        return [step.replace(URL, url) for step in self.steps]


def _guide(name: str, entry: Any) -> Guide:
    def text(value: Any, field: str) -> str:
        if not isinstance(value, str) or not value:
            raise ValueError(f"guides.toml [{name}] {field}: a non-empty string")
        return value

    if not isinstance(entry, dict) or set(entry) != {"title", "table", "steps"}:
        raise ValueError(f"guides.toml [{name}]: exactly title, table and steps")
    steps = entry["steps"]
    if not isinstance(steps, list) or not steps:
        raise ValueError(f"guides.toml [{name}] steps: a non-empty list")
    return Guide(
        title=text(entry["title"], "title"),
        table=text(entry["table"], "table"),
        steps=tuple(text(step, f"steps[{i}]") for i, step in enumerate(steps)),
    )


def parse(text: str) -> dict[str, Guide]:
    """The guides in a guides.toml text; ValueError naming the provider and the field that
    is wrong (tomllib.TOMLDecodeError, a ValueError too, for text that is not TOML)."""
    return {name: _guide(name, entry) for name, entry in tomllib.loads(text).items()}


GUIDES: Mapping[str, Guide] = parse(
    resources.files("bridge.providers").joinpath("guides.toml").read_text("utf-8")
)


def guide(name: str) -> Guide:
    """The guide of a registered provider (every name in the registry has one)."""
    return GUIDES[name]
