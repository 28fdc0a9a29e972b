"""The signature debugger: explains why a delivery was rejected, without revealing secrets.

It answers what a developer with a failing integration asks, using the provider's own
`sign()` as the reference for what a correct request looks like:
- which headers the provider sends that this request lacks;
- per signature header, the shape of what came (prefix, encoding, length) next to the shape
  expected: a hex digest where base64 is expected, a missing `sha256=`, a SHA-1 length;
- whether the body was re-encoded on the way (trailing newline stripped, JSON re-serialised):
  if one of those variants verifies, the diagnosis names it;
- whether the secret is near-right (surrounding spaces, `whsec_` prefix added or missing);
- which secret ids were tried, and the timestamp skew where the reason is a stale timestamp;
- its work: the string the provider signs (a template, and this request's own with the body
  abbreviated), the signature each live secret gives for it next to the one received, and
  the first difference found between what came and what was expected.

It never includes a secret. Of a signature computed with one it shows only the first 8
characters: enough to tell whether sender and bridge hold the same secret, far too few to
forge with (the whole digest is compared).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from bridge import jsontext
from bridge.errors import VerificationError
from bridge.providers import Provider, Secret, WebhookRequest
from bridge.providers.work import recording_work
from bridge.text import is_unicode

# Variants are verified with HMACs over the whole body, and the body is parsed as JSON: cap
# the work a bad request can cause.
MAX_VARIANT_BODY = 256 * 1024
# A diagnosis goes over the body about this many times (each re-encoding, verified against
# every secret): ingest hands it to offload.run as a body this many times larger, so one of
# 16 KiB and up is worked on off the worker's loop.
PASSES = 16
# The indented re-encoding may be this many times the body, plus a little: deep nesting
# makes indentation outgrow the body (240 KB nested 100 deep came to 24 MB, a second of the
# pure-Python encoder), and a sender's indented original is no such multiple of it.
MAX_INDENT_GROWTH = 4
# ... and it is made only for a body of at most this many `[` and `{`: that encoder works
# node by node (64,000 tiny arrays in 256 KB took it 175 ms), where a webhook has hundreds.
MAX_INDENT_CONTAINERS = 10_000
# Trying the body's re-encodings is the part of a diagnosis whose cost a stranger chooses:
# 240 KB of `1e308,` took 140 ms of CPU (a parse, five encodings, each verified), for a
# forged delivery that costs its sender nothing to repeat. Each process spends at most this
# share of a core on that part, saved up to BURST seconds; past it a rejection is still kept
# and diagnosed, without the re-encodings (`limited`).
DIAGNOSIS_SHARE = 0.05
DIAGNOSIS_BURST = 2.0
SHOWN_CHARS = 8  # of a signature computed with a secret
SIGNED_PREVIEW = 300  # characters of the signed string shown, the body abbreviated
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_B64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")


class Budget:
    """CPU seconds for the body work of diagnoses, refilled at `share` of a core up to
    `burst`. Shared by the threads diagnoses run in (offload.run's pool, or the loop)."""

    def __init__(
        self, share: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._share, self._burst, self._clock = share, burst, clock
        self._left, self._at = burst, clock()
        self._lock = threading.Lock()

    def allows(self) -> bool:
        """Whether some is left (a diagnosis may overdraw it once: its cost is known after)."""
        with self._lock:
            return self._refilled() > 0

    def spend(self, seconds: float) -> None:
        with self._lock:
            self._left = self._refilled() - seconds

    def _refilled(self) -> float:
        now = self._clock()
        self._left = min(self._burst, self._left + (now - self._at) * self._share)
        self._at = now
        return self._left


def diagnose(
    provider: Provider,
    request: WebhookRequest,
    secrets: Sequence[Secret],
    error: VerificationError,
    budget: Budget | None = None,
) -> dict[str, Any]:
    """The report on one rejected delivery; `budget`, where given, bounds its body work."""
    # Parsing, re-encoding or signing a stranger's body is work on input nobody vouched for:
    # a 20 MB JSON body took seconds of the worker's loop and 300 MB. Only small bodies get
    # it, and only while the budget lasts; the others are checked against a reference body.
    small = len(request.body) <= MAX_VARIANT_BODY
    full = small and (budget is None or budget.allows())
    started = time.thread_time()
    reference = request.body if full else b"{}"
    expected = _reference_headers(provider, request, secrets, reference)
    present = {name.lower() for name in request.headers}
    report: dict[str, Any] = {
        "reason": error.reason,
        "detail": error.detail,
        "secrets_tried": [s.id for s in secrets],
        "missing_headers": sorted(
            h for h in _required(provider, request, secrets, reference) if h not in present
        ),
        "signature_headers": {
            name: {"received": shape(request.headers[name]), "expected": shape(value)}
            for name, value in expected.items()
            if name in present and _looks_like_signature(name)
        },
        "body": {"bytes": len(request.body), "json": None},
        "limited": small and not full,
    }
    if full:
        _body_work(report, provider, request, secrets, error)
        if budget is not None:
            budget.spend(time.thread_time() - started)
    report["work"] = _work(provider, request, secrets)
    report["first_difference"] = first_difference(report)
    report["hints"] = hints(report, signs_url=provider.signs_url)
    return report


def _body_work(
    report: dict[str, Any],
    provider: Provider,
    request: WebhookRequest,
    secrets: Sequence[Secret],
    error: VerificationError,
) -> None:
    """Whether the body is JSON, which re-encoding of it verifies, and the secret's near-misses."""
    parsed = request.json()
    report["body"]["json"] = parsed is not None
    if error.reason != VerificationError.STALE:
        report["body"]["verifies_as"] = next(
            (
                label
                for label, body in body_variants(request.body, parsed)
                if _verifies(provider, replace(request, body=body), secrets)
            ),
            None,
        )
        report["secret_hint"] = _secret_hint(provider, request, secrets)


def _work(provider: Provider, request: WebhookRequest, secrets: Sequence[Secret]) -> dict[str, Any]:
    """What the provider signs and what each live secret makes of this request."""
    with recording_work() as shown:
        _verifies(provider, request, secrets)
    work: dict[str, Any] = {"template": provider.signed_template}
    if shown:
        done = shown[0]
        work |= {
            "signed": signed_text(done.message, request.body),
            "signed_bytes": len(done.message),
            "expected": {sid: sig[:SHOWN_CHARS] for sid, sig in done.expected.items()},
            "received": [sig[:SHOWN_CHARS] for sig in done.received[:5]],
        }
    return work


def signed_text(message: bytes, body: bytes) -> str:
    """The signed string as text, the body written `{body}` where it ends the message."""
    if body and message.endswith(body):
        head = message[: len(message) - len(body)].decode("utf-8", "replace")
        return head[:SIGNED_PREVIEW] + f"{{body: {len(body)} bytes}}"
    text = message.decode("utf-8", "replace")
    return text[:SIGNED_PREVIEW] + ("…" if len(text) > SIGNED_PREVIEW else "")


def first_difference(report: dict[str, Any]) -> dict[str, str] | None:
    """The most specific difference between what came and what was expected, or None."""
    if report["missing_headers"]:
        return {"kind": "missing_header", "detail": ", ".join(report["missing_headers"])}
    for name, shapes in report["signature_headers"].items():
        got, want = shapes["received"]["first"], shapes["expected"]["first"]
        if got and want:
            for kind in ("prefix", "encoding", "bytes"):
                if got[0].get(kind) != want[0].get(kind):
                    detail = f"{name}: {kind} {got[0].get(kind)!r}, expected {want[0].get(kind)!r}"
                    return {"kind": kind, "detail": detail}
    verifies_as = report["body"].get("verifies_as")
    if verifies_as:
        return {"kind": "body", "detail": f"the body verifies with the {verifies_as}"}
    if report.get("secret_hint"):
        return {"kind": "secret", "detail": report["secret_hint"]}
    if report["reason"] == VerificationError.STALE:
        return {"kind": "clock_skew", "detail": report["detail"]}
    if report.get("work", {}).get("expected"):
        return {"kind": "signature", "detail": "the signature matches none of the live secrets"}
    return None


def body_variants(body: bytes, parsed: Any) -> list[tuple[str, bytes]]:
    """Re-encodings that proxies and frameworks commonly apply to a body on the way;
    `parsed` is the body's JSON value, None when it is none."""
    variants = [
        ("trailing newline removed", body.rstrip(b"\r\n")),
        ("trailing newline added", body + b"\n"),
        ("CRLF line ends turned into LF", body.replace(b"\r\n", b"\n")),
    ]
    if parsed is not None:
        variants += [
            ("JSON re-serialised compactly", json.dumps(parsed, separators=(",", ":")).encode()),
            ("JSON re-serialised with spaces", json.dumps(parsed).encode()),
        ]
        limit = MAX_INDENT_GROWTH * len(body) + 4096
        few = jsontext.containers(body) <= MAX_INDENT_CONTAINERS
        indented = _indented(parsed, limit) if few else None
        if indented is not None:
            variants.append(("JSON re-serialised with indentation", indented))
        # A lone surrogate escape ("\ud800") has no UTF-8 form: no sender wrote this variant
        # then (encoding it raised, a 500 on a stranger's forged delivery).
        raw_utf8 = json.dumps(parsed, separators=(",", ":"), ensure_ascii=False)
        if is_unicode(raw_utf8):
            variants.append(("JSON re-serialised as raw UTF-8", raw_utf8.encode()))
    return [(label, variant) for label, variant in variants if variant != body]


def _indented(value: Any, limit: int) -> bytes | None:
    """`json.dumps(value, indent=2)` as bytes, or None as soon as it passes `limit` characters."""
    chunks, size = [], 0
    for chunk in json.JSONEncoder(indent=2).iterencode(value):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return "".join(chunks).encode()


def shape(value: str) -> dict[str, Any]:
    """What a signature header value looks like, never what it is."""
    entries = [e for e in re.split(r"[ ,;]+", value.strip()) if e]
    described = []
    for entry in entries[:5]:
        prefix, digest = _split_prefix(entry)
        described.append({"prefix": prefix, **_encoding(digest)})
    return {"entries": len(entries), "first": described}


def hints(report: dict[str, Any], *, signs_url: bool = False) -> list[str]:
    """Plain sentences for the most likely causes, most specific first; `signs_url` is
    whether the provider signs the URL it called (then that may be what changed)."""
    out = []
    if report["missing_headers"]:
        out.append("Missing header(s): " + ", ".join(report["missing_headers"]) + ".")
    verifies_as = report.get("body", {}).get("verifies_as")
    if verifies_as:
        out.append(
            f"The signature matches the body with the {verifies_as}: something between the "
            "sender and the bridge changed the body. Forward the raw bytes unchanged."
        )
    if report.get("secret_hint"):
        out.append(report["secret_hint"])
    for name, shapes in report["signature_headers"].items():
        got, want = shapes["received"]["first"], shapes["expected"]["first"]
        if got and want and got[0] != want[0]:
            out.append(f"{name}: received {_say(got[0])}, expected {_say(want[0])}.")
    if report["reason"] == VerificationError.STALE:
        out.append(
            f"Timestamp outside the window ({report['detail']}): check the sender's clock, "
            "or raise the endpoint's `tolerance` option if deliveries queue."
        )
    if not out and report["reason"] == VerificationError.BAD:
        changed = (
            "the URL it called (set the endpoint's `public_url`) or the body"
            if signs_url
            else "the body"
        )
        out.append(
            "The signature is well-formed but matches none of the endpoint's secrets: "
            "check that the secret configured at the provider is this endpoint's. If it is, "
            f"{changed} changed on the way (a proxy that rewrites or re-encodes it), or the "
            "delivery was not signed by the provider."
        )
    if report.get("limited"):
        out.append(
            "Many rejected deliveries were diagnosed here a moment ago, so the body's "
            "re-encodings and the secret's near-misses were not tried for this one."
        )
    return out


def _reference_headers(
    provider: Provider, request: WebhookRequest, secrets: Sequence[Secret], body: bytes
) -> dict[str, str]:
    """The headers the provider would send with `body` (this request's, or a small one:
    only their shapes are shown, and signing parses a body, Mailgun's)."""
    secret = secrets[0].value if secrets else "reference-secret-only"
    try:
        headers = provider.sign(body, secret, now=request.now, options=request.options)
    except Exception:  # a provider that cannot sign this body still gets a report
        return {}
    # A scheme whose "signature" is the secret itself (GitLab's token) must not have even the
    # shape of that value described.
    return {name.lower(): value for name, value in headers.items() if secret not in value}


def _required(
    provider: Provider, request: WebhookRequest, secrets: Sequence[Secret], body: bytes
) -> set[str]:
    """The headers a correctly signed copy of this request, with `body`, cannot do without:
    each header the provider sends is dropped in turn, and those whose absence fails
    verification count (GitHub's legacy `X-Hub-Signature` does not; `X-Hub-Signature-256`
    does)."""
    secret = Secret("reference", secrets[0].value if secrets else "reference-secret-only")
    try:
        body = provider.sign_body(body, secret.value, now=request.now, options=request.options)
        sent = provider.sign(body, secret.value, now=request.now, options=request.options)
    except Exception:  # a provider that cannot sign this body: no reference to learn from
        return set()
    headers = {name.lower(): value for name, value in sent.items()}
    reference = replace(request, body=body, headers=headers)
    if not _verifies(provider, reference, [secret]):
        return set()
    return {
        name
        for name in headers
        if not _verifies(
            provider,
            replace(reference, headers={k: v for k, v in headers.items() if k != name}),
            [secret],
        )
    }


def _secret_hint(
    provider: Provider, request: WebhookRequest, secrets: Sequence[Secret]
) -> str | None:
    tweaks: list[tuple[str, Callable[[str], str]]] = [
        ("has surrounding spaces or a newline", str.strip),
        ("should start with whsec_", lambda s: "whsec_" + s),
        ("should not start with whsec_", lambda s: s.removeprefix("whsec_")),
    ]
    for problem, tweak in tweaks:
        variants = [Secret(s.id, tweak(s.value)) for s in secrets if tweak(s.value) != s.value]
        if variants and _verifies(provider, request, variants):
            return f"The secret at the sender and this endpoint's secret differ: one {problem}."
    return None


def _verifies(provider: Provider, request: WebhookRequest, secrets: Sequence[Secret]) -> bool:
    try:
        provider.verify(request, secrets)
    except VerificationError:
        return False
    return True


def _looks_like_signature(name: str) -> bool:
    return any(word in name for word in ("signature", "hmac", "hub-signature", "token"))


def _split_prefix(entry: str) -> tuple[str, str]:
    match = re.match(r"^([A-Za-z0-9_-]{1,16}[=,:])(.+)$", entry)
    if match and not _HEX.match(entry) and not _B64.match(entry):
        return match.group(1), match.group(2)
    return "", entry


def _encoding(digest: str) -> dict[str, Any]:
    if _HEX.match(digest) and len(digest) % 2 == 0:
        return {"encoding": "hex", "bytes": len(digest) // 2}
    if _B64.match(digest):
        try:
            raw = base64.b64decode(digest.replace("-", "+").replace("_", "/") + "==")
            return {"encoding": "base64", "bytes": len(raw)}
        except (binascii.Error, ValueError):
            pass
    return {"encoding": "unknown", "length": len(digest)}


def _say(entry: dict[str, Any]) -> str:
    prefix = f"prefix {entry['prefix']!r}, " if entry["prefix"] else "no prefix, "
    size = f"{entry['bytes']} bytes" if "bytes" in entry else f"{entry.get('length', 0)} chars"
    return f"{prefix}{entry['encoding']} ({size})"
