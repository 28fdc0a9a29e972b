"""`bridge register github|stripe`: create the webhook on the provider's side, through its REST
API (bridge/cli/provider_api.py), and keep its secret on a bridge endpoint, so the very first
delivery verifies.

- GitHub lets the receiver choose the secret: the bridge generates it (creating the endpoint,
  or adding a secret to an existing one) and it is handed to GitHub with the new hook.
- Stripe issues the secret: the Stripe webhook endpoint is created first, and the `whsec_...`
  in its answer is stored on the bridge endpoint (created, or given one more secret).

When the second step fails, the first is undone, so nothing is left half made.
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any
from urllib.parse import urlsplit

from bridge.answers import ENDPOINT, ENDPOINT_WITH_SECRET, OPENAPI_SERVERS, SECRET_ADDED
from bridge.cli import provider_api, registered, registrations, shared
from bridge.client import Api, CliError, Gone
from bridge.config import ClientSettings
from bridge.timefmt import iso

REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
GITHUB_EVENTS = ["push"]
STRIPE_EVENTS = ["*"]  # every event type, as `stripe listen` does by default
LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


def repo_arg(raw: str) -> str:
    if not REPO.fullmatch(raw):
        raise argparse.ArgumentTypeError(f"expected owner/name, got {raw!r}")
    return raw


def events_arg(raw: str) -> list[str]:
    events = [e.strip() for e in raw.split(",")]
    if not all(events):
        raise argparse.ArgumentTypeError(f"expected names separated by commas, got {raw!r}")
    return events


def github_endpoint_id(repo: str) -> str:
    """`Octo/Hello.World` -> `gh-octo-hello-world`."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", repo.lower()).strip("-")
    return f"gh-{slug}"[:63].rstrip("-")


def _existing(api: Api, endpoint_id: str, provider: str) -> dict[str, Any] | None:
    try:
        endpoint: dict[str, Any] = api.call("GET", api.endpoint_path(endpoint_id), shape=ENDPOINT)
    except Gone:
        return None
    if endpoint.get("provider") != provider:
        raise CliError(
            f"endpoint {endpoint_id} is a {endpoint.get('provider')} endpoint, not {provider}: "
            "give another --endpoint"
        )
    return endpoint


def _warn_if_unreachable(url: str, provider: str) -> None:
    if (urlsplit(url).hostname or "") in LOOPBACK:
        shared.notice(
            f"warning: {provider} cannot reach {url}; run the bridge where {provider} can "
            "reach it, and set BRIDGE_PUBLIC_URL on it"
        )


def _undo(api: Api, endpoint_id: str, created: bool, secret_id: str) -> str:
    try:
        if created:
            api.call("DELETE", api.endpoint_path(endpoint_id))
            return f"the new endpoint {endpoint_id} was deleted again"
        api.call("DELETE", api.secret_path(endpoint_id, secret_id))
        return f"the new secret {secret_id} was removed from {endpoint_id} again"
    except CliError as exc:
        return f"undoing on the bridge failed too ({exc})"


def _record(
    settings: ClientSettings,
    provider: str,
    hook_id: str,
    endpoint_id: str,
    server: str,
    base: str,
    events: list[str],
    repo: str | None = None,
) -> None:
    hook = registrations.Hook(
        provider=provider,
        id=hook_id,
        endpoint=endpoint_id,
        server=server,
        api_base=base,
        events=list(events),
        created_at=iso(time.time()),
        repo=repo,
    )
    try:
        registrations.add(settings.data_dir, hook)
    except CliError as exc:  # the hook works; only `register list` and `backfill` miss it
        shared.notice(f"warning: {exc.message}; `bridge backfill` will need --repo/--hook-id")


def github(args: argparse.Namespace, settings: ClientSettings) -> int:
    token = provider_api.github_token(settings)
    api = shared.api(args, settings)
    endpoint_id = args.endpoint or github_endpoint_id(args.repo)
    existing = _existing(api, endpoint_id, "github")
    if existing is None:
        description = f"GitHub {args.repo}"
        body = {"id": endpoint_id, "provider": "github", "description": description}
        endpoint = api.call("POST", "/api/endpoints", body, shape=ENDPOINT_WITH_SECRET)
        secret = endpoint["secrets"][-1]
    else:
        path = api.endpoint_path(endpoint_id, "/secrets")
        added = api.call("POST", path, {}, shape=SECRET_ADDED)
        endpoint, secret = added["endpoint"], added["secret"]
    events = args.events or GITHUB_EVENTS
    base = args.api_base or settings.github_api_url
    try:
        hook = provider_api.create_github_hook(
            base, token, args.repo, endpoint["url"], secret["value"], events
        )
    except CliError as exc:
        raise CliError(
            f"{exc.message}; {_undo(api, endpoint_id, existing is None, secret['id'])}"
        ) from None
    _record(settings, "github", str(hook.get("id")), endpoint_id, api.server, base, events,
            repo=args.repo)  # fmt: skip
    _warn_if_unreachable(endpoint["url"], "GitHub")
    if args.json:
        shared.print_json({"endpoint": endpoint, "secret_id": secret["id"], "github_hook": hook})
        return 0
    if existing is None:
        print(
            f"Created endpoint {endpoint_id} (github) on {api.server}; the bridge generated "
            f"its secret {secret['id']}"
        )
    else:
        print(
            f"Added secret {secret['id']} to endpoint {endpoint_id}; its older secrets stay "
            "valid until you remove them"
        )
    print(
        f"Created GitHub webhook {hook.get('id')} on {args.repo} for {', '.join(events)}: "
        f"JSON to {endpoint['url']}, signed with secret {secret['id']}"
    )
    flag = shared.server_flag(api.server)
    print(
        f"GitHub sends a ping event now. Watch it:  bridge listen {endpoint_id}{flag}", flush=True
    )
    return 0


