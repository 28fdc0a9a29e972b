"""`bridge send`: sign a test webhook exactly as a provider would and POST it to the bridge,
with negative modes (`--tamper`, `--stale`, `--wrong-secret`, `--duplicate`) to exercise a
handler's rejection path. Exit 1 when any answer is not 2xx (after printing it)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from bridge import providers
from bridge.cli import samples, shared
from bridge.client import CliError, hook_url, post_webhook
from bridge.config import ClientSettings
from bridge.errors import InvalidInput

STALE_SECONDS = 600  # `send --stale` signs with a timestamp this old (tolerance is 300 s)


def read_data(value: str) -> bytes:
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


def send(args: argparse.Namespace, settings: ClientSettings) -> int:
    server = shared.server(args, settings)
    provider = providers.get(args.provider)
    options = shared.options(args.option)
    event_type = args.event_type or samples.default_event_type(provider.name)
    real_now = time.time()
    if args.data is not None:
        body = read_data(args.data)
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


def add(commands: Any, parents: shared.Parents) -> None:
    sub = shared.command(
        commands,
        "send",
        send,
        parents=[parents.server],
        help="sign a test webhook as a provider would and POST it",
        description="Sign a webhook exactly as the provider would and POST it to "
        "<server>/hooks/<endpoint>; prints `<status> <JSON answer>`. Exit 0 when the "
        "answer is 2xx, else 1. Without --data, a sample payload for the provider and event "
        "type is sent.",
        examples=[
            "bridge send demo --provider github --secret demo-secret-123",
            "bridge send pay --provider stripe --secret whsec_... "
            "--event-type invoice.paid --data @invoice.json",
            "bridge send pay --provider stripe --secret whsec_... --stale   (expect 401)",
        ],
    )
    sub.add_argument("endpoint", type=shared.endpoint_arg, help="endpoint id")
    sub.add_argument("--provider", required=True, metavar="P", choices=sorted(providers.REGISTRY))
    sub.add_argument("--secret", required=True, metavar="S", help="the endpoint's secret")
    sub.add_argument(
        "--event-type",
        type=shared.event_arg,
        metavar="T",
        help="default: the provider's sample",
    )
    sub.add_argument("--event-id", type=shared.event_arg, metavar="ID", help="default: a fresh one")
    sub.add_argument(
        "--data",
        type=shared.text_arg,
        metavar="JSON",
        help="the body: @file.json, @- for stdin, or the JSON itself",
    )
    sub.add_argument(
        "--option",
        type=shared.option_arg,
        action="append",
        metavar="KEY=VALUE",
        help="the endpoint's provider options that change signing (hmac: header, prefix...)",
    )
    negative = sub.add_argument_group("negative tests")
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
