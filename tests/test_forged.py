"""Forged signatures: hypothesis mutates a correctly signed request of every provider case
(body bytes, each signature-bearing header, dropped headers, extra entries, shifted
timestamps, case, whitespace, latin-1 and control characters, truncation) and checks the
verdict against an oracle written from the providers' specs.

A mutated request must be refused with VerificationError, and only that, unless the mutation
provably left the request meaning the same; those classes are in `same_meaning`,
`body_equivalent` and `header_equivalent`, each with why it is valid, and such a request is
asserted to be accepted. Then a bounded, derandomised sample of forged
requests goes through real HTTP to one real bridge: 401 each, nothing stored, no traceback.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bridge.errors import VerificationError
from bridge.providers import get
from bridge.providers.base import Secret
from tests.provider_cases import BY_ID, CASES, NOW, Case, case_params
from tests.support import BridgeProcess
from tests.test_providers_live import live, send

OWS = " \t"
LATIN1 = st.characters(min_codepoint=0, max_codepoint=255)
# What hypothesis should try often: OWS, line ends, NUL, C0 separators, NEL, NBSP, and the
# separators of the header grammars.
NOTABLE = [" ", "\t", "\n", "\r\n", "\x00", "\x0b", "\x1c", "\x1f", "\x7f", "\x85", "\xa0", "\xff"]
SEPARATORS = [",", ";", "=", " ", "+", "/", "%2B", "%2b"]
CHUNK = st.one_of(st.sampled_from(NOTABLE + SEPARATORS), st.text(LATIN1, min_size=1, max_size=3))
IN_PROCESS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
OVER_HTTP = settings(
    max_examples=30,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# The oracle: what each case's signature header may vary in and still mean the same.


@dataclass(frozen=True)
class Grammar:
    """How one case's signature header carries its signatures, per the provider's spec.

    `bare`: the digest alone; `label`: `<label>=<digest>`; `pairs`: `<sep>`-separated
    `key=value` items, the first `ts` item the timestamp, every `label` item a signature,
    others ignored; `list`: entries separated by runs of `sep`, those starting with `label`
    signatures, others ignored. OWS around tokens is not part of them (RFC 9110 5.6.3).
    """

    kind: str = "bare"
    label: str = ""
    sep: str = ""
    ts: str = ""


GRAMMARS: dict[str, Grammar] = {
    "standard": Grammar("list", "v1,", OWS),
    "standard-v1a": Grammar("list", "v1a,", OWS),
    "stripe": Grammar("pairs", "v1", ",", "t"),
    "calendly": Grammar("pairs", "v1", ",", "t"),
    "paddle": Grammar("pairs", "h1", ";", "ts"),
    "hmac": Grammar("list", "", ", \t"),
    "hmac-sha512-base64-prefixed": Grammar("list", "sha512=", ", \t"),
    "github": Grammar("label", "sha256"),
    "github-legacy-sha1": Grammar("label", "sha1"),
    "slack": Grammar("label", "v0"),
    "zoom": Grammar("label", "v0"),
    "intercom": Grammar("label", "sha1"),
    "typeform": Grammar("label", "sha256"),
}
HEX_RUN = re.compile(r"[0-9A-Fa-f]{40,}")
B64_RUN = re.compile(r"[A-Za-z0-9+/]{16,}=*")
HEX = frozenset("0123456789abcdefABCDEF")


def is_hex(case: Case) -> bool:
    return HEX_RUN.search(base(case)[1][case.signature_header]) is not None


def digest(token: str, hex_digits: bool) -> str | None:
    """One spelling per digest: hex in either case names the same bytes; base64 padding is
    optional (all or part of it) and the unused low bits of its last digit carry nothing.
    None: not a digest."""
    token = token.strip(OWS)
    if hex_digits:
        return token.lower() if token and HEX.issuperset(token) and len(token) % 2 == 0 else None
    text = token.rstrip("=")
    if len(token) - len(text) > -len(text) % 4:  # some or all of the padding may be left out
        return None
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):  # ValueError: not ASCII
        return None
    return base64.b64encode(raw).decode() if raw else None


def meaning(case: Case, value: str) -> tuple[str | None, set[str | None]]:
    """The signature header's timestamp (where it carries one) and its signatures."""
    g = GRAMMARS.get(case.id, Grammar())
    h = is_hex(case)
    if g.kind == "label":
        kind, eq, sig = value.partition("=")
        return None, {digest(sig, h) if eq and kind.strip(OWS) == g.label else None}
    if g.kind == "pairs":
        items = [item.partition("=") for item in value.split(g.sep)]
        pairs = [(k.strip(OWS), v.strip(OWS)) for k, eq, v in items if eq]
        ts = next((v for k, v in pairs if k == g.ts), None)
        return ts, {digest(v, h) for k, v in pairs if k == g.label}
    if g.kind == "list":
        entries = re.split(f"[{re.escape(g.sep)}]+", value)
        return None, {digest(e.removeprefix(g.label), h) for e in entries if e.startswith(g.label)}
    return None, {digest(value, h)}


