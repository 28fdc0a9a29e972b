"""`bridge register list|delete`: the hooks `bridge register` made (recorded in
registrations.py), each checked at its provider, and deleting one there."""

from __future__ import annotations

import argparse
from typing import Any

from bridge.cli import provider_api, registrations, shared
from bridge.client import CliError
from bridge.config import ClientSettings


def _status(hook: registrations.Hook, settings: ClientSettings) -> str:
    """What the provider says of the hook now: active, inactive/disabled, or gone."""
    if hook.provider == "github":
        if not settings.github_token:
            return "unchecked (GITHUB_TOKEN is not set)"
        found = provider_api.github_hook(
            hook.api_base, settings.github_token, hook.repo or "", hook.id
        )
        return "gone" if found is None else ("active" if found.get("active") else "inactive")
    if not settings.stripe_api_key:
        return "unchecked (STRIPE_API_KEY is not set)"
    made = provider_api.stripe_endpoint(hook.api_base, settings.stripe_api_key, hook.id)
    return "gone" if made is None else str(made.get("status") or "enabled")


def list_hooks(args: argparse.Namespace, settings: ClientSettings) -> int:
    hooks = registrations.load(settings.data_dir)
    statuses = [_status(h, settings) for h in hooks]
    if args.json:
        listed = [registrations.as_json(h, status=s) for h, s in zip(hooks, statuses, strict=True)]
        shared.print_json({"hooks": listed})
        return 0
    if not hooks:
        print("No hooks made by `bridge register` are recorded here "
              f"({settings.data_dir / registrations.FILE}).", flush=True)  # fmt: skip
        return 0
    for hook, status in zip(hooks, statuses, strict=True):
        where = f"GitHub {hook.repo}" if hook.provider == "github" else "Stripe"
        print(f"{hook.id}  {where}  -> {hook.endpoint} on {hook.server}  "
              f"[{', '.join(hook.events)}]  {status}")  # fmt: skip
    print(end="", flush=True)
    return 0


def delete_hook(args: argparse.Namespace, settings: ClientSettings) -> int:
    hook = next((h for h in registrations.load(settings.data_dir) if h.id == args.id), None)
    if hook is None:
        raise CliError(
            f"no hook {args.id} made by `bridge register` is recorded in "
            f"{settings.data_dir / registrations.FILE} (`bridge register list` shows them)"
        )
    if hook.provider == "github":
        existed = provider_api.delete_github_hook(
            hook.api_base, provider_api.github_token(settings), hook.repo or "", hook.id
        )
        what = f"GitHub webhook {hook.id} on {hook.repo}"
    else:
        key = provider_api.stripe_key(settings)
        existed = provider_api.delete_stripe_endpoint(hook.api_base, key, hook.id)
        what = f"Stripe webhook endpoint {hook.id}"
    registrations.remove(settings.data_dir, hook.id)
    if args.json:
        shared.print_json(registrations.as_json(hook, deleted=existed))
        return 0
    done = "Deleted" if existed else "Forgot (the provider no longer had it)"
    print(f"{done} {what}. The bridge endpoint {hook.endpoint} stays: "
          f"bridge endpoints delete {hook.endpoint}{shared.server_flag(hook.server)}",
          flush=True)  # fmt: skip
    return 0


def add(group: Any, parents: shared.Parents) -> None:
    """`list` and `delete` under `bridge register`."""
    shared.command(
        group,
        "list",
        list_hooks,
        parents=[parents.json],
        help="the hooks `bridge register` made, and their state at the provider",
        description="List the GitHub webhooks and Stripe webhook endpoints that `bridge "
        "register` made from this data dir (<data dir>/registrations.json), each checked at "
        "its provider: active, inactive (GitHub) / disabled (Stripe), or gone.",
        examples=["bridge register list", "bridge register list --json"],
    )
    delete = shared.command(
        group,
        "delete",
        delete_hook,
        parents=[parents.json],
        help="delete a hook `bridge register` made (the bridge endpoint stays)",
        description="Delete a webhook that `bridge register` made, on GitHub or Stripe, and "
        "forget it. The bridge endpoint and its events stay (bridge endpoints delete removes "
        "them).",
        examples=["bridge register delete 500000001", "bridge register delete we_1Q2w3e4r"],
    )
    delete.add_argument("id", metavar="ID", help="the hook's id, as `bridge register list` shows")
