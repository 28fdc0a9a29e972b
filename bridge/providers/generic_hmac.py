"""Generic HMAC (`hmac`): for senders that sign the raw body with a shared secret.

Endpoint options (all optional):
- `header` (default `x-signature`): the header holding the signature(s); an HTTP field name
  (letters, digits, `-`, `_` and the like) of at most 256 characters, checked when the
  endpoint is created.
- `algorithm`: `sha1`, `sha256` (default) or `sha512`; key = the secret as UTF-8.
- `encoding`: `hex` (default, case-insensitive) or `base64` (standard alphabet).
- `prefix` (default none): text before each signature, e.g. `sha256=`; entries without it are
  not signatures of a known kind. It may not contain commas or whitespace, and is at most 64
  characters.
- `id_header`: a header carrying the sender's event id (none by default); a field name too.
- `type_field` (default `type`): the body JSON field with the event type; dots walk into
  nested objects (`meta.event_name`).

- Signed bytes: the raw body. Several signatures, separated by commas, spaces or tabs, are
  accepted; any one match is enough.
- Replay window: none; dedup by the event id (when `id_header` is set) stops replays.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from bridge.errors import InvalidInput
from bridge.providers.base import Identity, Provider, Secret, SignRequest, Verdict, WebhookRequest
from bridge.providers.headers import HEADER_NAME, MAX_HEADER_NAME, json_str
from bridge.providers.schemes import hmac_match, hmac_text
from bridge.text import SPACE_CLASS, stripped

ALGORITHMS = ("sha1", "sha256", "sha512")
ENCODINGS = ("hex", "base64")
# Commas and OWS only: \s would also split on NEL, NBSP and the C0 separators.
SEPARATORS = re.compile(r"[, \t]+")
# What the `header` and `id_header` options may be: a field name, blank for the default.
# Whitespace around it as both regex dialects read it, and as Settings.of strips it.
HEADER_OPTION = rf"^[{SPACE_CLASS}]*({HEADER_NAME})?[{SPACE_CLASS}]*$"
# A prefix of the signature in its header (`sha256=`): no separator, and short enough that
# a header of it and a digest fits any proxy's and gunicorn's line.
# Whitespace as both regex dialects read it (the document's pattern is the whole check).
MAX_PREFIX = 64
PREFIX = rf"[^,{SPACE_CLASS}]{{0,{MAX_PREFIX}}}"


@dataclass(frozen=True)
class Settings:
    header: str
    algorithm: str
    encoding: str
    prefix: str
    id_header: str | None
    type_field: str

    @classmethod
    def of(cls, options: Mapping[str, Any] | None) -> Settings:
        """Read options with their defaults; raise InvalidInput naming a bad one."""
        o = options or {}
        settings = cls(
            header=stripped(str(o.get("header") or "")) or "x-signature",
            algorithm=str(o.get("algorithm") or "sha256").lower(),
            encoding=str(o.get("encoding") or "hex").lower(),
            prefix=str(o.get("prefix") or ""),
            id_header=stripped(str(o.get("id_header") or "")) or None,
            type_field=str(o.get("type_field") or "type"),
        )
        if settings.algorithm not in ALGORITHMS:
            raise InvalidInput("options.algorithm", f"must be one of {', '.join(ALGORITHMS)}")
        if settings.encoding not in ENCODINGS:
            raise InvalidInput("options.encoding", f"must be one of {', '.join(ENCODINGS)}")
        if re.search(r"[,\s]", settings.prefix):
            raise InvalidInput("options.prefix", "must not contain commas or whitespace")
        return settings


class GenericHmac(Provider):
    name: ClassVar[str] = "hmac"
    generates_secret: ClassVar[bool] = True
    option_types: ClassVar[Mapping[str, type]] = {
        "header": str,
        "algorithm": str,
        "encoding": str,
        "prefix": str,
        "id_header": str,
        "type_field": str,
    }
    # Settings.of's checks; "" stands for the default.
    option_rules: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "algorithm": {"enum": ["", *ALGORITHMS]},
        "encoding": {"enum": ["", *ENCODINGS]},
        "prefix": {"pattern": f"^{PREFIX}$"},
        "header": {"pattern": HEADER_OPTION},
        "id_header": {"pattern": HEADER_OPTION},
    }

    def validate_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        clean = super().validate_options(options)
        settings = Settings.of(clean)
        # Here, not in Settings.of (which each delivery reads): an endpoint stored before
        # this check still answers its deliveries 401, not 400.
        for field in ("header", "id_header"):
            if not re.match(HEADER_OPTION, str(clean.get(field) or "")):
                raise InvalidInput(
                    f"options.{field}",
                    f"must be an HTTP header name of at most {MAX_HEADER_NAME} characters:"
                    " letters, digits, - and _",
                )
        if not re.fullmatch(PREFIX, settings.prefix):
            raise InvalidInput(
                "options.prefix", f"must be at most {MAX_PREFIX} characters, no comma or space"
            )
        return clean

    def verify(self, request: WebhookRequest, secrets: Sequence[Secret]) -> Verdict:
        cfg = Settings.of(request.options)
        header = self.require(request, cfg.header)
        signatures = [
            entry.removeprefix(cfg.prefix)
            for entry in SEPARATORS.split(header)
            if entry and entry.startswith(cfg.prefix)
        ]
        return hmac_match(
            self, secrets, signatures, request.body, algorithm=cfg.algorithm, encoding=cfg.encoding
        )

    def identify(self, request: WebhookRequest) -> Identity:
        cfg = Settings.of(request.options)
        event_id = request.header(cfg.id_header) if cfg.id_header else None
        event_type = json_str(request.json(), *cfg.type_field.split("."))
        return Identity(event_id or None, event_type)

    def headers_for(self, req: SignRequest) -> dict[str, str]:
        cfg = Settings.of(req.options)
        signature = hmac_text(req.secret, req.body, cfg.algorithm, cfg.encoding)
        headers = {cfg.header: cfg.prefix + signature}
        if cfg.id_header and req.event_id:
            headers[cfg.id_header] = req.event_id
        return headers