def same_meaning(case: Case, header: str, old: str, new: str) -> bool:
    """Whether `new` in `header` verifies wherever `old` does. Signed headers other than the
    signature (timestamps, ids) are signed as sent, and GitLab's token compared as sent."""
    if header != case.signature_header or case.provider == "gitlab":
        return old == new
    (old_ts, (old_sig,)), (new_ts, new_sigs) = meaning(case, old), meaning(case, new)
    # Any one matching signature among several is enough (secret rotation).
    return old_ts == new_ts and old_sig in new_sigs


def twilio_strings(case: Case, body: bytes) -> set[str]:
    """What Twilio signs for a form body: the URL, then each name + value, sorted, decoded
    (its SDKs drop repeated values, or keep them); the raw bytes are not signed."""
    pairs = sorted(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    every = "".join(k + v for k, v in pairs)
    unique = "".join(k + v for k, v in sorted(set(pairs)))
    return {case.url + every, case.url + unique}


def mailgun_triple(body: bytes) -> tuple[Any, ...] | None:
    """Mailgun's signed fields, from the JSON `signature` object or the form; the signature
    is a hex digest (either case, OWS around it ignored), the rest is signed as sent."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict):
        fields = data.get("signature")
        if not isinstance(fields, dict):
            return None
    else:
        fields = {}
        for k, v in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            fields.setdefault(k, v)
    ts, token, sig = (fields.get(k) for k in ("timestamp", "token", "signature"))
    if not all(isinstance(x, str) for x in (ts, token, sig)):
        return None
    return ts, token, str(sig).strip(OWS).lower()


def body_equivalent(case: Case, old: bytes, new: bytes) -> bool:
    """A changed body is valid only where the scheme does not sign the raw body."""
    if case.provider == "gitlab":
        return True  # GitLab sends a token, not a signature: the body is not covered
    if case.id == "twilio-form":
        return bool(twilio_strings(case, old) & twilio_strings(case, new))
    if case.provider == "mailgun":
        return mailgun_triple(new) is not None and mailgun_triple(new) == mailgun_triple(old)
    assert case.covered
    return False


def covered(case: Case) -> set[str]:
    """The headers the case's verifier reads: changing any other one changes nothing."""
    return {case.signature_header, *case.signed_headers} - {""}


def header_equivalent(case: Case, header: str, old: str | None, new: str | None) -> bool:
    if header not in covered(case):
        if case.provider == "mailgun" and header == "content-type":
            # Mailgun reads multipart bodies by their content type; any other is parsed
            # as JSON or a form from the bytes alone.
            return not (new or "").lower().startswith("multipart/")
        return True  # not read by the verifier: the signature does not depend on it
    if old is None or new is None:
        return old == new
    return same_meaning(case, header, old, new)


# The mutations


@dataclass(frozen=True)
class Forgery:
    label: str
    body: bytes
    headers: dict[str, str]
    valid: bool


@cache
def signed(case_id: str) -> tuple[bytes, dict[str, str]]:
    case = BY_ID[case_id]
    body, headers = case.signed()
    # An ECDSA signature is randomized and 70-72 bytes long, so its base64 ends in "=" in
    # some runs only: signed again (bounded) until it does, so that every run collects the
    # same spellings (`no-padding` exists only for a padded value).
    for _ in range(30):
        value = headers.get(case.signature_header or "", "")
        if HEX_RUN.search(value) or value.endswith("="):
            break
        body, headers = case.signed()
    return body, headers


def signed_at(case: Case, now: float) -> tuple[bytes, dict[str, str]]:
    """`case.signed(now=now)`, signed again (bounded) while its signature is shorter than
    base()'s: an ECDSA signature's DER loses a byte about once in 128 signings, and a draw
    that depends on the signature's length would then differ when hypothesis replays it."""
    want = len(signed(case.id)[1].get(case.signature_header or "", ""))
    for _ in range(30):
        body, headers = case.signed(now=now)
        if len(headers.get(case.signature_header or "", "")) >= want:
            break
    return body, headers


def base(case: Case) -> tuple[bytes, dict[str, str]]:
    """The case's request signed at NOW (made once: ECDSA and Ed25519 signing cost time)."""
    body, headers = signed(case.id)
    return body, dict(headers)


@st.composite
def edited(draw: st.DrawFn, text: str, printable: bool = False) -> str:
    """`text` with one edit: a character changed, a chunk inserted, a run deleted, the
    tail cut off, whitespace or a newline at an end, or the case of everything swapped."""
    chunk = CHUNK.filter(lambda c: not printable or sendable(c))
    kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "ends", "swapcase"]))
    n = len(text)
    if kind == "flip" and n:
        i = draw(st.integers(0, n - 1))
        c = draw(LATIN1 if not printable else st.characters(min_codepoint=32, max_codepoint=255))
        new = text[:i] + (c if c != text[i] else chr(ord(c) ^ 1)) + text[i + 1 :]
    elif kind == "insert":
        i = draw(st.integers(0, n))
        new = text[:i] + draw(chunk) + text[i:]
    elif kind == "delete" and n:
        i = draw(st.integers(0, n - 1))
        new = text[:i] + text[i + draw(st.integers(1, min(8, n - i))) :]
    elif kind == "truncate" and n:
        new = text[: draw(st.integers(0, n - 1))]
    elif kind == "ends":
        pad = draw(st.sampled_from([" ", "\t", " \t ", "\n", "\r\n", "\x00", "\x85", "\xa0"]))
        new = pad + text if draw(st.booleans()) else text + pad
    else:
        new = text.swapcase()
    assume(new != text)
    return new


