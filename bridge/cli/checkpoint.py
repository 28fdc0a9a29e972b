"""The checkpoint of `bridge listen`: the last handled cursor of each endpoint, in a small JSON
file that survives `kill -9`, so a restart resumes exactly where the last run stopped.

    {"format": 1, "server": "http://127.0.0.1:8000", "cursors": {"demo": "1732590000000-0"}}

Durability. The file is only ever replaced whole (write a temp file, fsync it, `os.replace`,
fsync the directory), so it holds either the old state or the new one, never half of one.

The crash window. Handling an event is: forward it, wait for the local app's answer, record its
cursor. A crash *before the answer arrives* leaves the old cursor, and the restart forwards the
event again, which the app may have received already; a crash *after the cursor is recorded*
loses nothing and repeats nothing. So the only duplicate is an event whose forward was under way
when the process died: at-least-once, unavoidably, without a transaction spanning the app. To
keep the part after the answer as short as it can be, the next state is written and fsynced to
the temp file *before* the event is forwarded (`prepare`), and the answer is followed by a
single rename (`commit`).

Several endpoints, one file. Each endpoint's lane (bridge/cli/lanes.py) handles its events on
a thread of its own, so writes are serialised (one lock), and each state written is the
cursors recorded so far plus the one being prepared or committed: never another endpoint's
cursor whose answer has not come yet, and never without one already recorded. When another
endpoint's write came between an endpoint's `prepare` and its `commit`, the temp file no
longer holds that endpoint's next state, and `commit` writes it again (and fsyncs) before the
rename: the same guarantees, a slightly longer window.

One process at a time: the file is locked (flock on `<file>.lock`, released by the kernel when
the process dies, `kill -9` included), so two `listen`s cannot interleave their cursors.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from bridge import cursor, jsontext
from bridge.client import CliError
from bridge.errors import InvalidInput

FORMAT = 1
# Longest endpoint list spelled out in a default checkpoint name; longer ones are hashed.
NAME_LIMIT = 100


def default_path(data_dir: Path, endpoints: list[str]) -> Path:
    """`<data dir>/listen-<a>+<b>.json`, the endpoints sorted so their order does not matter."""
    name = "+".join(sorted(endpoints))
    if len(name) > NAME_LIMIT:
        name = name[:40] + "-" + hashlib.sha256(name.encode()).hexdigest()[:16]
    return data_dir / f"listen-{name}.json"


class Checkpoint:
    """Cursors per endpoint, loaded at start and rewritten after each handled event."""

    def __init__(self, path: Path, server: str) -> None:
        self.path = path
        self.server = server
        self.temp = path.with_name(path.name + ".tmp")
        self._writing = threading.RLock()
        self._prepared: dict[str, str] = {}  # channel -> its next cursor, awaiting the answer
        self._staged: str | None = None  # the channel whose next state the temp file holds
        self._lock = self._acquire()
        try:
            self.cursors = self._load()
        except BaseException:
            self.close()
            raise

    def get(self, channel: str) -> str | None:
        return self.cursors.get(channel)

    def prepare(self, channel: str, event_id: str) -> None:
        """Write the state after `event_id` to the temp file, durably, without publishing it."""
        with self._writing:
            self._prepared[channel] = event_id
            self._stage(channel)

    def commit(self, channel: str) -> None:
        """Publish `channel`'s prepared cursor: one rename (the temp file written again first
        if another write came in between), then an fsync of the directory."""
        with self._writing:
            if channel not in self._prepared:
                return
            if self._staged != channel:
                self._stage(channel)
            try:
                os.replace(self.temp, self.path)
            except OSError as exc:
                raise CliError(f"cannot write the checkpoint {self.path}: {exc.strerror}") from None
            self.cursors = {**self.cursors, channel: self._prepared.pop(channel)}
            self._staged = None
            with contextlib.suppress(OSError):  # the rename is done; this is for power loss only
                directory = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)

    def advance(self, channel: str, event_id: str) -> None:
        with self._writing:
            self.prepare(channel, event_id)
            self.commit(channel)

    def close(self) -> None:
        """Stop writing for good, and let go of the file. The process is ending: a lane that
        writes next waits forever, so none starts forwarding another event."""
        self._writing.acquire()
        with contextlib.suppress(OSError):
            os.close(self._lock)

    def _stage(self, channel: str) -> None:
        self._staged = None  # until the temp file is whole again
        state = {**self.cursors, channel: self._prepared[channel]}
        document = {"format": FORMAT, "server": self.server, "cursors": state}
        data = (json.dumps(document, indent=2) + "\n").encode()
        try:
            fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise CliError(f"cannot write the checkpoint {self.temp}: {exc.strerror}") from None
        self._staged = channel

    def _acquire(self) -> int:
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise CliError(f"cannot create the checkpoint {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise CliError(
                f"the checkpoint {self.path} is in use by another `bridge listen`: stop that "
                "one, or give this one its own --checkpoint FILE"
            ) from None
        return fd

    def _load(self) -> dict[str, str]:
        try:
            text = self.path.read_bytes()  # json.loads decodes it, or refuses it as not UTF-8
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CliError(f"cannot read the checkpoint {self.path}: {exc.strerror}") from None
        document = _parse(text)
        if document is None:
            raise CliError(
                f"{self.path} is not a `bridge listen` checkpoint: delete it, or give "
                "another --checkpoint FILE"
            )
        if document["server"] != self.server:
            raise CliError(
                f"the checkpoint {self.path} is the position on {document['server']}, not on "
                f"{self.server}: give this bridge its own --checkpoint FILE"
            )
        cursors: dict[str, str] = document["cursors"]
        return cursors


def _parse(text: str | bytes) -> dict[str, Any] | None:
    """The checkpoint document, or None when it is not one (each cursor checked)."""
    try:
        document = jsontext.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return None
    cursors = document.get("cursors")
    if not isinstance(document.get("server"), str) or not isinstance(cursors, dict):
        return None
    try:
        for value in cursors.values():
            cursor.parse(value)
    except InvalidInput:
        return None
    return document
