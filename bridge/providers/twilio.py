"""Twilio (voice and messaging webhooks, status callbacks).

- Header: `X-Twilio-Signature: <sig>` (no prefix, one signature).
- Signed bytes, form bodies: the full public URL Twilio called (query string included), then
  each POST parameter's name and value, decoded, sorted by name (repeated names: their values
  sorted; the SDK also drops repeated values, and both forms are accepted). A form of over
  1,000 fields (Twilio sends a few dozen) is refused before it is parsed.
- Signed bytes, JSON bodies: Twilio adds `bodySHA256=<hex SHA-256 of the body>` to the URL's
  query; the signature covers the URL alone and the body's hash must equal `bodySHA256`.
- Algorithm: HMAC-SHA1, standard base64; key = the account's Auth Token as UTF-8 (Twilio
  issues it). When `X-Twilio-Webhooks-Signature-Settings` names `algorithm=HMAC_SHA256`, the
  request is signed with a webhook SharedKey secret and HMAC-SHA256, as Twilio's SDK checks.
- The URL is tried as received, without its port, and with the default port (`:443` for
  https, `:80` for http), as Twilio's SDKs do. It must be the exact public URL: behind a proxy
  set `BRIDGE_PUBLIC_URL` (or trust the forwarded scheme and host).
- Replay window: none (Twilio signs no timestamp); dedup by the idempotency token stops replays.
- Event id: the `I-Twilio-Idempotency-Token` header (the body's hash when absent). Event type:
  `call.<CallStatus>` or `message.<MessageStatus>` (`SmsStatus`) from form bodies, the JSON
  body's `"type"` otherwise.
"""

from __future__ import annotations

import hashlib
import secrets as _random
from collections.abc import Sequence
from functools import partial
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

from bridge.errors import InvalidInput
from bridge.providers import forms
from bridge.providers.base import Identity, Provider, Secret, SignRequest, Verdict, WebhookRequest
from bridge.providers.headers import (
    MAX_FORM_FIELDS,
    decode_signature,
    encode_signature,
    json_str,
    parse_pairs,
    to_bytes,
)
from bridge.providers.matching import any_digest, first_valid, hmac_digest
from bridge.providers.schemes import hmac_text
from bridge.providers.work import show_work

ALGORITHMS = {"HMAC_SHA1": "sha1", "HMAC_SHA256": "sha256"}
DEFAULT_PORTS = {"https": 443, "http": 80}


def url_variants(url: str) -> list[str]:
    """`url` as given, without its port and with the scheme's default port; never raises."""
    variants = [url]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return variants
    userinfo, _, hostport = parts.netloc.rpartition("@")
    host = hostport if port is None else hostport[: hostport.rfind(":")]
    at = userinfo + "@" if userinfo else ""

    def with_netloc(netloc: str) -> str:
        return parts._replace(netloc=netloc).geturl()

    if port is not None:
        variants.append(with_netloc(at + host))
    elif parts.scheme in DEFAULT_PORTS and host:
        variants.append(with_netloc(f"{at}{host}:{DEFAULT_PORTS[parts.scheme]}"))
    return list(dict.fromkeys(variants))


def body_sha256(url: str) -> str | None:
    """The `bodySHA256` query value Twilio adds for JSON bodies, or None."""
    try:
        values = parse_qs(urlsplit(url).query).get("bodySHA256")
    except ValueError:
        return None
    return values[0] if values else None


def json_url(url: str, body: bytes) -> str:
    """`url` with the `bodySHA256` query parameter Twilio adds when it posts `body` as JSON."""
    sep = "&" if urlsplit(url).query else "?"
    return f"{url}{sep}bodySHA256={hashlib.sha256(body).hexdigest()}"


def form_params(body: bytes) -> dict[str, list[str]]:
    """The decoded form fields of `body`, blank values kept; junk decodes as replacement text.
    ValueError for more than MAX_FORM_FIELDS of them (counted before any is parsed)."""
    params: dict[str, list[str]] = {}
    text = body.decode("utf-8", "replace")
    for name, value in forms.pairs(text):
        params.setdefault(name, []).append(value)
    return params


