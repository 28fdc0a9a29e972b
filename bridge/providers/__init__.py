"""The provider registry: contract names to verifier instances.

Adding a provider is one module with a `Provider` subclass plus its entry here.
"""

from __future__ import annotations

from bridge.errors import InvalidInput
from bridge.providers.base import Identity, Provider, Secret, Verdict, WebhookRequest
from bridge.providers.generic_hmac import GenericHmac
from bridge.providers.github import GitHub
from bridge.providers.razorpay import Razorpay
from bridge.providers.shopify import Shopify
from bridge.providers.slack import Slack
from bridge.providers.standard import StandardWebhooks
from bridge.providers.stripe import Stripe
from bridge.providers.unverified import Unverified

REGISTRY: dict[str, Provider] = {
    p.name: p
    for p in (
        StandardWebhooks(),
        Stripe(),
        GitHub(),
        Razorpay(),
        Shopify(),
        Slack(),
        GenericHmac(),
        Unverified(),
    )
}


def get(name: str) -> Provider:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise InvalidInput("provider", f"unknown provider {name!r} (known: {known})") from None


__all__ = ["REGISTRY", "Identity", "Provider", "Secret", "Verdict", "WebhookRequest", "get"]
