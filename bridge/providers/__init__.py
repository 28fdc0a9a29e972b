"""The provider registry: contract names to verifier instances.

Adding a provider is one module with a `Provider` subclass plus its entry here, and its guide
(title, table row, setup steps) in guides.py; a test checks the two name the same providers.
"""

from __future__ import annotations

from bridge.errors import InvalidInput
from bridge.providers.base import Identity, Provider, Secret, Verdict, WebhookRequest
from bridge.providers.calendly import Calendly
from bridge.providers.discord import Discord
from bridge.providers.generic_hmac import GenericHmac
from bridge.providers.github import GitHub
from bridge.providers.gitlab import GitLab
from bridge.providers.intercom import Intercom
from bridge.providers.lemonsqueezy import LemonSqueezy
from bridge.providers.linear import Linear
from bridge.providers.mailgun import Mailgun
from bridge.providers.paddle import Paddle
from bridge.providers.razorpay import Razorpay
from bridge.providers.sendgrid import SendGrid
from bridge.providers.shopify import Shopify
from bridge.providers.slack import Slack
from bridge.providers.square import Square
from bridge.providers.standard import StandardWebhooks
from bridge.providers.stripe import Stripe
from bridge.providers.twilio import Twilio
from bridge.providers.typeform import Typeform
from bridge.providers.unverified import Unverified
from bridge.providers.xero import Xero
from bridge.providers.zoom import Zoom

REGISTRY: dict[str, Provider] = {
    p.name: p
    for p in (
        StandardWebhooks(),
        Stripe(),
        GitHub(),
        Razorpay(),
        Shopify(),
        Slack(),
        Twilio(),
        Paddle(),
        Square(),
        Linear(),
        Zoom(),
        SendGrid(),
        Mailgun(),
        Intercom(),
        GitLab(),
        Discord(),
        Typeform(),
        Calendly(),
        LemonSqueezy(),
        Xero(),
        GenericHmac(),
        Unverified(),
    )
}


def get(name: str) -> Provider:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        shown = repr(name[:64]) + ("…" if len(name) > 64 else "")  # not a sender's megabytes
        raise InvalidInput("provider", f"unknown provider {shown} (known: {known})") from None


__all__ = ["REGISTRY", "Identity", "Provider", "Secret", "Verdict", "WebhookRequest", "get"]