def sendable(value: str) -> bool:
    """What an HTTP client can put in a header value (requests refuses the rest)."""
    return re.fullmatch(r"\S[^\r\n]*|", value) is not None and all(
        c == "\t" or " " <= c <= "~" or c >= "\x80" for c in value
    )


def latin1(data: bytes) -> str:
    return data.decode("latin-1")


@st.composite
def forgeries(
    draw: st.DrawFn,
    case: Case,
    body: bytes,
    headers: dict[str, str],
    now: float = NOW,
    http: bool = False,
) -> Forgery:
    """One mutation of a signed request, and whether the oracle says it is still valid."""
    kinds = ["body", "header", "header", "drop", "entry", "timestamp"]
    names = sorted(covered(case) & set(headers)) or sorted(headers)
    kind = draw(st.sampled_from(kinds))
    if kind == "body":
        new = draw(edited(latin1(body))).encode("latin-1")
        return body_forgery(case, body, headers, "body", new)
    if kind == "header":
        name = draw(st.sampled_from(sorted(headers) if not http else names))
        value = draw(edited(headers[name], printable=http))
        if http:
            # The server drops OWS around a field value (RFC 9110 5.5) before we see it.
            value = value.strip(OWS)
            assume(sendable(value))
        return header_forgery(case, body, headers, f"header {name}", {name: value})
    if kind == "drop":
        name = draw(st.sampled_from(sorted(headers) if not http else names))
        rest = {k: v for k, v in headers.items() if k != name}
        return Forgery(f"drop {name}", body, rest, header_equivalent(case, name, "", None))
    if kind == "entry":
        return extra_entry(case, body, headers, draw(st.integers(0, 200)))
    return shifted(case, body, headers, draw(st.integers(-900, 900).filter(bool)), now)


