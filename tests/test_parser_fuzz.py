"""Hypothesis over the signature-header parsers: any latin-1 text (what HTTP can carry),
NUL and huge values included, gives a value or our typed error, never another exception."""

from __future__ import annotations

import contextlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import example, given
from hypothesis import strategies as st

from bridge.errors import InvalidInput, VerificationError
from bridge.providers import asymmetric, get
from bridge.providers.headers import decode_signature, parse_pairs
from bridge.providers.schemes import labelled
from tests.provider_cases import PROPERTY, make_request

LATIN1 = st.characters(min_codepoint=0, max_codepoint=255)
HEADER = st.one_of(
    st.text(LATIN1, max_size=300),
    st.builds(lambda c, n: c * n, st.text(LATIN1, min_size=1, max_size=3), st.integers(1, 20_000)),
)
TYPED = (VerificationError, InvalidInput)


@PROPERTY
@given(text=HEADER, sep=st.sampled_from([",", ";", " "]))
def test_parse_pairs_takes_anything(text: str, sep: str) -> None:
    """parse_pairs gives (key, value) pairs for any text."""
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in parse_pairs(text, sep))


@PROPERTY
@given(text=HEADER, encoding=st.sampled_from(["hex", "base64"]))
def test_decode_signature_takes_anything(text: str, encoding: str) -> None:
    """decode_signature gives bytes (b"" when the text does not decode) for any text."""
    assert isinstance(decode_signature(text, encoding), bytes)


@PROPERTY
@given(text=HEADER)
def test_timestamp_and_label_parsers_raise_only_verification_error(text: str) -> None:
    """check_timestamp and labelled accept or raise VerificationError, nothing else."""
    provider = get("stripe")
    for parse in (
        lambda: provider.check_timestamp(make_request(b"", {}), text),
        lambda: labelled(provider, text, "v1"),
    ):
        with contextlib.suppress(VerificationError):
            parse()


@PROPERTY
@given(text=HEADER)
@example(text="0" * 32)  # any 32 bytes are an Ed25519 seed, and some a public key
def test_key_loaders_return_none_for_junk(text: str) -> None:
    """The PEM/base64/hex key loaders return a key of their own kind or None for any text."""
    raw = text.encode("latin-1")
    loaded = [
        (asymmetric.p256_public(text), ec.EllipticCurvePublicKey),
        (asymmetric.p256_private(text), ec.EllipticCurvePrivateKey),
        (asymmetric.ed25519_public(raw), ed25519.Ed25519PublicKey),
        (asymmetric.ed25519_private(raw), ed25519.Ed25519PrivateKey),
    ]
    assert all(key is None or isinstance(key, kind) for key, kind in loaded)


@pytest.mark.parametrize("name", ["discord", "sendgrid", "standard"])
@PROPERTY
@given(text=HEADER)
def test_check_secret_raises_only_invalid_input(name: str, text: str) -> None:
    """A pasted key is accepted or refused with InvalidInput, whatever the text."""
    with contextlib.suppress(*TYPED):
        get(name).check_secret(text)