def stripe(args: argparse.Namespace, settings: ClientSettings) -> int:
    key = provider_api.stripe_key(settings)
    api = shared.api(args, settings)
    endpoint_id = args.endpoint or "stripe"
    existing = _existing(api, endpoint_id, "stripe")
    if existing is not None:
        url = str(existing["url"])
    else:  # the URL the endpoint will have: the bridge's public base (as the API reports it)
        servers = api.call("GET", "/api/openapi.json", shape=OPENAPI_SERVERS).get("servers")
        servers = servers or [{}]
        url = f"{str(servers[0].get('url', api.server)).rstrip('/')}/hooks/{endpoint_id}"
    events = args.events or STRIPE_EVENTS
    base = args.api_base or settings.stripe_api_base
    hook = provider_api.create_stripe_endpoint(
        base, key, url, events, description=f"Webhook Bridge endpoint {endpoint_id}"
    )
    try:
        if existing is None:
            body = {"id": endpoint_id, "provider": "stripe", "secret": hook["secret"]}
            body["description"] = f"Stripe {hook['id']}"
            endpoint = api.call("POST", "/api/endpoints", body, shape=ENDPOINT_WITH_SECRET)
            secret_id = endpoint["secrets"][-1]["id"]
        else:
            added = api.call(
                "POST",
                api.endpoint_path(endpoint_id, "/secrets"),
                {"secret": hook["secret"]},
                shape=SECRET_ADDED,
            )
            endpoint, secret_id = added["endpoint"], added["secret"]["id"]
    except CliError as exc:
        try:
            provider_api.delete_stripe_endpoint(base, key, hook["id"])
            undone = f"the Stripe webhook endpoint {hook['id']} was deleted again"
        except CliError as failed:
            undone = f"delete the Stripe webhook endpoint {hook['id']} by hand ({failed})"
        raise CliError(f"{exc.message}; {undone}") from None
    _record(settings, "stripe", str(hook["id"]), endpoint_id, api.server, base, events)
    _warn_if_unreachable(url, "Stripe")
    if args.json:
        shared.print_json(
            {"endpoint": endpoint, "secret_id": secret_id, "stripe_webhook_endpoint": hook}
        )
        return 0
    print(f"Created Stripe webhook endpoint {hook['id']} for {', '.join(events)}: {url}")
    verb = "Created endpoint" if existing is None else "Updated endpoint"
    print(
        f"{verb} {endpoint_id} (stripe) on {api.server} with Stripe's signing secret as {secret_id}"
    )
    flag = shared.server_flag(api.server)
    print(f"Watch it:  bridge listen {endpoint_id}{flag}", flush=True)
    return 0


def add(commands: Any, parents: shared.Parents) -> None:
    group_parser = commands.add_parser(
        "register",
        help="create the webhook on GitHub's or Stripe's side, secret included",
        description="Create the webhook on the provider's side through its REST API, and "
        "keep its signing secret on a bridge endpoint (created if needed).",
        epilog="examples:\n  GITHUB_TOKEN=ghp_... bridge register github --repo octo/hello\n"
        "  STRIPE_API_KEY=sk_test_... bridge register stripe",
        formatter_class=shared.FORMAT,
    )
    group = group_parser.add_subparsers(dest="provider", required=True, metavar="COMMAND")
    gh = shared.command(
        group,
        "github",
        github,
        parents=parents.both,
        help="create a repository webhook (token: $GITHUB_TOKEN)",
        description="Create (or add a new secret to) a github endpoint, with a secret the bridge "
        "generates, then a webhook on the repository (POST /repos/{owner}/{repo}/hooks) that "
        "sends JSON to the endpoint's URL signed with that secret. If GitHub refuses, the "
        "bridge change is undone.",
        examples=[
            "GITHUB_TOKEN=ghp_... bridge register github --repo octo/hello",
            "bridge register github --repo octo/hello --events push,pull_request --endpoint gh",
        ],
    )
    gh.add_argument("--repo", required=True, type=repo_arg, metavar="OWNER/NAME")
    gh.add_argument("--events", type=events_arg, metavar="E,E", help="default: push")
    gh.add_argument(
        "--endpoint", type=shared.endpoint_arg, metavar="ID", help="default: gh-<owner>-<name>"
    )
    gh.add_argument(
        "--api-base",
        type=shared.url_arg,
        metavar="URL",
        help="GitHub's API (default: $GITHUB_API_URL, else https://api.github.com)",
    )
    st = shared.command(
        group,
        "stripe",
        stripe,
        parents=parents.both,
        help="create a Stripe webhook endpoint (key: $STRIPE_API_KEY)",
        description="Create a webhook endpoint on Stripe (POST /v1/webhook_endpoints) for the "
        "bridge endpoint's URL, then store the signing secret from Stripe's answer on the "
        "bridge endpoint (created if needed). If the bridge refuses, the Stripe endpoint is "
        "deleted again.",
        examples=[
            "STRIPE_API_KEY=sk_test_... bridge register stripe",
            "bridge register stripe --events payment_intent.succeeded,invoice.paid --endpoint pay",
        ],
    )
    st.add_argument("--events", type=events_arg, metavar="E,E", help="default: * (every event)")
    st.add_argument("--endpoint", type=shared.endpoint_arg, metavar="ID", help="default: stripe")
    st.add_argument(
        "--api-base",
        type=shared.url_arg,
        metavar="URL",
        help="Stripe's API (default: $STRIPE_API_BASE, else https://api.stripe.com)",
    )
    registered.add(group, parents)