def signed_strings(url: str, body: bytes) -> list[bytes]:
    """Every string Twilio may have signed for this URL and body (the SDKs' variants)."""
    urls = url_variants(url)
    if body_sha256(url) is not None:
        return [to_bytes(u) for u in urls]
    params = form_params(body)
    names = sorted(params)
    unique = "".join(name + value for name in names for value in sorted(set(params[name])))
    every = "".join(name + value for name in names for value in sorted(params[name]))
    return [to_bytes(u + tail) for u in urls for tail in dict.fromkeys((unique, every))]


def algorithm_of(request: WebhookRequest) -> str | None:
    """The HMAC hash named by the signature-settings header (default sha1), None if unknown."""
    settings = request.header("x-twilio-webhooks-signature-settings") or ""
    for key, value in parse_pairs(settings):
        if key == "algorithm" and value:
            return ALGORITHMS.get(value.upper())
    return "sha1"


class Twilio(Provider):
    name: ClassVar[str] = "twilio"
    signed_template: ClassVar[str] = "{url}{each form field, sorted: name then value}"
    generates_secret: ClassVar[bool] = False
    signs_url: ClassVar[bool] = True

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        candidate = decode_signature(self.require(request, "x-twilio-signature"), "base64")
        algorithm = algorithm_of(request)
        if algorithm is None:
            raise self.fail("bad_signature", "unsupported algorithm in signature settings")
        if not request.url:
            raise self.fail("bad_signature", "the public URL is unknown (set BRIDGE_PUBLIC_URL)")
        try:
            # Once per request: the debugger verifies again, and decoding is most of the work.
            messages = request.memo(
                "twilio.signed", partial(signed_strings, request.url, request.body)
            )
        except ValueError:
            raise self.fail("bad_signature", f"over {MAX_FORM_FIELDS} form fields") from None
        show_work(
            messages[0],
            [self.require(request, "x-twilio-signature")],
            secrets,
            lambda s: encode_signature(
                hmac_digest(to_bytes(s.value), messages[0], algorithm), "base64"
            ),
        )

        def accepts(secret: Secret, signature: bytes) -> bool:
            key = to_bytes(secret.value)
            return any_digest([hmac_digest(key, m, algorithm) for m in messages], signature)

        verdict = first_valid(self, secrets, [candidate], accepts, algorithm)
        expected_hash = body_sha256(request.url)
        if expected_hash is not None and not any_digest(
            [to_bytes(hashlib.sha256(request.body).hexdigest())], to_bytes(expected_hash.lower())
        ):
            raise self.fail("bad_signature", "the body does not match bodySHA256 in the URL")
        return verdict

    def identify(self, request: WebhookRequest) -> Identity:
        event_id = request.header("i-twilio-idempotency-token") or None
        if body_sha256(request.url) is not None:
            return Identity(event_id, json_str(request.json(), "type"))
        params = form_params(request.body)
        kind = None
        if params.get("CallStatus"):
            kind = "call." + params["CallStatus"][0]
        elif params.get("MessageStatus") or params.get("SmsStatus"):
            kind = "message." + (params.get("MessageStatus") or params["SmsStatus"])[0]
        return Identity(event_id, kind)

    def headers_for(self, req: SignRequest) -> dict[str, str]:
        """Sign for `options["url"]`, the exact URL the request goes to; for a JSON body make
        that URL with `json_url` first (it carries `bodySHA256`)."""
        url = str(req.options.get("url") or "")
        if not url:
            raise InvalidInput("options.url", "twilio signs the URL: give the URL to post to")
        signature = hmac_text(req.secret, signed_strings(url, req.body)[0], "sha1", "base64")
        is_json = body_sha256(url) is not None
        return {
            "X-Twilio-Signature": signature,
            "I-Twilio-Idempotency-Token": req.event_id or _random.token_hex(16),
            "Content-Type": "application/json"
            if is_json
            else "application/x-www-form-urlencoded; charset=UTF-8",
        }
