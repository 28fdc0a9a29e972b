"""What each provider's documentation says, apart from how it verifies: the section title
and summary-table row of docs/providers.md, and the steps for registering a webhook URL on the
provider's side (shown by the API on every endpoint, by `bridge endpoints`, and in
docs/providers.md). How a provider signs is documented in its own module's docstring, beside
the code that checks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

URL = "{url}"


@dataclass(frozen=True)
class Guide:
    """One provider's documentation. `table` is its row of the summary table after the name, as
    Markdown cells (signature header | who picks the secret | timestamp window | event id |
    event type); each of `steps` may name the webhook URL as `{url}`."""

    title: str
    table: str
    steps: tuple[str, ...]

    def setup_steps(self, url: str) -> list[str]:
        """Plain-text steps for registering `url` on the provider's side."""
        # replace, not format: a step may show literal braces (a JSON example).
        return [step.replace(URL, url) for step in self.steps]


GUIDES: Mapping[str, Guide] = {
    "standard": Guide(
        title="Standard Webhooks, Svix, Clerk, Resend",
        table=(
            "`webhook-signature` (`svix-signature`) | you (`whsec_…`, generated; or the "
            "sender's `whpk_…` key) | ±300 s | `webhook-id` | body `type`"
        ),
        steps=(
            "In the sender's dashboard (Svix app portal, Clerk, Resend, ...) open Webhooks and "
            "choose Add Endpoint.",
            "Paste this URL as the endpoint URL: {url}",
            "Subscribe to the event types you want delivered.",
            "Copy the endpoint's signing secret (it starts with whsec_; for Ed25519 v1a "
            "signatures, the whpk_ public key) and add it to this bridge endpoint; where the "
            "sender lets you choose a secret, use this endpoint's.",
            "Send a test event from the dashboard and check it arrives here.",
        ),
    ),
    "stripe": Guide(
        title="Stripe",
        table="`Stripe-Signature` | Stripe (`whsec_…`) | ±300 s | body `id` | body `type`",
        steps=(
            "In the Stripe Dashboard open Developers > Webhooks and choose Add endpoint.",
            "Paste this URL as the endpoint URL: {url}",
            "Select the events to send and create the endpoint.",
            "Reveal the endpoint's Signing secret (whsec_...) and give it to this bridge "
            "endpoint as its secret; Stripe issues it, the bridge cannot choose one.",
            "Use Send test webhook (or `stripe trigger`) to check deliveries arrive.",
        ),
    ),
    "github": Guide(
        title="GitHub",
        table=(
            "`X-Hub-Signature-256` | you (generated) | none | `X-GitHub-Delivery` | "
            "`X-GitHub-Event` + `.action`"
        ),
        steps=(
            "On GitHub open the repository (or organization) Settings > Webhooks > Add webhook.",
            "Paste this URL as the Payload URL: {url}",
            "Set Content type to application/json.",
            "Paste this endpoint's secret into the Secret field.",
            "Choose the events to send, save, and check the ping delivery under Recent Deliveries.",
        ),
    ),
    "razorpay": Guide(
        title="Razorpay",
        table=(
            "`X-Razorpay-Signature` | you (generated) | none | `x-razorpay-event-id` | body `event`"
        ),
        steps=(
            "In the Razorpay Dashboard open Account & Settings > Webhooks and choose Add New "
            "Webhook.",
            "Paste this URL as the Webhook URL: {url}",
            "Paste this endpoint's secret into the Secret field.",
            "Select the active events and create the webhook.",
            "When you change the secret, add the new one here first and keep the old one for 24 "
            "h: Razorpay retries old events with the old secret.",
        ),
    ),
    "shopify": Guide(
        title="Shopify",
        table=(
            "`X-Shopify-Hmac-Sha256` | Shopify (client secret) | none | `X-Shopify-Webhook-Id` "
            "| `X-Shopify-Topic`"
        ),
        steps=(
            "In the Shopify admin open Settings > Notifications > Webhooks and choose Create "
            "webhook (apps: add a subscription in shopify.app.toml or via the API).",
            "Pick the event (topic) and the JSON format.",
            "Paste this URL as the webhook URL: {url}",
            "Copy the signing key shown under the webhooks list (apps: the app's client secret) "
            "and give it to this bridge endpoint as its secret.",
            "Use Send test notification to check deliveries arrive.",
        ),
    ),
    "slack": Guide(
        title="Slack",
        table=(
            "`X-Slack-Signature` | Slack (Signing Secret) | ±300 s | body `event_id` | inner "
            "`event.type`"
        ),
        steps=(
            "At api.slack.com/apps open your app; under Basic Information copy the Signing "
            "Secret and give it to this bridge endpoint as its secret.",
            "Events: open Event Subscriptions, turn it on and paste this Request URL: {url} "
            "(the bridge answers Slack's url_verification challenge).",
            "Slash commands / interactivity: paste the same URL as the command's or "
            "Interactivity's Request URL.",
            "Subscribe to the bot events you need, save, and reinstall the app if asked.",
        ),
    ),
    "twilio": Guide(
        title="Twilio",
        table=(
            "`X-Twilio-Signature` (over the URL) | Twilio (Auth Token) | none | "
            "`I-Twilio-Idempotency-Token` | `call.<CallStatus>` / `message.<MessageStatus>`"
        ),
        steps=(
            "In the Twilio Console open the phone number (or Messaging Service, TwiML app) to "
            "configure.",
            "Paste this URL as the webhook (or status callback) URL, method HTTP POST: {url}",
            "Copy the account's Auth Token (Account > API keys & tokens) and give it to this "
            "bridge endpoint as its secret; Twilio issues it.",
            "Behind a proxy, set BRIDGE_PUBLIC_URL so the bridge sees the exact URL Twilio "
            "called: the signature covers it, query string included.",
            "Send a test SMS or call and check the request arrives here.",
        ),
    ),
    "paddle": Guide(
        title="Paddle Billing",
        table=(
            "`Paddle-Signature` | Paddle (secret key) | ±300 s | body `notification_id` | body "
            "`event_type`"
        ),
        steps=(
            "In the Paddle dashboard open Developer tools > Notifications and choose New "
            "destination (type: webhook).",
            "Paste this URL as the destination URL: {url}",
            "Select the events to send and save.",
            "Copy the destination's secret key (pdl_ntfset_...) and give it to this bridge "
            "endpoint as its secret; Paddle issues it.",
            "Use the notification simulator to send a test event and check it arrives here.",
        ),
    ),
    "square": Guide(
        title="Square",
        table=(
            "`x-square-hmacsha256-signature` (over URL + body) | Square (signature key) | none "
            "| body `event_id` | body `type`"
        ),
        steps=(
            "In the Square Developer Console open your application > Webhooks > Subscriptions "
            "and choose Add subscription.",
            "Paste this URL as the notification URL: {url}",
            "Select the events to send and save.",
            "Copy the subscription's signature key and give it to this bridge endpoint as its "
            "secret; if Square has the URL spelt differently from the bridge's public URL, set "
            "the endpoint option notification_url to Square's spelling.",
            "Use Send test event and check it arrives here.",
        ),
    ),
    "linear": Guide(
        title="Linear",
        table=(
            "`Linear-Signature` | Linear (signing secret) | ±60 s (body `webhookTimestamp`) | "
            "`Linear-Delivery` | body `type` + `.action`"
        ),
        steps=(
            "In Linear open Settings > API > Webhooks (workspace admin) and choose New webhook.",
            "Paste this URL as the webhook URL: {url}",
            "Choose the data change events (Issues, Comments, ...) and the teams, then create it.",
            "Copy the webhook's signing secret and give it to this bridge endpoint as its secret.",
            "Change an issue and check the event arrives here.",
        ),
    ),
    "zoom": Guide(
        title="Zoom",
        table="`x-zm-signature` | Zoom (Secret Token) | ±300 s | hash of the body | body `event`",
        steps=(
            "In the Zoom App Marketplace open your app (Build App) > Features > Access and copy "
            "the Secret Token; give it to this bridge endpoint as its secret.",
            "Turn on Event Subscription, add a subscription and choose the events.",
            "Paste this URL as the Event notification endpoint URL: {url}",
            "Press Validate: the bridge answers Zoom's endpoint.url_validation challenge.",
            "Save, then trigger an event (start a meeting) and check it arrives here.",
        ),
    ),
    "sendgrid": Guide(
        title="SendGrid Event Webhook",
        table=(
            "`X-Twilio-Email-Event-Webhook-Signature` (ECDSA) | SendGrid (verification key) | "
            "none (option `tolerance`) | hash of the body | events' `event`"
        ),
        steps=(
            "In SendGrid open Settings > Mail Settings > Event Webhooks and create (or edit) a "
            "webhook.",
            "Paste this URL as the Post URL: {url}",
            "Select the engagement and delivery events to send.",
            "Turn on Signed Event Webhook, copy the Verification Key and give it to this bridge "
            "endpoint as its secret (it is a public key; SendGrid keeps the private one).",
            "Save and use Test Integration to check a delivery arrives here.",
        ),
    ),
    "mailgun": Guide(
        title="Mailgun",
        table=(
            "body `signature` (timestamp + token) | Mailgun (webhook signing key) | ±15 min | "
            "body `token` | body `event-data.event`"
        ),
        steps=(
            "In the Mailgun control panel open Send > Sending > Webhooks (per domain) and "
            "choose Add webhook.",
            "Pick the event type and paste this URL: {url}",
            "Copy the HTTP webhook signing key (same page, or Settings > API Security) and give "
            "it to this bridge endpoint as its secret; Mailgun issues it.",
            "Routes: use forward() with the same URL; the signature fields arrive in the form.",
            "Use Test webhook and check the event arrives here.",
        ),
    ),
    "intercom": Guide(
        title="Intercom",
        table=(
            "`X-Hub-Signature` (`sha1=`) | Intercom (client secret) | none | body `id` | body "
            "`topic`"
        ),
        steps=(
            "In the Intercom Developer Hub open your app > Webhooks.",
            "Paste this URL as the endpoint URL: {url}",
            "Select the topics to send and save (Intercom sends a ping).",
            "Under Basic information copy the app's client secret and give it to this bridge "
            "endpoint as its secret; Intercom issues it.",
        ),
    ),
    "gitlab": Guide(
        title="GitLab",
        table=(
            "`X-Gitlab-Token` (the secret itself) | you (generated) | none | `Idempotency-Key` "
            "/ `X-Gitlab-Event-UUID` | `X-Gitlab-Event` / body `object_kind`"
        ),
        steps=(
            "In GitLab open the project (or group) Settings > Webhooks and choose Add new webhook.",
            "Paste this URL as the URL: {url}",
            "Paste this endpoint's secret into the Secret token field (GitLab sends it back as "
            "X-Gitlab-Token on every request).",
            "Choose the triggers, keep SSL verification on, and save.",
            "Use Test > Push events and check the event arrives here.",
        ),
    ),
    "discord": Guide(
        title="Discord interactions",
        table=(
            "`X-Signature-Ed25519` (Ed25519) | Discord (application Public Key) | ±300 s | body "
            "`id` | interaction type (+ `.name`)"
        ),
        steps=(
            "In the Discord Developer Portal open your application > General Information.",
            "Copy the Public Key and give it to this bridge endpoint as its secret.",
            "Paste this URL as the Interactions Endpoint URL and save: {url}",
            "Discord checks the URL with a PING (answered with PONG) and with wrongly signed "
            "requests (answered 401); saving succeeds only when both are right.",
        ),
    ),
    "typeform": Guide(
        title="Typeform",
        table=(
            "`Typeform-Signature` (`sha256=`) | you (generated) | none | body `event_id` | body "
            "`event_type`"
        ),
        steps=(
            "In Typeform open the form > Connect > Webhooks and choose Add a webhook.",
            "Paste this URL as the endpoint: {url}",
            "Open the webhook's Edit settings, paste this endpoint's secret into Secret and save.",
            "Turn the webhook on and use View deliveries > Send test request to check it "
            "arrives here.",
        ),
    ),
    "calendly": Guide(
        title="Calendly",
        table=(
            "`Calendly-Webhook-Signature` | you (generated) | ±300 s | hash of the body | body "
            "`event`"
        ),
        steps=(
            "Calendly webhooks are created through its API (paid plans): POST "
            "https://api.calendly.com/webhook_subscriptions with a personal access token.",
            'Send this URL as "url": {url}',
            'Send this endpoint\'s secret as "signing_key", with the "events" to send (e.g. '
            'invitee.created) and the "organization" (and "scope").',
            "Book a test meeting and check the event arrives here.",
        ),
    ),
    "lemonsqueezy": Guide(
        title="Lemon Squeezy",
        table=(
            "`X-Signature` | you (generated) | none | hash of the body | `X-Event-Name` / body "
            "`meta.event_name`"
        ),
        steps=(
            "In Lemon Squeezy open Settings > Webhooks and add a webhook (the + button).",
            "Paste this URL as the Callback URL: {url}",
            "Paste this endpoint's secret into Signing secret.",
            "Tick the events to send and save; use a test-mode order to check one arrives here.",
        ),
    ),
    "xero": Guide(
        title="Xero",
        table=(
            "`x-xero-signature` | Xero (webhooks key) | none | hash of the body | events' "
            "`eventCategory.eventType`"
        ),
        steps=(
            "In the Xero developer portal open My Apps > your app > Webhooks.",
            "Paste this URL as the Delivery URL and choose the event categories: {url}",
            "Save, copy the Webhooks key and give it to this bridge endpoint as its secret; "
            "Xero issues it.",
            "Press Send 'Intent To Receive': the bridge answers it, and the status turns OK.",
        ),
    ),
    "hmac": Guide(
        title="Generic HMAC",
        table="option `header` | you (generated) | none | option `id_header` | option `type_field`",
        steps=(
            "In the sender's webhook settings, add a new webhook (endpoint) URL.",
            "Paste this URL: {url}",
            "Paste this endpoint's secret as the signing secret (or give the bridge the secret "
            "the sender issued).",
            "Check that this endpoint's options (header, algorithm, encoding, prefix) match how "
            "the sender signs, then send a test delivery.",
        ),
    ),
    "none": Guide(
        title="No verification",
        table="— | — | — | hash of the body | body `type`",
        steps=(
            "Point the sender at this URL: {url}",
            "No secret is needed: no signature is checked, so anyone who knows the URL can post "
            "events, and every event is marked unverified.",
            "Prefer a verifying provider, or `hmac`, whenever the sender signs its requests.",
        ),
    ),
}


def guide(name: str) -> Guide:
    """The guide of a registered provider (every name in the registry has one)."""
    return GUIDES[name]
