"""docs/providers.md, generated from the registry: each provider's docstring, and its title,
table row and setup steps from guides.py.

    python -m bridge.providers.docs > docs/providers.md

A test checks the file is up to date, so editing a provider's docstring means rerunning this.
"""

from __future__ import annotations

import inspect
import sys

from bridge.providers import REGISTRY, Provider
from bridge.providers.guides import guide

EXAMPLE_URL = "https://bridge.example.com/hooks/<endpoint id>"

INTRO = """\
# Providers

Each endpoint names the provider that will call it. The bridge checks that provider's
signature on the raw body bytes, in constant time, against every secret of the endpoint, and
takes the provider's own event id (for deduplication) and event type (for filters) from the
request. Every provider of the contract is here except PayPal ([why](#paypal-not-supported));
a sender not listed that signs the raw body with a shared secret works with `hmac`.

Where the event id is a header the signature does not cover (GitHub, Razorpay, Shopify,
Twilio) and nothing signed carries a time, deduplication stops the provider's own
redeliveries, not a replay: whoever holds a captured delivery (a subscriber sees its body and
headers) can send it again under another id, or none, and it is taken as a new event. Give
subscriber tokens only to readers you would trust with the endpoint's deliveries.
"""

AFTER_TABLE = """\
The window is `BRIDGE_TIMESTAMP_TOLERANCE` (default 300 s), checked in both directions; per
endpoint, the option `tolerance` overrides it (and, for Linear, Mailgun and SendGrid, their own
default). Where a provider has no event id, the bridge uses `sha256:<hex of the body>`, so an
identical redelivery is still a duplicate.

To rotate a secret: add the new one (`POST /api/endpoints/<id>/secrets`), switch the
provider to it, then remove the old one. Both verify meanwhile, and each event records which
secret matched in `verification.secret_id`.

Where "you" pick the secret, the bridge generates one when the endpoint is created without
one; paste it into the provider. Elsewhere the provider issues it and the endpoint needs it.
Discord, SendGrid and Standard Webhooks `v1a` use public-key signatures: the endpoint's
"secret" is then the provider's public key, which cannot sign.
"""

PAYPAL = """\
## PayPal (not supported)

PayPal signs with RSA: `PAYPAL-TRANSMISSION-SIG` covers
`<transmission id>|<time>|<webhook id>|<crc32 of the body>`, made with a certificate that each
request names by URL in `PAYPAL-CERT-URL`. Checking it means downloading that certificate from
PayPal at run time (and checking its chain and host, since the header comes from the caller).
The alternative PayPal offers, calling its `verify-webhook-signature` API for each delivery,
makes every delivery depend on PayPal's API being reachable and quick from the bridge. Neither
fits a bridge that verifies each request offline on its raw bytes, so there is no `paypal`
provider. To relay PayPal anyway, use `none` (every event is marked unverified) and verify in
your consumer with PayPal's API before acting on an event.
"""


def _body(provider: Provider) -> str:
    """The docstring of the provider's module without its first paragraph (the title)."""
    module = sys.modules[type(provider).__module__]
    text = inspect.cleandoc(module.__doc__ or "")
    _, _, rest = text.partition("\n\n")
    return rest.strip()


def section(provider: Provider) -> str:
    doc = guide(provider.name)
    steps = "\n".join(f"{n}. {step}" for n, step in enumerate(doc.setup_steps(EXAMPLE_URL), 1))
    return f"## {doc.title} (`{provider.name}`)\n\n{_body(provider)}\n\nSetup:\n\n{steps}\n"


def table() -> str:
    head = (
        "| provider | signature header | who picks the secret | timestamp window | event id "
        "| event type |\n| --- | --- | --- | --- | --- | --- |\n"
    )
    rows = "".join(f"| `{name}` | {guide(name).table} |\n" for name in REGISTRY)
    return head + rows


def render() -> str:
    sections = "\n".join(section(p) for p in REGISTRY.values())
    return f"{INTRO}\n{table()}\n{AFTER_TABLE}\n{sections}\n{PAYPAL}"


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render())
