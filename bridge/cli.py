"""The `bridge` command (also `python -m bridge`); docs/cli.md is its manual.

Exit 0 on success; 1 with one line on stderr (`bridge: <what went wrong>`) otherwise; 2 for a
usage error (argparse). `bridge send` exits 1 when the bridge answered anything but 2xx, after
printing the answer. The commands call the HTTP API and the WebSocket (bridge/client.py); they
never touch Redis.

The client reads three environment variables itself (they are the client's, not the server's
settings): BRIDGE_SERVER (default server URL), BRIDGE_ADMIN_TOKEN, and BRIDGE_DATA_DIR (where
to find `admin-token` when BRIDGE_ADMIN_TOKEN is unset).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bridge import __version__, cursor, providers, samples
from bridge.client import (
    DEFAULT_SERVER,
    Api,
    CliError,
    admin_token,
    follow,
    hook_url,
    post_webhook,
    server_url,
)
from bridge.config import Settings
from bridge.errors import BridgeError, InvalidInput

STALE_SECONDS = 600  # `send --stale` signs with a timestamp this old (tolerance is 300 s)

# -- serve ------------------------------------------------------------------------------


def serve(_: argparse.Namespace) -> int:
    """Run the bridge under gunicorn with the settings of bridge/serving.py."""
    Settings.from_env()  # fail fast, naming the bad variable, before gunicorn starts
    from gunicorn.app.wsgiapp import WSGIApplication

    sys.argv = ["bridge serve", "-c", "python:bridge.serving"]
    WSGIApplication("%(prog)s [OPTIONS]").run()
    return 0


# -- shared helpers ----------------------------------------------------------------------


def _server(args: argparse.Namespace) -> str:
    """`--server`, else BRIDGE_SERVER, else http://127.0.0.1:8000."""
    if args.server:
        return str(args.server)
    raw = os.environ.get("BRIDGE_SERVER", "").strip()
    if not raw:
        return DEFAULT_SERVER
    try:
        return server_url(raw)
    except ValueError as exc:
        raise CliError(f"BRIDGE_SERVER: {exc}") from None


def _api(args: argparse.Namespace) -> Api:
    return Api(_server(args), admin_token(os.environ))


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2), flush=True)


def _server_flag(server: str) -> str:
    """What to add to a suggested command line so it reaches the same bridge."""
    return "" if server == DEFAULT_SERVER else f" --server {shlex.quote(server)}"


