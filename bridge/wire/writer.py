"""The socket under a WebSocket connection, wrapped so that writes are whole, serialised,
timed, and, on the fast path, never blocking."""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

from gevent.lock import Semaphore

from bridge.wire import adapter


class WriterSocket:
    """Wraps the raw socket so every write is whole (`sendall`), serialised, and timed.

    simple-websocket writes with `send()`, which may write part of a frame under load; and
    its reader answers pings from another greenlet. The lock keeps frames from interleaving;
    `sending_since` lets the reaper close a socket whose peer stopped reading.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = Semaphore()
        self.sending_since = 0.0

    def send(self, data: bytes) -> int:
        with self._lock:
            self.sending_since = time.monotonic()
            try:
                # One send() first: gevent's sendall() costs a getsockopt() call per write.
                sent = self._sock.send(data)
                if sent < len(data):
                    self._sock.sendall(memoryview(data)[sent:])
            finally:
                self.sending_since = 0.0
        return len(data)

    def send_now(self, data: bytes) -> int:
        """Write what the kernel takes right now, without waiting: 0 if a write is under way."""
        if not self._lock.acquire(blocking=False):
            return 0
        try:
            return adapter.send_nowait(self._sock, data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            return 0  # the writer meets the error and ends the connection
        finally:
            self._lock.release()

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Close gracefully: closing with unread input would send a TCP reset, and the
        peer's kernel would drop our close frame (say, 1009 after an oversized message)."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)
            self._sock.settimeout(1.0)
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and self._sock.recv(65536):
                pass
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
