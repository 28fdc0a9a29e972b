"""A loopback TCP proxy that can black-hole its traffic without closing any connection.

`cut()` stops forwarding in both directions while every socket stays open, as a network
partition or a peer that vanished without a FIN looks to both ends: nothing arrives, nothing
fails. What is sent meanwhile waits in the proxy and the kernel, as TCP would retransmit it,
and flows again on `heal()`. New connections are accepted during a cut too (the kernel
completes the handshake) but carry nothing until the heal.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading

_POLL = 0.05  # how often the pumps look up from a wait, to notice a heal or a stop


class Blackhole:
    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Blackhole:
        self._spawn(self._accept)
        return self

    def cut(self) -> None:
        self._flowing.clear()

    def heal(self) -> None:
        self._flowing.set()

    def upstream_ports(self) -> set[int]:
        """The local ports of the proxy's connections to the target: the peers it sees."""
        with self._lock:
            pairs = list(self._pairs)
        ports = set()
        for _, upstream in pairs:
            with contextlib.suppress(OSError):  # closed meanwhile
                ports.add(upstream.getsockname()[1])
        return ports

    def stop(self) -> None:
        self._stopped.set()
        self._flowing.set()
        with self._lock:
            pairs, self._pairs = self._pairs, []
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)
        self._listener.close()
        for pair in pairs:
            for sock in pair:
                sock.close()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(_POLL)  # closing a listener does not wake its accept()
        while not self._stopped.is_set():
            try:
                downstream, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:  # the listener was closed: stop() was called
                return
            downstream.settimeout(None)
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._pairs.append((downstream, upstream))
            self._spawn(self._pump, downstream, upstream)
            self._spawn(self._pump, upstream, downstream)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(source, selectors.EVENT_READ)
            try:
                while not self._stopped.is_set():
                    if not self._flowing.wait(_POLL):
                        continue  # cut: read nothing, so the sender's buffers fill as on a wire
                    if not selector.select(_POLL):
                        continue
                    data = source.recv(65536)
                    if not data:
                        break
                    # Read just as the cut began: held, like a packet in flight, until the heal.
                    while not self._flowing.wait(_POLL):
                        if self._stopped.is_set():
                            return
                    sink.sendall(data)
            except OSError:
                pass
        # One side ended: end the other too, as a plain TCP connection would.
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
