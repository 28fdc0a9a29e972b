"""Loaded by schemathesis (SCHEMATHESIS_HOOKS) in tests/test_openapi_fuzz.py: strategies for
the secret formats the OpenAPI document names, so generated endpoints carry real keys."""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

from bridge.providers import asymmetric, get
from tests.provider_cases import discord_public, p256_public, whpk_of, whsk

# Fresh keys from the providers' own generators (drawn per example, not per run).
schemathesis.openapi.format(
    "ed25519-public-key-hex", st.builds(lambda: discord_public(get("discord").new_secret()))
)
schemathesis.openapi.format(
    "p256-public-key", st.builds(lambda: p256_public(get("sendgrid").new_secret()))
)
schemathesis.openapi.format(
    "standard-webhooks-secret",
    st.one_of(
        st.builds(get("standard").new_secret),
        st.builds(lambda: whpk_of(whsk(asymmetric.ed25519_new()))),
    ),
)
