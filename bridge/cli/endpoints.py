"""`bridge endpoints create|list|show|delete|rotate|retire`: manage a running bridge's endpoints
through its admin API (docs/api.md)."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from bridge import answers, providers
from bridge.cli import shared
from bridge.config import ClientSettings


def show_endpoint(endpoint: dict[str, Any], server: str, heading: str = "Endpoint") -> None:
    """The readable form of an endpoint: URL, secrets, options, setup steps, next commands."""
    eid = endpoint.get("id", "?")
    provider = endpoint.get("provider", "?")
    print(f"{heading} {eid} ({provider}), created {endpoint.get('created_at', '?')}")
    print(f"  Webhook URL:  {endpoint.get('url', '?')}")
    secrets = endpoint.get("secrets") or []
    for number, secret in enumerate(secrets, 1):
        label = f"Secret {secret.get('id', '?')}:"
        expires = secret.get("expires_at")
        # After the value, so every value starts in the same column.
        if expires:
            note = f"  (retiring: stops verifying at {expires})"
        else:
            note = "  (newest)" if len(secrets) > 1 and number == len(secrets) else ""
        print(f"  {label:<13} {secret.get('value', '')}{note}")
    if endpoint.get("description"):
        print(f"  Description:  {shared.terminal_safe(str(endpoint['description']))}")
    options = endpoint.get("options") or {}
    if options:
        shown = " ".join(shared.option_text(k, v) for k, v in sorted(options.items()))
        print(f"  Options:      {shown}")
    if endpoint.get("verified") is False or provider == "none":
        print("  UNVERIFIED:   no signature check: anyone who knows the URL can post events")
    steps = endpoint.get("setup") or []
    if steps:
        print(f"\nSet it up on the {provider} side:")
        for number, step in enumerate(steps, 1):
            print(f"  {number}. {step}")
    flag = shared.server_flag(server)
    print(f"\nWatch it:  bridge listen {eid}{flag}")
    if secrets:
        lasting = [s for s in secrets if not s.get("expires_at")] or secrets
        secret = shlex.quote(str(lasting[-1].get("value", "")))
        # Options that change how the provider signs (hmac's header, prefix...) go along.
        extra = "".join(
            f" --option {shlex.quote(shared.option_text(key, value))}"
            for key, value in sorted(options.items())
            if key != "tolerance"
        )
        print(f"Test it:   bridge send {eid} --provider {provider} --secret {secret}{extra}{flag}")
    sys.stdout.flush()


def create(args: argparse.Namespace, settings: ClientSettings) -> int:
    api = shared.api(args, settings)
    body: dict[str, Any] = {"id": args.id, "provider": args.provider}
    if args.secret is not None:
        body["secret"] = args.secret
    if args.description is not None:
        body["description"] = args.description
    if args.option:
        body["options"] = shared.options(args.option)
    created = api.call("POST", "/api/endpoints", body, shape=answers.ENDPOINT)
    if args.json:
        shared.print_json(created)
    else:
        show_endpoint(created, api.server, heading="Created endpoint")
    return 0


def list_all(args: argparse.Namespace, settings: ClientSettings) -> int:
    api = shared.api(args, settings)
    answer = api.call("GET", "/api/endpoints", shape=answers.ENDPOINTS)
    if args.json:
        shared.print_json(answer)
        return 0
    found: list[dict[str, Any]] = answer["endpoints"]
    if not found:
        flag = shared.server_flag(api.server)
        print(f"No endpoints yet: bridge endpoints create <id> --provider <name>{flag}")
        return 0
    rows = [("ID", "PROVIDER", "SECRETS", "URL", "DESCRIPTION")]
    for e in found:
        provider = str(e.get("provider", "?"))
        if e.get("verified") is False:
            provider += " (UNVERIFIED)"
        description = shared.terminal_safe(str(e.get("description") or ""))
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


def show(args: argparse.Namespace, settings: ClientSettings) -> int:
    api = shared.api(args, settings)
    endpoint = api.call("GET", api.endpoint_path(args.id), shape=answers.ENDPOINT)
    if args.json:
        shared.print_json(endpoint)
    else:
        show_endpoint(endpoint, api.server)
    return 0


def delete(args: argparse.Namespace, settings: ClientSettings) -> int:
    api = shared.api(args, settings)
    # Asked only of a person at a terminal: a script (stdin not a terminal) deletes as told.
    if not args.yes and sys.stdin.isatty():
        shown = api.call("GET", api.endpoint_path(args.id), shape=answers.ENDPOINT)
        events = shown.get("events", 0)
        prompt = f"Delete endpoint {args.id} and its {events} stored event(s)? [y/N] "
        try:
            answer = input(prompt)
        except EOFError:
            answer = ""
        if answer.strip().lower() not in {"y", "yes"}:
            print(f"Kept {args.id}: nothing deleted.", flush=True)
            return 1
    api.call("DELETE", api.endpoint_path(args.id))
    if args.json:
        shared.print_json({"id": args.id, "deleted": True})
    else:
        print(f"Deleted endpoint {args.id} and its event history.", flush=True)
    return 0


def rotate(args: argparse.Namespace, settings: ClientSettings) -> int:
    api = shared.api(args, settings)
    body = {"secret": args.secret} if args.secret is not None else {}
    answer = api.call(
        "POST", api.endpoint_path(args.id, "/secrets"), body, shape=answers.SECRET_ADDED
    )
    if args.json:
        shared.print_json(answer)
        return 0
    added, endpoint = answer["secret"], answer["endpoint"]
    every = ", ".join(str(s.get("id")) for s in endpoint.get("secrets", []))
    print(f"Added secret {added.get('id')} to {args.id}: {added.get('value')}")
    print(f"{args.id} now accepts a signature by any of its secrets: {every}")
    print(_after_rotation(args.id, endpoint, str(added.get("id")), api.server), flush=True)
    return 0


def _after_rotation(eid: str, endpoint: dict[str, Any], new_id: str, server: str) -> str:
    """What is left to do: give the provider the new secret (unless the provider issued it:
    then it has it already), then retire the old one."""
    provider = str(endpoint.get("provider", "?"))
    known = providers.REGISTRY.get(provider)
    todo = (
        f"Give the new secret to {provider}; the"
        if known is None or known.generates_secret
        else "The"
    )
    old = [
        str(s.get("id"))
        for s in endpoint.get("secrets", [])
        if s.get("id") != new_id and not s.get("expires_at")
    ]
    if not old:
        return f"{todo} old ones stay valid until they expire."
    command = f"bridge endpoints retire {eid} {old[0]}{shared.server_flag(server)}"
    more = f" (then {', '.join(old[1:])} likewise)" if len(old) > 1 else ""
    return f"{todo} old ones stay valid until you retire them: {command}{more}"


def retire(args: argparse.Namespace, settings: ClientSettings) -> int:
    api = shared.api(args, settings)
    path = f"{api.secret_path(args.id, args.secret_id)}?grace_seconds={args.grace}"
    endpoint = api.call("DELETE", path, shape=answers.ENDPOINT)
    if args.json:
        shared.print_json(endpoint)
        return 0
    when = "at once" if not args.grace else f"after {args.grace} s"
    left = ", ".join(str(s.get("id")) for s in endpoint.get("secrets", []))
    print(f"Secret {args.secret_id} of {args.id} stops verifying {when}; secrets: {left}")
    return 0


def add(commands: Any, parents: shared.Parents) -> None:
    group_parser = commands.add_parser(
        "endpoints",
        help="create, list, show, delete endpoints; rotate their secrets",
        description="Manage endpoints of a running bridge (admin token: $BRIDGE_ADMIN_TOKEN, "
        "else $BRIDGE_DATA_DIR/admin-token, data dir default ./.bridge).",
        epilog="examples:\n  bridge endpoints create demo --provider github\n"
        "  bridge endpoints list",
        formatter_class=shared.FORMAT,
    )
    group = group_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = shared.command(
        group,
        "create",
        create,
        parents=parents.both,
        help="create an endpoint",
        description="Create an endpoint; prints its webhook URL, secret and setup steps.",
        examples=[
            "bridge endpoints create demo --provider github",
            "bridge endpoints create pay --provider stripe --secret whsec_... "
            "--description 'Stripe live'",
            "bridge endpoints create acme --provider hmac --option header=X-Acme-Signature "
            "--option prefix=sha256=",
        ],
    )
    new.add_argument("id", help="endpoint id: [a-z0-9][a-z0-9_-]{0,62}")
    new.add_argument("--provider", required=True, metavar="P", help="github, stripe, ...")
    new.add_argument(
        "--secret",
        metavar="S",
        help="the signing secret (required where the provider issues it: stripe, slack, "
        "shopify); generated otherwise",
    )
    new.add_argument("--description", metavar="D")
    new.add_argument(
        "--option",
        type=shared.option_arg,
        action="append",
        metavar="KEY=VALUE",
        help="a provider option (repeatable); JSON values such as 600 or true are sent as such",
    )
    shared.command(
        group,
        "list",
        list_all,
        parents=parents.both,
        help="list endpoints",
        description="List every endpoint as a table.",
        examples=["bridge endpoints list", "bridge endpoints list --json"],
    )
    for name, func, text in (
        ("show", show, "show an endpoint: URL, secrets, setup steps"),
        ("delete", delete, "delete an endpoint and its event history"),
    ):
        sub = shared.command(
            group,
            name,
            func,
            parents=parents.both,
            help=text,
            description=text[0].upper()
            + text[1:]
            + "."
            + (" On a terminal it asks first (--yes does not)." if func is delete else ""),
            examples=[f"bridge endpoints {name} demo"],
        )
        sub.add_argument("id", type=shared.endpoint_arg, help="endpoint id")
        if func is delete:
            sub.add_argument("--yes", action="store_true", help="delete without asking")
    rotated = shared.command(
        group,
        "rotate",
        rotate,
        parents=parents.both,
        help="add a secret (rotation); old secrets stay valid",
        description="Add a secret to an endpoint (POST /api/endpoints/<id>/secrets); "
        "signatures by any of its secrets verify.",
        examples=[
            "bridge endpoints rotate demo",
            "bridge endpoints rotate pay --secret whsec_new...",
        ],
    )
    rotated.add_argument("id", type=shared.endpoint_arg, help="endpoint id")
    rotated.add_argument("--secret", metavar="S", help="the new secret (generated if omitted)")
    retired = shared.command(
        group,
        "retire",
        retire,
        parents=parents.both,
        help="remove a secret, at once or after a grace period",
        description="Remove a secret (DELETE /api/endpoints/<id>/secrets/<secret id>); with "
        "--grace it keeps verifying that long (Razorpay retries with the old secret for 24 h). "
        "The last live secret cannot be removed.",
        examples=[
            "bridge endpoints retire demo s1",
            "bridge endpoints retire pay s1 --grace 86400",
        ],
    )
    retired.add_argument("id", type=shared.endpoint_arg, help="endpoint id")
    retired.add_argument(
        "secret_id", type=shared.secret_arg, help="the secret's id, e.g. s1 (see `endpoints show`)"
    )
    retired.add_argument(
        "--grace",
        type=shared.seconds_arg,
        default=0,
        metavar="S",
        help="seconds it still verifies (default 0)",
    )
