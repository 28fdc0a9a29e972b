"""What every `bridge` command shares: argument types, the common options, the way a command
is declared with its examples, and how it finds its bridge.

A command is a function `(args, settings) -> exit code`; `settings` is the ClientSettings that
`main` read from the environment once.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bridge import cursor, jsontext, numbers
from bridge.client import Api, CliError, admin_token, http_url, server_url
from bridge.config import ClientSettings
from bridge.errors import InvalidInput
from bridge.identifiers import ENDPOINT_ID_PATTERN, is_endpoint_id
from bridge.text import escaped, is_unicode

Command = Callable[[argparse.Namespace, ClientSettings], int]
FORMAT = argparse.RawDescriptionHelpFormatter
HELP_WIDTH = 88  # descriptions are wrapped here (the raw formatter keeps examples as written)
# The cursor before every event: `--since 0`, and the cursor a subscription reports for an
# endpoint that has had no event yet.
START = "0-0"


class UsageError(CliError):
    """Options that parse one by one but not together: exit 2 with the command's usage."""


@dataclass(frozen=True)
class Parents:
    """Option sets that commands inherit: `--server`, and `--json`."""

    server: argparse.ArgumentParser
    json: argparse.ArgumentParser

    @property
    def both(self) -> list[argparse.ArgumentParser]:
        return [self.server, self.json]


def parents() -> Parents:
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument(
        "--server",
        type=server_arg,
        metavar="URL",
        help=f"the bridge to talk to (default: $BRIDGE_SERVER, else {ClientSettings.server})",
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON instead of text")
    return Parents(server, as_json)


def command(
    group: Any,
    name: str,
    func: Command,
    *,
    help: str,
    description: str,
    examples: Sequence[str],
    parents: Sequence[argparse.ArgumentParser] = (),
    needs_client: bool = True,
) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with its examples."""
    label = "examples" if len(examples) > 1 else "example"
    sub: argparse.ArgumentParser = group.add_parser(
        name,
        help=help,
        description=textwrap.fill(description, HELP_WIDTH),
        epilog=f"{label}:\n" + "\n".join(f"  {line}" for line in examples),
        parents=list(parents),
        formatter_class=FORMAT,
    )
    sub.set_defaults(func=func, parser=sub, needs_client=needs_client)
    return sub


# -- finding the bridge -----------------------------------------------------------------


def server(args: argparse.Namespace, settings: ClientSettings) -> str:
    """`--server`, else BRIDGE_SERVER, else http://127.0.0.1:8000."""
    return str(args.server) if args.server else settings.server


def api(args: argparse.Namespace, settings: ClientSettings) -> Api:
    return Api(server(args, settings), admin_token(settings))


def server_flag(server: str) -> str:
    """What to add to a suggested command line so it reaches the same bridge."""
    return "" if server == ClientSettings.server else f" --server {shlex.quote(server)}"


# -- output -----------------------------------------------------------------------------


def terminal_safe(text: str) -> str:
    """A line holding text from a webhook sender, fit for a terminal: every control
    character written as its escape (`\\x1b`; ESC begins the sequences that clear a
    terminal, set its title or, in some, write the clipboard), and every bidirectional
    control and line separator (`\\u202e` would show the rest of the line reversed)."""
    return escaped(text)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2), flush=True)


def notice(text: str) -> None:
    """A status line on stderr, so stdout holds only what a pipe wants; its control
    characters escaped (it may quote the bridge or a provider)."""
    print(f"bridge: {terminal_safe(text)}", file=sys.stderr, flush=True)


# -- provider options (`--option key=value`) ---------------------------------------------


def option_value(raw: str) -> Any:
    """`600` -> 600, `true` -> True, `"600"` -> "600"; anything that is not JSON stays text.
    jsontext.TooLarge for a number too large for JSON (1e400): it would be sent as inf,
    which no JSON holds, and the text may well be a typo, so it is not sent as text either."""
    try:
        return jsontext.loads(raw, finite=True)
    except jsontext.TooLarge:
        raise
    except ValueError:
        return raw


def option_text(key: str, value: Any) -> str:
    """The `key=value` that `--option` reads back as the same value."""
    return f"{key}={value if isinstance(value, str) else json.dumps(value)}"


def options(pairs: Sequence[tuple[str, Any]] | None) -> dict[str, Any]:
    return dict(pairs or [])


# -- argparse types (a bad value is a usage error: exit 2) -------------------------------


def server_arg(raw: str) -> str:
    try:
        return server_url(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def option_arg(raw: str) -> tuple[str, Any]:
    key, eq, value = raw.partition("=")
    if not eq or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key=value, got {raw!r}")
    try:
        return key.strip(), option_value(value)
    except jsontext.TooLarge as exc:
        raise argparse.ArgumentTypeError(f"{raw}: {exc}") from None


def cursor_arg(raw: str) -> str:
    try:
        return cursor.text(cursor.parse(raw.strip()))
    except InvalidInput:
        raise argparse.ArgumentTypeError(
            f"expected a cursor like 1732590000000-0, got {raw!r}"
        ) from None


def endpoint_arg(raw: str) -> str:
    if not is_endpoint_id(raw):
        raise argparse.ArgumentTypeError(
            f"an endpoint id matches {ENDPOINT_ID_PATTERN}, got {raw!r}"
        )
    return raw


def secret_arg(raw: str) -> str:
    """A secret's id as the bridge names them (endpoints.py): `s` and its number."""
    if not re.fullmatch(r"s[1-9][0-9]*", raw, flags=re.ASCII):
        raise argparse.ArgumentTypeError(
            f"a secret id is s and its number, e.g. s1 (see `endpoints show`), got {raw!r}"
        )
    return raw


def event_arg(raw: str) -> str:
    """An event id or type as `bridge send` puts it in a header: visible ASCII, no spaces
    (as providers' own, and the backfill API's rule)."""
    if not (raw and raw.isascii() and raw.isprintable() and " " not in raw):
        raise argparse.ArgumentTypeError(f"expected visible ASCII without spaces, got {raw!r}")
    return raw


def text_arg(raw: str) -> str:
    """Text given on the command line, which must be UTF-8 (a byte that is not decodes to a
    lone surrogate, which no request can carry); `@<file>` names a file, any bytes."""
    if not raw.startswith("@") and not is_unicode(raw):
        raise argparse.ArgumentTypeError("expected UTF-8 text (a byte of it is not)")
    return raw


def positive_int(raw: str) -> int:
    return _whole_number(raw, 1)


def seconds_arg(raw: str) -> int:
    """A whole number of seconds, 0 included (`--grace 0`: at once)."""
    return _whole_number(raw, 0)


def _whole_number(raw: str, least: int) -> int:
    try:
        return numbers.whole(raw, least)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_float(raw: str) -> float:
    try:
        value = numbers.decimal(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0, got {raw}")
    return value


def url_arg(raw: str) -> str:
    """An http(s) URL to send to (a local app), kept as given."""
    try:
        http_url(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return raw.strip()
