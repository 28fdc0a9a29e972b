"""Small, realistic sample payloads for `bridge send` when no `--data` is given.

Each sample carries the event type (and, where the provider takes it from the body, the event
id) where that provider puts it, so the bridge derives the same `event_type` the sender meant:

| provider | default event type | where the type lives |
| --- | --- | --- |
| github | `push` | `X-GitHub-Event` header, plus the body's `action` (`pull_request.opened`) |
| stripe | `payment_intent.succeeded` | body `type` (event id: body `id`) |
| slack | `app_mention` | body `event.type` of an `event_callback` (`url_verification` too) |
| shopify | `orders/create` | `X-Shopify-Topic` header |
| razorpay | `payment.captured` | body `event` |
| standard | `invoice.paid` | body `type` |
| hmac | `order.created` | body field named by the `type_field` option (default `type`) |

Any other provider gets a generic `{"type": ..., "id": ..., "data": {...}}` body.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from bridge.timefmt import iso

DEFAULT_EVENT_TYPES: dict[str, str] = {
    "github": "push",
    "stripe": "payment_intent.succeeded",
    "slack": "app_mention",
    "shopify": "orders/create",
    "razorpay": "payment.captured",
    "standard": "invoice.paid",
    "hmac": "order.created",
}
GENERIC_EVENT_TYPE = "test.event"


def default_event_type(provider: str) -> str:
    return DEFAULT_EVENT_TYPES.get(provider, GENERIC_EVENT_TYPE)


def sample(
    provider: str,
    event_type: str,
    *,
    event_id: str | None,
    now: float,
    options: Mapping[str, Any] | None = None,
) -> bytes:
    """The JSON body (UTF-8 bytes) a `provider` would send for `event_type`."""
    build = _BUILDERS.get(provider, _generic)
    data = build(event_type, event_id, now, options or {})
    return json.dumps(data, indent=2).encode()


def _token(prefix: str, size: int = 12) -> str:
    return prefix + secrets.token_hex(size // 2)


_REPO = {
    "id": 1296269,
    "name": "hello-world",
    "full_name": "octocat/hello-world",
    "private": False,
    "html_url": "https://github.com/octocat/hello-world",
    "default_branch": "main",
}
_SENDER = {"login": "octocat", "id": 583231, "type": "User"}


def _github(event_type: str, event_id: str | None, now: float, _: Mapping[str, Any]) -> Any:
    event, _dot, action = event_type.partition(".")
    if event == "push":
        after = secrets.token_hex(20)
        commit = {
            "id": after,
            "message": "Fix the typo in the README",
            "timestamp": iso(now),
            "author": {"name": "Mona Octocat", "email": "octocat@example.com"},
        }
        data: dict[str, Any] = {
            "ref": "refs/heads/main",
            "before": secrets.token_hex(20),
            "after": after,
            "repository": _REPO,
            "pusher": {"name": "octocat", "email": "octocat@example.com"},
            "sender": _SENDER,
            "commits": [commit],
            "head_commit": commit,
        }
    elif event == "ping":
        data = {"zen": "Keep it logically awesome.", "hook_id": 30, "repository": _REPO}
    elif event == "pull_request":
        data = {
            "number": 42,
            "pull_request": {
                "number": 42,
                "title": "Add a webhook bridge",
                "state": "open",
                "html_url": "https://github.com/octocat/hello-world/pull/42",
                "user": _SENDER,
                "head": {"ref": "feature"},
                "base": {"ref": "main"},
            },
            "repository": _REPO,
            "sender": _SENDER,
        }
    elif event == "issues":
        data = {
            "issue": {"number": 7, "title": "Found a bug", "state": "open", "user": _SENDER},
            "repository": _REPO,
            "sender": _SENDER,
        }
    else:
        data = {"repository": _REPO, "sender": _SENDER}
    if action:
        data = {"action": action, **data}
    return data


def _stripe_object(event_type: str, now: float) -> dict[str, Any]:
    kind = event_type.rsplit(".", 1)[0]
    if kind == "payment_intent":
        return {
            "id": _token("pi_", 24),
            "object": "payment_intent",
            "amount": 2000,
            "amount_received": 2000,
            "currency": "usd",
            "status": "succeeded",
            "customer": "cus_NffrFeUfNV2Hib",
            "created": int(now),
        }
    if kind == "invoice":
        return {
            "id": _token("in_", 24),
            "object": "invoice",
            "amount_paid": 4900,
            "currency": "usd",
            "status": "paid",
            "customer": "cus_NffrFeUfNV2Hib",
        }
    if kind == "checkout.session":
        return {
            "id": _token("cs_test_", 24),
            "object": "checkout.session",
            "amount_total": 2000,
            "currency": "usd",
            "payment_status": "paid",
        }
    return {"id": _token("obj_", 24), "object": kind.replace(".", "_")}


def _stripe(event_type: str, event_id: str | None, now: float, _: Mapping[str, Any]) -> Any:
    return {
        "id": event_id or _token("evt_", 24),
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(now),
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": _stripe_object(event_type, now)},
    }


def _slack(event_type: str, event_id: str | None, now: float, _: Mapping[str, Any]) -> Any:
    if event_type == "url_verification":
        return {
            "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
            "challenge": secrets.token_urlsafe(24),
            "type": "url_verification",
        }
    ts = f"{now:.6f}"
    return {
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "event": {
            "type": event_type,
            "user": "U0001",
            "text": "<@U0BOT> hello from bridge send",
            "channel": "C0001",
            "ts": ts,
            "event_ts": ts,
        },
        "type": "event_callback",
        "event_id": event_id or _token("Ev", 10).upper(),
        "event_time": int(now),
    }


def _shopify(event_type: str, event_id: str | None, now: float, _: Mapping[str, Any]) -> Any:
    number = secrets.randbelow(10**12) + 10**12
    if event_type.startswith("orders/"):
        return {
            "id": number,
            "admin_graphql_api_id": f"gid://shopify/Order/{number}",
            "name": "#1001",
            "email": "jon@example.com",
            "created_at": iso(now),
            "currency": "USD",
            "total_price": "199.00",
            "financial_status": "paid",
            "line_items": [
                {"title": "Aerodynamic Cotton Keyboard", "quantity": 1, "price": "199.00"}
            ],
        }
    if event_type.startswith("products/"):
        return {
            "id": number,
            "title": "Aerodynamic Cotton Keyboard",
            "status": "active",
            "updated_at": iso(now),
        }
    return {"id": number, "updated_at": iso(now)}


def _razorpay(event_type: str, event_id: str | None, now: float, _: Mapping[str, Any]) -> Any:
    entity = event_type.split(".", 1)[0]
    return {
        "entity": "event",
        "account_id": "acc_BFQ7uQEaa7j2z7",
        "event": event_type,
        "contains": [entity],
        "payload": {
            entity: {
                "entity": {
                    "id": _token(f"{entity[:3]}_", 14),
                    "entity": entity,
                    "amount": 50000,
                    "currency": "INR",
                    "status": event_type.rsplit(".", 1)[-1],
                    "method": "upi",
                    "created_at": int(now),
                }
            }
        },
        "created_at": int(now),
    }


def _standard(event_type: str, event_id: str | None, now: float, _: Mapping[str, Any]) -> Any:
    return {
        "type": event_type,
        "timestamp": iso(now),
        "data": {"id": _token("inv_", 16), "amount_due": 4900, "currency": "usd"},
    }


def _hmac(event_type: str, event_id: str | None, now: float, options: Mapping[str, Any]) -> Any:
    data: dict[str, Any] = {
        "id": event_id or _token("evt_", 16),
        "created_at": iso(now),
        "data": {"order_id": 1001, "total": "19.99", "currency": "EUR"},
    }
    # Put the type where the endpoint's `type_field` option says (dots walk into objects).
    path = str(options.get("type_field") or "type").split(".")
    target = data
    for key in path[:-1]:
        nested = target.get(key)
        if not isinstance(nested, dict):
            nested = target[key] = {}
        target = nested
    target[path[-1]] = event_type
    return data


def _generic(event_type: str, event_id: str | None, now: float, _: Mapping[str, Any]) -> Any:
    return {
        "id": event_id or _token("evt_", 16),
        "type": event_type,
        "created_at": iso(now),
        "data": {"message": "a test event from bridge send"},
    }


_BUILDERS: dict[str, Callable[[str, str | None, float, Mapping[str, Any]], Any]] = {
    "github": _github,
    "stripe": _stripe,
    "slack": _slack,
    "shopify": _shopify,
    "razorpay": _razorpay,
    "standard": _standard,
    "hmac": _hmac,
}
