"""The socket room: everything about one connected WebSocket below the JSON protocol.

    hub ── offer(frame bytes) ──▶ Connection ── nothing waiting: send_now ──▶ kernel
                                    │                                        ▲
                                    └─ queue.Outbox ──▶ writer greenlet ─────┘
    kernel ──▶ reader.FrameReader (in the request greenlet) ──▶ receive() ──▶ web/session.py

- `frames.py`: the bytes of a frame, made once per event for every socket;
- `queue.py`: the bounded queue (frames, bytes, age) and the `on_slow` policies; no I/O;
- `writer.py`: the socket under the connection: whole, serialised, timed writes;
- `reader.py`: client frames, read in the request greenlet (no reader thread per socket);
- `adapter.py`: the one place that uses simple-websocket's, wsproto's and gevent's internals;
- `connection.py`: the `Connection` the hub and the session hold, owning all of the above
  and the close handshake. The hub hands it ready bytes and never learns how they are
  written; web/session.py keeps only the protocol (auth, subscribe, filters, errors).

The room relies on gevent (the bridge runs only on gevent workers): cooperative switching
makes the fast path's checks and send one step, and its greenlets, events and locks are
gevent's own, so a `Connection` also runs in a test process without monkey-patching.
"""
