"""The data dir holds the append-only file (every secret, every raw body): the bridge keeps
it, and the files Redis writes there, to its own user, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bridge.embedded import EmbeddedRedis
from tests.support import free_port


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual service umask, 022, under which files come out world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(directory: Path) -> dict[str, int]:
    """Each path under `directory` (itself included, as "."), to its permission bits."""
    found = {".": stat.S_IMODE(directory.stat().st_mode)}
    for path in directory.rglob("*"):
        if not path.is_socket():
            found[str(path.relative_to(directory))] = stat.S_IMODE(path.stat().st_mode)
    return found


@pytest.mark.usefixtures("open_umask")
@pytest.mark.parametrize("existing", [False, True])
def test_the_embedded_redis_keeps_its_files_to_this_user(tmp_path: Path, existing: bool) -> None:
    """A new data dir, or one made 0755 before, ends up 0700, and every file Redis writes
    in it (the append-only file holding a secret) has no group or other access."""
    data = tmp_path / "data"
    if existing:
        data.mkdir(mode=0o755)
        data.chmod(0o755)
    server = EmbeddedRedis(data, port=free_port())
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        client.set("wb:secret", "s3cret-signing-key")
        client.close()
    finally:
        server.stop()
    found = modes(data)
    assert found["."] == 0o700
    assert any(name.endswith(".aof") for name in found), found
    assert {name: mode for name, mode in found.items() if mode & 0o077} == {}
