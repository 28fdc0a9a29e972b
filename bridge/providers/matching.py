"""Signatures compared with the expected ones in constant time, every pair checked.

Providers compute what each secret would sign and hand the candidates here; nothing else
compares a signature, so a timing leak has one place to hide and one to be fixed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Any

from bridge.errors import VerificationError
from bridge.providers.base import Provider, Secret, Verdict


def hmac_digest(key: bytes, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(key, message, getattr(hashlib, algorithm)).digest()


def first_match(
    provider: Provider,
    secrets: Sequence[Secret],
    candidates: Sequence[bytes],
    expected_for: Any,
    scheme: str,
) -> Verdict:
    """Compare every candidate signature with every secret's expected digest, in constant time.

    `expected_for(secret) -> bytes` computes the digest for one secret. All comparisons run
    even after a match so timing does not reveal which secret or position matched.
    """
    if not candidates:
        raise provider.fail(VerificationError.MISSING, "no signature of a known version")
    matched: str | None = None
    for secret in secrets:
        expected = expected_for(secret)
        for candidate in candidates:
            if hmac.compare_digest(expected, candidate) and matched is None:
                matched = secret.id
    if matched is None:
        raise provider.fail(VerificationError.BAD, "no signature matches any secret")
    return Verdict(verified=True, secret_id=matched, scheme=scheme)


def first_valid(
    provider: Provider,
    secrets: Sequence[Secret],
    candidates: Sequence[bytes],
    accepts: Callable[[Secret, bytes], bool],
    scheme: str,
) -> Verdict:
    """Like `first_match`, where a digest cannot simply be recomputed and compared.

    `accepts(secret, candidate)` checks one candidate: a public-key signature (Ed25519, ECDSA)
    or a set of digests compared in constant time (Twilio's URL variants). It must not raise.
    Every pair is checked, even after a match.
    """
    if not candidates:
        raise provider.fail(VerificationError.MISSING, "no signature of a known version")
    matched: str | None = None
    for secret in secrets:
        for candidate in candidates:
            if accepts(secret, candidate) and matched is None:
                matched = secret.id
    if matched is None:
        raise provider.fail(VerificationError.BAD, "no signature matches any secret")
    return Verdict(verified=True, secret_id=matched, scheme=scheme)


def any_digest(expected: Sequence[bytes], candidate: bytes) -> bool:
    """True when `candidate` equals any of `expected`; compares with every one of them."""
    found = False
    for digest in expected:
        found |= hmac.compare_digest(digest, candidate)
    return found