def _option_value(raw: str) -> Any:
    """`600` -> 600, `true` -> True, `"600"` -> "600"; anything that is not JSON stays text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _option_text(key: str, value: Any) -> str:
    """The `key=value` that `--option` reads back as the same value."""
    return f"{key}={value if isinstance(value, str) else json.dumps(value)}"


def _options(pairs: Sequence[tuple[str, Any]] | None) -> dict[str, Any]:
    return dict(pairs or [])


# -- argparse types (a bad value is a usage error: exit 2) -------------------------------


def _server_arg(raw: str) -> str:
    try:
        return server_url(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _option_arg(raw: str) -> tuple[str, Any]:
    key, eq, value = raw.partition("=")
    if not eq or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key=value, got {raw!r}")
    return key.strip(), _option_value(value)


def _cursor_arg(raw: str) -> str:
    try:
        return cursor.text(cursor.parse(raw.strip()))
    except InvalidInput:
        raise argparse.ArgumentTypeError(
            f"expected a cursor like 1732590000000-0, got {raw!r}"
        ) from None


def _positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# -- endpoints ---------------------------------------------------------------------------


def _show_endpoint(endpoint: dict[str, Any], server: str, heading: str = "Endpoint") -> None:
    eid = endpoint.get("id", "?")
    provider = endpoint.get("provider", "?")
    print(f"{heading} {eid} ({provider}), created {endpoint.get('created_at', '?')}")
    print(f"  Webhook URL:  {endpoint.get('url', '?')}")
    secrets = endpoint.get("secrets") or []
    for number, secret in enumerate(secrets, 1):
        newest = " (newest)" if len(secrets) > 1 and number == len(secrets) else ""
        label = f"Secret {secret.get('id', '?')}{newest}:"
        print(f"  {label:<13} {secret.get('value', '')}")
    if endpoint.get("description"):
        print(f"  Description:  {endpoint['description']}")
    options = endpoint.get("options") or {}
    if options:
        shown = " ".join(_option_text(key, value) for key, value in sorted(options.items()))
        print(f"  Options:      {shown}")
    if endpoint.get("verified") is False or provider == "none":
        print("  UNVERIFIED:   no signature check: anyone who knows the URL can post events")
    steps = endpoint.get("setup") or []
    if steps:
        print(f"\nSet it up on the {provider} side:")
        for number, step in enumerate(steps, 1):
            print(f"  {number}. {step}")
    flag = _server_flag(server)
    print(f"\nWatch it:  bridge listen {eid}{flag}")
    if secrets:
        secret = shlex.quote(str(secrets[-1].get("value", "")))
        # Options that change how the provider signs (hmac's header, prefix...) go along.
        extra = "".join(
            f" --option {shlex.quote(_option_text(key, value))}"
            for key, value in sorted(options.items())
            if key != "tolerance"
        )
        print(f"Test it:   bridge send {eid} --provider {provider} --secret {secret}{extra}{flag}")
    sys.stdout.flush()


def endpoints_create(args: argparse.Namespace) -> int:
    api = _api(args)
    body: dict[str, Any] = {"id": args.id, "provider": args.provider}
    if args.secret is not None:
        body["secret"] = args.secret
    if args.description is not None:
        body["description"] = args.description
    if args.option:
        body["options"] = _options(args.option)
    created = api.call("POST", "/api/endpoints", body)
    if args.json:
        _print_json(created)
    else:
        _show_endpoint(created, api.server, heading="Created endpoint")
    return 0


def endpoints_list(args: argparse.Namespace) -> int:
    api = _api(args)
    answer = api.call("GET", "/api/endpoints")
    if args.json:
        _print_json(answer)
        return 0
    found: list[dict[str, Any]] = (answer or {}).get("endpoints", [])
    if not found:
        flag = _server_flag(api.server)
        print(f"No endpoints yet: bridge endpoints create <id> --provider <name>{flag}")
        return 0
    rows = [("ID", "PROVIDER", "SECRETS", "URL", "DESCRIPTION")]
    for e in found:
        provider = str(e.get("provider", "?"))
        if e.get("verified") is False:
            provider += " (UNVERIFIED)"
        description = str(e.get("description") or "")
        if len(description) > 40:
            description = description[:39] + "…"
        secrets = str(len(e.get("secrets") or []))
        rows.append((str(e.get("id", "?")), provider, secrets, str(e.get("url", "")), description))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
    sys.stdout.flush()
    return 0


def endpoints_show(args: argparse.Namespace) -> int:
    api = _api(args)
    endpoint = api.call("GET", api.endpoint_path(args.id))
    if args.json:
        _print_json(endpoint)
    else:
        _show_endpoint(endpoint, api.server)
    return 0


def endpoints_delete(args: argparse.Namespace) -> int:
    api = _api(args)
    api.call("DELETE", api.endpoint_path(args.id))
    if args.json:
        _print_json({"id": args.id, "deleted": True})
    else:
        print(f"Deleted endpoint {args.id} and its event history.", flush=True)
    return 0


def endpoints_rotate(args: argparse.Namespace) -> int:
    api = _api(args)
    body = {"secret": args.secret} if args.secret is not None else {}
    answer = api.call("POST", api.endpoint_path(args.id, "/secrets"), body)
    if args.json:
        _print_json(answer)
        return 0
    added = answer.get("secret", {})
    endpoint = answer.get("endpoint", {})
    every = ", ".join(str(s.get("id")) for s in endpoint.get("secrets", []))
    print(f"Added secret {added.get('id')} to {args.id}: {added.get('value')}")
    print(f"{args.id} now accepts a signature by any of its secrets: {every}")
    provider = endpoint.get("provider", "the provider")
    print(f"Give the new secret to {provider}; the old ones stay valid meanwhile.", flush=True)
    return 0


# -- send ----------------------------------------------------------------------------------


def _read_data(value: str) -> bytes:
    """`--data`: `@file`, `@-` (stdin), or the JSON text itself."""
    if not value.startswith("@"):
        return value.encode()
    name = value[1:]
    if name == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read --data file {name}: {exc.strerror}") from None


def tamper(body: bytes) -> bytes:
    """The body with one byte changed: a letter or digit near the middle, so JSON stays JSON."""
    if not body:
        return b" "
    middle = len(body) // 2
    order = [*range(middle, len(body)), *range(middle - 1, -1, -1)]
    for index in order:
        byte = body[index]
        if chr(byte).isascii() and chr(byte).isalnum():
            if chr(byte).isdigit():
                changed = ord("0") + (byte - ord("0") + 1) % 10
            else:
                changed = ord(chr(byte).swapcase())
            return body[:index] + bytes([changed]) + body[index + 1 :]
    return body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1 :]


def send(args: argparse.Namespace) -> int:
    server = _server(args)
    provider = providers.get(args.provider)
    options = _options(args.option)
    event_type = args.event_type or samples.default_event_type(provider.name)
    real_now = time.time()
    if args.data is not None:
        body = _read_data(args.data)
    else:
        body = samples.sample(
            provider.name, event_type, event_id=args.event_id, now=real_now, options=options
        )
    secret = provider.new_secret() if args.wrong_secret else args.secret
    signed_at = real_now - STALE_SECONDS if args.stale else real_now
    # URL-signing schemes (Twilio, Square) sign the URL the request goes to.
    signing_options = {"url": hook_url(server, args.endpoint), **options}
    try:
        body = provider.sign_body(
            body, secret, now=signed_at, event_id=args.event_id, options=signing_options
        )
        headers = provider.sign(
            body,
            secret,
            now=signed_at,
            event_id=args.event_id,
            event_type=event_type,
            options=signing_options,
        )
    except InvalidInput as exc:
        raise CliError(f"cannot sign: {exc}") from None
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    if args.tamper:
        body = tamper(body)
    ok = True
    for _ in range(2 if args.duplicate else 1):
        answer = post_webhook(server, args.endpoint, body, headers)
        print(answer.show(), flush=True)
        ok = ok and answer.ok
    return 0 if ok else 1


# -- listen --------------------------------------------------------------------------------


def event_line(event: dict[str, Any]) -> str:
    """`<id> <event_type> <verified> <received_at>` for one envelope."""
    verified = "verified" if event.get("verified") else "UNVERIFIED"
    return (
        f"{event.get('id')} {event.get('event_type') or '-'} {verified} {event.get('received_at')}"
    )


def listen(args: argparse.Namespace) -> int:
    server = _server(args)
    token = admin_token(os.environ)

    def on_event(frame: dict[str, Any]) -> None:
        text = json.dumps(frame, separators=(",", ":")) if args.json else event_line(frame["event"])
        print(text, flush=True)

    def notice(text: str) -> None:
        print(f"bridge: {text}", file=sys.stderr, flush=True)

    try:
        follow(server, token, args.endpoint, args.since, on_event, notice)
    except KeyboardInterrupt:
        return 0


# -- token ---------------------------------------------------------------------------------


def token(args: argparse.Namespace) -> int:
    api = _api(args)
    answer = api.call("POST", "/api/tokens", {"channels": args.channel, "ttl": args.ttl})
    if args.json:
        _print_json(answer)
    else:
        print(answer.get("token"), flush=True)
    return 0


# -- the parser ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="bridge",
        description="Webhook Bridge: signed webhooks in, live WebSocket events out.",
        epilog="examples:\n  bridge serve   (then open the dashboard link it prints)\n"
        "  bridge endpoints create demo --provider github\n  bridge listen demo\n\n"
        "Manual: docs/cli.md",
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"bridge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--server",
        type=_server_arg,
        metavar="URL",
        help=f"the bridge to talk to (default: $BRIDGE_SERVER, else {DEFAULT_SERVER})",
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print the API's JSON answer")
    both = [common, as_json]

    def command(
        group: Any, name: str, func: Callable[[argparse.Namespace], int], **kwargs: Any
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, formatter_class=fmt, **kwargs)
        sub.set_defaults(func=func)
        return sub

    command(
        commands,
        "serve",
        serve,
        help="run the bridge (what `make run` runs)",
        description="Run the bridge under gunicorn; settings come from BRIDGE_* variables "
        "(docs/configuration.md).",
        epilog="example:\n  PORT=8080 bridge serve",
    )

    # endpoints
    group_parser = commands.add_parser(
        "endpoints",
        help="create, list, show, delete endpoints; rotate their secrets",
        description="Manage endpoints of a running bridge (admin token: $BRIDGE_ADMIN_TOKEN, "
        "else $BRIDGE_DATA_DIR/admin-token, data dir default ./.bridge).",
        epilog="examples:\n  bridge endpoints create demo --provider github\n"
        "  bridge endpoints list",
        formatter_class=fmt,
    )
    group = group_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = command(
        group,
        "create",
        endpoints_create,
        parents=both,
        help="create an endpoint",
        description="Create an endpoint; prints its webhook URL, secret and setup steps.",
        epilog="examples:\n  bridge endpoints create demo --provider github\n"
        "  bridge endpoints create pay --provider stripe --secret whsec_... "
        "--description 'Stripe live'\n"
        "  bridge endpoints create acme --provider hmac --option header=X-Acme-Signature "
        "--option prefix=sha256=",
    )
    create.add_argument("id", help="endpoint id: [a-z0-9][a-z0-9_-]{0,62}")
    create.add_argument("--provider", required=True, metavar="P", help="github, stripe, ...")
    create.add_argument(
        "--secret",
        metavar="S",
        help="the signing secret (required where the provider issues it: stripe, slack, "
        "shopify); generated otherwise",
    )
    create.add_argument("--description", metavar="D")
    create.add_argument(
        "--option",
        type=_option_arg,
        action="append",
        metavar="KEY=VALUE",
        help="a provider option (repeatable); JSON values such as 600 or true are sent as such",
    )
    command(
        group,
        "list",
        endpoints_list,
        parents=both,
        help="list endpoints",
        description="List every endpoint as a table.",
        epilog="examples:\n  bridge endpoints list\n  bridge endpoints list --json",
    )
    for name, func, text in (
        ("show", endpoints_show, "show an endpoint: URL, secrets, setup steps"),
        ("delete", endpoints_delete, "delete an endpoint and its event history"),
    ):
        sub = command(
            group,
            name,
            func,
            parents=both,
            help=text,
            description=text[0].upper() + text[1:] + ".",
            epilog=f"example:\n  bridge endpoints {name} demo",
        )
        sub.add_argument("id", help="endpoint id")
    rotate = command(
        group,
        "rotate",
        endpoints_rotate,
        parents=both,
        help="add a secret (rotation); old secrets stay valid",
        description="Add a secret to an endpoint (POST /api/endpoints/<id>/secrets); "
        "signatures by any of its secrets verify.",
        epilog="examples:\n  bridge endpoints rotate demo\n"
        "  bridge endpoints rotate pay --secret whsec_new...",
    )
    rotate.add_argument("id", help="endpoint id")
    rotate.add_argument("--secret", metavar="S", help="the new secret (generated if omitted)")

    # send
    send_cmd = command(
        commands,
        "send",
        send,
        parents=[common],
        help="sign a test webhook as a provider would and POST it",
        description="Sign a webhook exactly as the provider would and POST it to "
        "<server>/hooks/<endpoint>; prints `<status> <JSON answer>`. Exit 0 when the "
        "answer is 2xx, else 1. Without --data, a sample payload for the provider and event "
        "type is sent.",
        epilog="examples:\n  bridge send demo --provider github --secret demo-secret-123\n"
        "  bridge send pay --provider stripe --secret whsec_... "
        "--event-type invoice.paid --data @invoice.json\n"
        "  bridge send pay --provider stripe --secret whsec_... --stale   (expect 401)",
    )
    send_cmd.add_argument("endpoint", help="endpoint id")
    send_cmd.add_argument(
        "--provider", required=True, metavar="P", choices=sorted(providers.REGISTRY)
    )
    send_cmd.add_argument("--secret", required=True, metavar="S", help="the endpoint's secret")
    send_cmd.add_argument("--event-type", metavar="T", help="default: the provider's sample")
    send_cmd.add_argument("--event-id", metavar="ID", help="default: a fresh one")
    send_cmd.add_argument(
        "--data", metavar="JSON", help="the body: @file.json, @- for stdin, or the JSON itself"
    )
    send_cmd.add_argument(
        "--option",
        type=_option_arg,
        action="append",
        metavar="KEY=VALUE",
        help="the endpoint's provider options that change signing (hmac: header, prefix...)",
    )
    negative = send_cmd.add_argument_group("negative tests")
    negative.add_argument(
        "--tamper", action="store_true", help="change one byte of the body after signing"
    )
    negative.add_argument(
        "--stale",
        action="store_true",
        help=f"sign with a timestamp {STALE_SECONDS // 60} minutes old (timestamped schemes)",
    )
    negative.add_argument(
        "--wrong-secret", action="store_true", help="sign with a random secret instead of S"
    )
    negative.add_argument(
        "--duplicate", action="store_true", help="send the same signed request twice"
    )

    # listen
    listen_cmd = command(
        commands,
        "listen",
        listen,
        parents=both,
        help="print an endpoint's events live",
        description="Subscribe over the WebSocket and print one line per event: "
        "`<id> <event_type> <verified> <received_at>` (--json: the whole event frame). "
        "Reconnects by itself, resuming after the last event seen. Ctrl-C stops it.",
        epilog="examples:\n  bridge listen demo\n  bridge listen demo --since 0   "
        "(everything retained, then live)\n  bridge listen demo --json | jq .event.body",
    )
    listen_cmd.add_argument("endpoint", help="endpoint id")
    listen_cmd.add_argument(
        "--since",
        type=_cursor_arg,
        metavar="C",
        help="first print the retained events after this cursor (0: all of them)",
    )

    # token
    token_cmd = command(
        commands,
        "token",
        token,
        parents=both,
        help="mint a short-lived subscriber token",
        description="Mint a subscriber token (POST /api/tokens) that may only read the named "
        "channels; prints the token.",
        epilog="example:\n  bridge token --channel demo --ttl 3600",
    )
    token_cmd.add_argument(
        "--channel", required=True, action="append", metavar="X", help="repeatable"
    )
    token_cmd.add_argument(
        "--ttl", type=_positive_int, default=3600, metavar="S", help="seconds (default 3600)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except BridgeError as exc:
        print(f"bridge: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `bridge listen ... | head`: the reader left; leave quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # the contract: one line, never a traceback
        print(f"bridge: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
