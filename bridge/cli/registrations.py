"""What `bridge register` made on the providers' side, kept in `<data dir>/registrations.json`
so that `bridge register list|delete` and `bridge backfill` know which hook feeds which
endpoint (GitHub's deliveries are listed per repository hook; nothing on the bridge's side
names that hook):

    {"format": 1, "hooks": [{"provider": "github", "id": "500000001", "repo": "octo/hello",
      "endpoint": "gh-octo-hello", "server": "http://127.0.0.1:8000",
      "api_base": "https://api.github.com", "events": ["push"], "created_at": "..."}]}

Replaced whole (temp file, fsync, rename), so a crash leaves the old list or the new one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bridge import jsontext
from bridge.client import CliError

FORMAT = 1
FILE = "registrations.json"


@dataclass(frozen=True)
class Hook:
    provider: str  # "github" or "stripe"
    id: str  # GitHub's hook id, or Stripe's webhook endpoint id (we_...)
    endpoint: str
    server: str
    api_base: str
    events: list[str]
    created_at: str
    repo: str | None = None  # GitHub only


def _path(data_dir: Path) -> Path:
    return data_dir / FILE


def load(data_dir: Path) -> list[Hook]:
    path = _path(data_dir)
    try:
        document = jsontext.loads(path.read_text())
        return [Hook(**h) for h in document["hooks"]] if document.get("format") == FORMAT else []
    except FileNotFoundError:
        return []
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CliError(f"cannot read {path} ({exc}): fix or delete it") from None


def replace_file(path: Path, document: Any) -> None:
    """Write `document` as JSON to `path`, whole or not at all (also the backfill cursor)."""
    temp = path.with_name(path.name + ".tmp")
    data = json.dumps(document, indent=2) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None


def save(data_dir: Path, hooks: list[Hook]) -> None:
    replace_file(_path(data_dir), {"format": FORMAT, "hooks": [asdict(h) for h in hooks]})


def add(data_dir: Path, hook: Hook) -> None:
    save(data_dir, [*(h for h in load(data_dir) if h.id != hook.id), hook])


def remove(data_dir: Path, hook_id: str) -> None:
    save(data_dir, [h for h in load(data_dir) if h.id != hook_id])


def for_endpoint(data_dir: Path, server: str, endpoint: str, provider: str) -> list[Hook]:
    return [
        h
        for h in load(data_dir)
        if h.endpoint == endpoint and h.server == server and h.provider == provider
    ]


def as_json(hook: Hook, **extra: Any) -> dict[str, Any]:
    return {**asdict(hook), **extra}