def changed_digest(case: Case, value: str, where: int) -> str:
    """`value` with one digit of its digest replaced by another that is not its case twin
    (and not the last base64 digit, whose low bits may carry nothing)."""
    match = (HEX_RUN if is_hex(case) else B64_RUN).search(value)
    assert match is not None, value
    i = match.start() + where % ((match.end() - match.start()) // 2)
    c = next(d for d in "0123456789abcdef" if d.lower() != value[i].lower())
    return value[:i] + c + value[i + 1 :]


def extra_entry(case: Case, body: bytes, headers: dict[str, str], where: int) -> Forgery:
    """The signature once more, its digest changed, beside the good one: schemes with a list
    of signatures accept any one (secret rotation); single-signature headers are refused."""
    if not case.signature_header:  # Mailgun: the signature is in the body
        return body_forgery(case, body, headers, "entry", body + b" ")
    value = headers[case.signature_header]
    g = GRAMMARS.get(case.id, Grammar())
    if g.kind == "pairs":
        sig = next(v for k, _, v in (i.partition("=") for i in value.split(g.sep)) if k == g.label)
        extra = f"{g.sep}{g.label}={changed_digest(case, sig, where)}"
    elif g.kind == "list":
        extra = g.sep[0] + changed_digest(case, value, where)
    else:
        extra = "," + changed_digest(case, value, where)
    return header_forgery(case, body, headers, "entry", {case.signature_header: value + extra})


def body_forgery(
    case: Case, body: bytes, headers: dict[str, str], label: str, new: bytes
) -> Forgery:
    return Forgery(label, new, headers, body_equivalent(case, body, new))


def header_forgery(
    case: Case, body: bytes, headers: dict[str, str], label: str, changes: Mapping[str, str]
) -> Forgery:
    new = {**headers, **changes}
    valid = all(header_equivalent(case, k, headers[k], new[k]) for k in changes)
    return Forgery(label, body, new, valid)


def shifted(case: Case, body: bytes, headers: dict[str, str], by: int, now: float) -> Forgery:
    """The signed timestamp moved by `by` seconds without signing again: within the window
    too it changes the signed bytes (Linear's is in ms in the body, Mailgun's in the body)."""
    stamp, moved = str(int(now)), str(int(now) + by)
    changes = {k: v.replace(stamp, moved) for k, v in headers.items() if stamp in v}
    new_body = body.replace(stamp.encode(), moved.encode())
    if new_body != body:
        return Forgery("timestamp", new_body, {**headers, **changes}, False)
    if changes:
        return header_forgery(case, body, headers, "timestamp", changes)
    assert not case.window, case.id
    return body_forgery(case, body, headers, "timestamp", body + b"\n")


# 1. In process, against the verifiers


def verdict_of(case: Case, forgery: Forgery) -> VerificationError | None:
    """None when the case's verifier accepts the forgery, else the error it raised; any
    other exception propagates and fails the test."""
    try:
        get(case.provider).verify(
            case.request(forgery.body, forgery.headers), [Secret("s", case.endpoint_secret)]
        )
    except VerificationError as error:
        refused = error
    else:
        return None
    assert refused.provider == case.provider
    return refused


@pytest.mark.parametrize("case", case_params(CASES))
@IN_PROCESS
@given(data=st.data())
def test_forgery_refused_unless_equivalent(case: Case, data: st.DataObject) -> None:
    """A mutated signed request is refused with VerificationError unless the oracle proves
    it means the same, and then it is accepted."""
    body, headers = base(case)
    forgery = data.draw(forgeries(case, body, headers), label="forgery")
    error = verdict_of(case, forgery)
    if forgery.valid:
        assert error is None, f"{forgery.label}: refused ({error}) though equivalent"
    else:
        assert error is not None, f"{forgery.label}: a forged request was accepted"


# Each class of equivalent spelling, asserted once per case it applies to, so that the
# oracle's classes are themselves tested (a class the verifiers stopped accepting fails).


def spellings(case: Case) -> Iterator[tuple[str, str]]:
    value = base(case)[1].get(case.signature_header, "")
    if not value or case.provider == "gitlab":
        return
    yield "ows-around", f" \t{value}\t "
    if is_hex(case):
        yield "upper-hex", HEX_RUN.sub(lambda m: m[0].upper(), value)
    elif value.endswith("="):
        yield "no-padding", value.rstrip("=")
    g = GRAMMARS.get(case.id, Grammar())
    if g.kind == "label":
        yield "ows-at-label", value.replace("=", " \t= ", 1)
    elif g.kind == "pairs":
        spaced = value.replace(g.sep, f" {g.sep}\t").replace("=", " = ")
        yield "ows-in-pairs", f"{g.sep}{spaced}{g.sep}x{g.sep}v9=0"
    elif g.kind == "list":
        other = "v2,AAAA" if g.label.startswith("v1") else "junk"
        yield "unknown-entries", f"{g.sep[0]}{other}{g.sep[0] * 2}{value}{g.sep[0]}"


SPELLINGS = [
    pytest.param(c, label, value, id=f"{c.id}-{label}")
    for c in CASES
    for label, value in spellings(c)
]


@pytest.mark.parametrize(("case", "label", "value"), SPELLINGS)
def test_equivalent_spelling_accepted(case: Case, label: str, value: str) -> None:
    """Each spelling the oracle calls equivalent verifies: OWS around the value or its
    tokens, hex in upper case, base64 without padding, entries or items the scheme ignores."""
    body, headers = base(case)
    forgery = header_forgery(case, body, headers, label, {case.signature_header: value})
    assert forgery.valid
    assert verdict_of(case, forgery) is None


SIGNED_IN_HEADER = [c for c in CASES if c.signature_header and c.provider != "gitlab"]


@pytest.mark.parametrize("case", case_params(SIGNED_IN_HEADER))
@pytest.mark.parametrize("junk", ["\n", "\r\n", "\x0b", "\x1c", "\x1f", "\x85", "\xa0", "\x00"])
def test_non_http_whitespace_is_not_stripped(case: Case, junk: str) -> None:
    """A newline, NEL, NBSP, NUL or C0 separator at the end of a signature is not OWS: the
    request is refused (str.strip() used to drop it)."""
    body, headers = base(case)
    value = headers[case.signature_header] + junk
    forgery = header_forgery(case, body, headers, "junk", {case.signature_header: value})
    assert not forgery.valid
    assert verdict_of(case, forgery) is not None


@pytest.mark.parametrize("case", case_params([c for c in SIGNED_IN_HEADER if is_hex(c)]))
@pytest.mark.parametrize("space", [" ", "\t", "\n"])
def test_whitespace_inside_hex_digest_refused(case: Case, space: str) -> None:
    """Whitespace between the bytes of a hex digest is refused (bytes.fromhex skips it)."""
    body, headers = base(case)
    value = HEX_RUN.sub(lambda m: m[0][:8] + space + m[0][8:], headers[case.signature_header])
    forgery = header_forgery(case, body, headers, "inner", {case.signature_header: value})
    assert not forgery.valid
    assert verdict_of(case, forgery) is not None


# 2. Over real HTTP, to one real bridge


@pytest.fixture(scope="module")
def forged_bridge(
    tmp_path_factory: pytest.TempPathFactory, redis_server: Any
) -> Iterator[BridgeProcess]:
    """One bridge for this module (gunicorn, real Redis), so its log is this module's."""
    process = BridgeProcess(tmp_path_factory.mktemp("forged"), redis_server.url).start()
    yield process
    process.stop()


ONE_PER_PROVIDER = list({c.provider: c for c in reversed(CASES)}.values())


@pytest.mark.parametrize("case", case_params(ONE_PER_PROVIDER))
def test_forgeries_over_http_all_refused(forged_bridge: BridgeProcess, case: Case) -> None:
    """30 forged requests to a live bridge endpoint all get 401, none is stored, and the
    bridge logs no traceback."""
    endpoint = "f" + uuid.uuid4().hex[:12]
    forged_bridge.create_endpoint(
        endpoint, case.provider, secret=case.endpoint_secret, options=dict(case.options)
    )
    hook_url = f"{forged_bridge.url}/hooks/{endpoint}"
    aimed = live(case, hook_url)
    statuses: list[int] = []

    @OVER_HTTP
    @given(data=st.data())
    def send_forged(data: st.DataObject) -> None:
        now = time.time()
        body, headers = signed_at(aimed, now)
        forgery = data.draw(forgeries(aimed, body, headers, now, http=True), label="forgery")
        assume(not forgery.valid)
        answer = send(aimed, hook_url, forgery.body, forgery.headers)
        statuses.append(answer.status_code)
        assert answer.status_code == 401, (forgery, answer.text)
        assert answer.json()["error"] == "invalid_signature"

    send_forged()
    assert len(statuses) >= 30
    assert not [s for s in statuses if s >= 500]
    events = forged_bridge.api("GET", f"/api/endpoints/{endpoint}/events").json()["events"]
    assert events == []
    assert "Traceback" not in forged_bridge.log()
