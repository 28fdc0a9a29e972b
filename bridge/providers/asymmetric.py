"""Public-key signatures (Ed25519, ECDSA P-256) for discord, sendgrid and standard `v1a`.

Keys arrive as text the user pasted; every loader returns None for text that is not a key of
the expected kind (never raises), and every check returns False for a bad signature.
`cryptography` (pyca) does the maths.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

PEM_ARMOUR = re.compile(r"-----(BEGIN|END) [A-Z0-9 ]+-----")
KEY_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm, binascii.Error)


def _der(text: str) -> bytes:
    """The DER bytes of a PEM block or of bare base64 (whitespace ignored); b"" if neither."""
    body = "".join(PEM_ARMOUR.sub("", text).split())
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (ValueError, binascii.Error):
        return b""


# Ed25519


def ed25519_public(raw: bytes) -> ed25519.Ed25519PublicKey | None:
    """A 32-byte Ed25519 public key, or None."""
    if len(raw) != 32:
        return None
    try:
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    except KEY_ERRORS:
        return None


def ed25519_private(raw: bytes) -> ed25519.Ed25519PrivateKey | None:
    """An Ed25519 private key from its 32-byte seed or a 64-byte seed + public key (NaCl)."""
    if len(raw) == 64:
        raw = raw[:32]
    if len(raw) != 32:
        return None
    try:
        return ed25519.Ed25519PrivateKey.from_private_bytes(raw)
    except KEY_ERRORS:
        return None


def ed25519_public_bytes(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def ed25519_new() -> bytes:
    """A fresh private key's 32-byte seed."""
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def ed25519_valid(key: ed25519.Ed25519PublicKey | None, signature: bytes, message: bytes) -> bool:
    if key is None or len(signature) != 64:
        return False
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


# ECDSA P-256 with SHA-256, DER signatures, keys as base64 DER (SubjectPublicKeyInfo / PKCS#8)


def p256_public(text: str) -> ec.EllipticCurvePublicKey | None:
    """A P-256 public key from base64 SubjectPublicKeyInfo (or its PEM), or None."""
    der = _der(text)
    if not der:
        return None
    try:
        key = serialization.load_der_public_key(der)
    except KEY_ERRORS:
        return None
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    return None


def p256_private(text: str) -> ec.EllipticCurvePrivateKey | None:
    """A P-256 private key from PKCS#8 (PEM or bare base64 DER), unencrypted, or None."""
    der = _der(text)
    if not der:
        return None
    try:
        key = serialization.load_der_private_key(der, password=None)
    except KEY_ERRORS:
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    return None


def p256_public_text(key: ec.EllipticCurvePrivateKey) -> str:
    """The base64 SubjectPublicKeyInfo of a private key's public half (as SendGrid shows it)."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def p256_new() -> str:
    """A fresh private key as base64 PKCS#8 DER."""
    der = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return base64.b64encode(der).decode("ascii")


def p256_sign(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """A DER-encoded ECDSA SHA-256 signature."""
    return key.sign(message, ec.ECDSA(hashes.SHA256()))


def p256_valid(key: ec.EllipticCurvePublicKey | None, signature: bytes, message: bytes) -> bool:
    if key is None or not signature:
        return False
    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
