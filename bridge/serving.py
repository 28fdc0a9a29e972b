"""gunicorn settings and hooks for the bridge (`gunicorn.conf.py` re-exports this module).

gevent workers: one greenlet per socket instead of OS threads, so an idle WebSocket costs
a few tens of KB and never pins a worker. No `preload_app`: the hub must start in each
worker after the fork. With BRIDGE_REDIS_URL unset, the master starts the embedded Redis
before forking and hands its URL to the workers through the environment.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import json
import os
import re
import shutil
import socket
import sys
import weakref
from http import HTTPStatus
from typing import IO, Any

from gunicorn.glogging import Logger
from gunicorn.http.errors import InvalidChunkSize

from bridge.auth import load_or_create_admin_token
from bridge.config import Settings
from bridge.embedded import EmbeddedRedis
from bridge.text import escaped

_settings = Settings.from_env()

bind = [
    f"[{_settings.host}]:{_settings.port}"
    if ":" in _settings.host
    else f"{_settings.host}:{_settings.port}"
]
workers = _settings.workers
worker_class = "gevent"
# Open sockets per worker; idle ones cost little under gevent.
worker_connections = 20_000
timeout = 30
graceful_timeout = 10
keepalive = 5
# One line per request on stdout. The path without its query (nothing secret travels there
# today, and nothing ever will be logged from it); `trace` is the X-Bridge-Trace a webhook
# got, so one delivery can be followed from this line to the frame a browser received.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms trace=%({x-bridge-trace}o)s'
preload_app = False
# The access log escapes control characters a request brought (AccessLogger, below).
logger_class = "bridge.serving.AccessLogger"
# gunicorn itself trusts X-Forwarded-Proto from 127.0.0.1 by default, so any local client
# (or a proxy on this host that passes the header on) could make the bridge think it is on
# https. Only ProxyFix, counting BRIDGE_TRUSTED_PROXIES hops (bridge/factory.py), applies them.
forwarded_allow_ips = ""
# gunicorn's runtime control socket defaults to one path per user (~/.gunicorn), which two
# bridges on one machine would fight over; the bridge needs none of it.
control_socket_disable = True
wsgi_app = "bridge.factory:create_app()"

_embedded: EmbeddedRedis | None = None
_lock: IO[str] | None = None
_metrics_dir = _settings.data_dir.resolve() / "metrics"


class AccessLogger(Logger):  # type: ignore[misc]  # gunicorn has no types
    """gunicorn's logger, whose access lines show control characters from a request as
    `\\xNN`: the path is logged percent-decoded, so a stranger's `/x%0a...` wrote a line of
    its own making into the log, and `%1b[...` a terminal escape to whoever tails it.

    It works out only the atoms the format shows. gunicorn's `atoms()` makes one of every
    request header, answer header and environ entry (~70 for a webhook) and its `access()`
    copies them all, quoting each `"`: in the ingest bench that was ~6% of a worker's CPU
    per webhook, for a line that shows seven. Each atom is gunicorn 27's (pinned in
    requirements.txt; tests/test_access_log.py compares every one with gunicorn's own)."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = {}
        for name in _logged(self.cfg.access_log_format):
            value = self._atom(name, resp, req, environ, request_time)
            if value is not _ABSENT:
                atoms[name] = escaped(value) if isinstance(value, str) else value
        # An empty mapping would not format (logging takes it for no arguments at all).
        return atoms or super().atoms(resp, req, environ, request_time)

    def _atom(self, name: str, resp: Any, req: Any, environ: Any, request_time: Any) -> Any:
        if name.startswith("{") and len(name) > 3:
            key, kind = name[1:-2], name[-1]
            if kind == "e":
                found = [v for k, v in environ.items() if k.lower() == key]
            elif kind in "io":
                headers = req.headers if kind == "i" else resp.headers
                found = [v for k, v in headers if k.lower() == key]
            else:
                return _ABSENT
            return found[-1] if found else _ABSENT  # the last one, as gunicorn's dict keeps
        seconds, micros = request_time.seconds, request_time.microseconds
        sent = getattr(resp, "sent", None)
        if name == "h":
            return environ.get("REMOTE_ADDR", "-")
        if name == "s":
            status = resp.status
            return status.split(None, 1)[0] if isinstance(status, str) else status
        if name in _ENVIRON_ATOMS:
            return environ.get(_ENVIRON_ATOMS[name])
        if name == "B":
            return sent
        if name == "b":
            return str(sent) if sent is not None else "-"
        if name == "M":
            return seconds * 1000 + int(micros / 1000)
        if name == "D":
            return seconds * 1000000 + micros
        if name == "T":
            return seconds
        if name == "L":
            return f"{seconds}.{micros:06d}"
        if name == "t":
            return self.now()
        if name == "u":
            return self._get_user(environ) or "-"
        if name == "r":
            return "%s %s %s" % (  # noqa: UP031 - as gunicorn writes it
                environ["REQUEST_METHOD"],
                environ["RAW_URI"],
                environ["SERVER_PROTOCOL"],
            )
        if name in _DASHED_ATOMS:
            return environ.get(_DASHED_ATOMS[name], "-")
        if name == "l":
            return "-"
        if name == "p":
            return f"<{os.getpid()}>"
        return _ABSENT


_ABSENT = object()
# gunicorn's atoms that are an environ entry as it is, or "-" where it is missing.
_ENVIRON_ATOMS = {
    "m": "REQUEST_METHOD",
    "U": "PATH_INFO",
    "q": "QUERY_STRING",
    "H": "SERVER_PROTOCOL",
}
_DASHED_ATOMS = {"f": "HTTP_REFERER", "a": "HTTP_USER_AGENT"}


@functools.lru_cache(maxsize=4)
def _logged(access_log_format: str) -> tuple[str, ...]:
    """The atoms a gunicorn access-log format names, `%(name)s` each (headers in lower case,
    as gunicorn keys them)."""
    names = re.findall(r"%\(([^)]*)\)", access_log_format)
    return tuple(name.lower() if name.startswith("{") else name for name in names)


def _claim_data_dir() -> None:
    """Refuse to share the data dir with a running bridge: a second one would clear the
    first's metrics, and take over its Redis socket and append-only file."""
    global _lock
    path = _settings.data_dir / "bridge.lock"
    try:
        _settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _lock = path.open("a+")
    except OSError as exc:  # a file there, no right to make it, a name past the limit
        print(
            f"bridge: BRIDGE_DATA_DIR: cannot use {str(_settings.data_dir)!r} as the data dir: "
            f"{exc.strerror or exc}",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(1)
    try:
        fcntl.flock(_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(
            f"bridge: another bridge is running with data dir {_settings.data_dir.resolve()}; "
            "stop it, or give this one its own BRIDGE_DATA_DIR (and PORT)",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(1)


def refuse_unusable_port() -> None:
    """One line that says what to do, instead of gunicorn's five retries and tracebacks.

    `bridge serve` asks before gunicorn starts (so the line is the only one); a bare
    `gunicorn -c gunicorn.conf.py app:app` asks in `on_starting`, after gunicorn's banner.
    """
    host, port = _settings.host, _settings.port
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            # As gunicorn binds: a port left in TIME_WAIT is free, one being listened on is not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        port_hint = "choose another with PORT=<port>"
        host_hint = "set BRIDGE_HOST to an address of this machine (127.0.0.1, 0.0.0.0)"
        problem, hint = {
            errno.EADDRINUSE: (f"port {port} is already in use on {host}", port_hint),
            errno.EACCES: (f"port {port} on {host} needs privileges this user lacks", port_hint),
            errno.EADDRNOTAVAIL: (f"{host} is not an address of this machine", host_hint),
        }.get(exc.errno or 0, (f"cannot listen on {host}:{port}: {exc.strerror or exc}", ""))
        if not hint:  # a name that does not resolve, or another failure of the address
            hint = host_hint if isinstance(exc, socket.gaierror) else port_hint
        print(f"bridge: {problem}; {hint}", file=sys.stderr, flush=True)
        sys.exit(1)
    except UnicodeError:  # IDNA refuses it before any lookup: an empty label, a stray byte
        print(f"bridge: BRIDGE_HOST: {host!r} is not a host name", file=sys.stderr, flush=True)
        sys.exit(1)


def on_starting(server: Any) -> None:
    global _embedded
    _claim_data_dir()
    refuse_unusable_port()
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
        _metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)
    if not _settings.redis_url:
        _embedded = EmbeddedRedis(_settings.data_dir)
        os.environ["BRIDGE_REDIS_URL"] = _embedded.start()
        _embedded.supervise()
    if not _settings.admin_token:
        load_or_create_admin_token(_settings.data_dir)


def when_ready(server: Any) -> None:
    redis_note = f"embedded, data in {_settings.data_dir}" if _embedded else _settings.redis_display
    print(
        f"Webhook Bridge listening on http://{_settings.host}:{_settings.port} "
        f"(redis: {redis_note})",
        flush=True,
    )
    if not _embedded and _settings.redis_url:
        _warn_if_redis_is_away(_settings.redis_url)
    if not _settings.admin_token:
        token, _ = load_or_create_admin_token(_settings.data_dir)
        # The contract's link, on stdout whatever it is: a service's log then holds the token
        # (docs/configuration.md says so; BRIDGE_ADMIN_TOKEN keeps it out).
        print(f"Dashboard: http://127.0.0.1:{_settings.port}/#token={token}", flush=True)
        print(f"Admin token kept in {_settings.data_dir / 'admin-token'}", flush=True)


def _warn_if_redis_is_away(url: str) -> None:
    """One line at start when the external Redis does not answer a PING: the bridge serves
    anyway (webhooks get 503 with Retry-After until it answers, /readyz says so), but an
    operator with a mistyped BRIDGE_REDIS_URL learnt it only from the first 503s.

    Asked from a child process: redis-py imports ssl, and a master that had imported it
    would hand it to every worker before gevent patches it (a MonkeyPatchWarning at each
    worker's boot, and unpatched ssl in redis.asyncio)."""
    child = os.fork()
    if child:
        os.waitpid(child, 0)  # gunicorn only queues SIGCHLD here: its reaper runs later
        return
    try:
        from bridge.redis_client import connect

        client = connect(url, 1, min(_settings.redis_timeout, 1.0))
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # any failure is the same news: it does not answer
        print(
            f"bridge: WARNING: Redis at {_settings.redis_display} does not answer "
            f"({type(exc).__name__}): webhooks are answered 503 until it does (/readyz)",
            file=sys.stderr,
            flush=True,
        )
    finally:
        os._exit(0)


def pre_request(worker: Any, req: Any) -> None:
    """Refuse a declared body over the limit before gunicorn says `100 Continue` to it.

    gunicorn answers an `Expect: 100-continue` while it builds the WSGI environ, before the
    app sees the request; the app then answers 413 from the declared length without reading
    the body. Closing the connection afterwards keeps gunicorn from draining that body to
    reuse it. `_expected_100_continue` is gunicorn's own flag (checked against gunicorn 27,
    pinned in requirements.txt; tests/test_hostile_input.py fails if it moves).

    Also hands the request to bridge/web/pacing.py, which closes the connection of a body
    that came too slowly, and answers an HTTP/1.x past 1.1 as 1.1.
    """
    from bridge.web import pacing  # here, in a worker: it imports gevent, which the master need not

    pacing.REQUESTS[req.body] = weakref.ref(req)  # what PacedInput closes the connection of
    # RFC 9110 2.5: answer with the highest minor version we speak; gunicorn echoed
    # `HTTP/1.9` back, and the environ's SERVER_PROTOCOL (whose HTTP/1.1 requires a Host)
    # said 1.9 too.
    if req.version[0] == 1 and req.version[1] > 1:
        req.version = (1, 1)
    declared = next((v for name, v in req.headers if name == "CONTENT-LENGTH"), "")
    if declared.isascii() and declared.isdigit() and int(declared) > _settings.max_body_bytes:
        req._expected_100_continue = False
        req.must_close = True


# What gunicorn's own answers (a request it could not parse, before the app sees it) are
# called, as the app's JSON errors are (bridge/web/responses.py).
_PARSE_ERRORS = {
    400: "bad_request",
    403: "forbidden",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
    501: "not_implemented",
}


_WRAPPED = re.compile(r"\A(?:Invalid [A-Za-z ]+|Error parsing headers:) '(.*)'\Z", re.S)


def _write_json_error(sock: Any, status: int, reason: str, message: str) -> None:
    """gunicorn's `util.write_error`, answering JSON instead of its HTML page."""
    from gunicorn.util import close_graceful, write_nonblock

    code = _PARSE_ERRORS.get(status, "internal" if status >= 500 else "bad_request")
    # gunicorn wraps its exception's sentence in another ("Invalid Request Line 'Invalid
    # HTTP request line: ...'"): the inner one says it. Its reason for a 501 is "Bad Request".
    message = _WRAPPED.sub(r"\1", message or reason)
    with contextlib.suppress(ValueError):  # a status HTTPStatus has no name for keeps its own
        reason = HTTPStatus(status).phrase
    # As the app writes its JSON (jsonify: compact, a newline after).
    body = (
        json.dumps({"error": code, "message": message[:200]}, separators=(",", ":")) + "\n"
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    write_nonblock(sock, head.encode("latin-1") + body)
    close_graceful(sock)  # the rest of what it sent is unread: see post_request


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """Close a connection the bridge ends after an answer as RFC 9112 section 9.6 says.

    gunicorn's gevent worker closes at once, and a close with request bytes still unread
    (a body answered 413 from its declared length, or cut 408 as too slow) makes the kernel
    send a reset, which can cost the client the answer. gunicorn's sync and gthread workers
    close this way (`util.close_graceful`: FIN, then drain up to 64 KiB for 2 s); the close
    gunicorn makes after this hook is then a no-op. A WebSocket never sent its head through
    `resp`, so it is not held here.
    """
    from gunicorn import util

    if resp is not None and resp.headers_sent and resp.should_close():
        util.close_graceful(resp.sock)


# An answer's head and a first piece of its body up to this size leave in one send.
ONE_SEND_BYTES = 64 * 1024


class _Held:
    """A socket for one `Response.write` call: what gunicorn sends meanwhile is kept, and
    sent by `flush` in one send."""

    __slots__ = ("parts", "sock")

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.parts: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.parts.append(data)

    def flush(self) -> None:
        data = b"".join(self.parts)
        if not data:
            return
        # One send: the kernel takes an answer this small whole. gevent's sendall asks the
        # socket's buffer size (a getsockopt) and loops over chunks first, ~2.5 us of CPU
        # per answer; it sends what a short send left, with the same timeout.
        sent = self.sock.send(data)
        if sent < len(data):
            self.sock.sendall(memoryview(data)[sent:])


def send_head_with_body() -> None:
    """Have gunicorn send an answer's head and the first piece of its body in one write.

    gunicorn's `Response.write` sends the status line and headers with one `sendall`, then
    the body with another: two system calls per answer (each, on a local socket, running
    the client's receive path), and two segments for the client to read. Here the first
    `write` of an answer (its headers not sent yet, a piece up to ONE_SEND_BYTES) runs
    gunicorn's own with a socket that keeps what it sends, then sends that at once: the same
    bytes in the same order, one call. Anything else is gunicorn's write as it is. Checked
    against gunicorn 27 (pinned in requirements.txt; tests/test_answer_write.py compares the
    bytes with gunicorn's own, and fails if `write` stops writing through `self.sock`)."""
    from gunicorn.http.wsgi import Response

    write = Response.write
    if getattr(write, "one_send", False):
        return

    def one_send_write(self: Any, arg: Any) -> None:
        if self.headers_sent or not isinstance(arg, bytes) or len(arg) > ONE_SEND_BYTES:
            write(self, arg)
            return
        held = _Held(self.sock)
        self.sock = held
        try:
            write(self, arg)
        finally:
            self.sock = held.sock
            held.flush()

    one_send_write.one_send = True  # type: ignore[attr-defined]
    Response.write = one_send_write


class BareLineFeed(InvalidChunkSize):  # type: ignore[misc]  # gunicorn has no types
    """A chunk-size line ended by LF alone; the body pacing answers it 400 (web/pacing.py)."""

    def __str__(self) -> str:
        return "a chunk-size line ends with a bare LF, not CRLF (RFC 9112 7.1)"


def refuse_bare_lf_chunk_lines() -> None:
    """Have gunicorn refuse a chunk-size line ended by LF alone, at once.

    Its ChunkedReader looks for the CRLF that ends the line and reads on until one comes: a
    body framed with bare LFs (`2\\nab\\n0\\n\\n`, all of it sent) left it waiting for bytes
    the sender would never send, a 408 after the body's grace instead of a 400. It reads on
    (`read_into`) only while its buffer holds no CRLF, so a LF in the buffer then is a bare
    one: from parse_chunk_size, the line's; parse_trailers refuses its own bare LFs before it
    reads on. Checked against gunicorn 27 (pinned in requirements.txt);
    tests/test_http_parse_errors.py sends such a body."""
    from gunicorn.http.body import ChunkedReader

    read_into = ChunkedReader.read_into
    if getattr(read_into, "bare_lf_refused", False):
        return

    def refusing_read_into(self: Any, unreader: Any, buf: bytearray) -> None:
        if b"\n" in buf:
            raise BareLineFeed(bytes(buf[:16]))
        read_into(self, unreader, buf)

    refusing_read_into.bare_lf_refused = True  # type: ignore[attr-defined]
    ChunkedReader.read_into = refusing_read_into


def post_worker_init(worker: Any) -> None:
    import threading
    import time

    from gunicorn import util

    from bridge.web.ws import SESSIONS

    # A request gunicorn cannot parse (a header over its limits, a broken request line, a
    # bad Content-Length) is answered by gunicorn's worker, which looks `util.write_error`
    # up at each call: checked against gunicorn 27, pinned in requirements.txt, and
    # tests/test_http_parse_errors.py fails if it moves.
    util.write_error = _write_json_error
    send_head_with_body()
    refuse_bare_lf_chunk_lines()

    def close_sockets_on_shutdown() -> None:
        # gunicorn waits up to graceful_timeout for open requests, and a socket is one that
        # never ends by itself: tell clients (4011) so they reconnect elsewhere with `since`.
        while worker.alive:
            time.sleep(0.5)
        SESSIONS.close_all()

    threading.Thread(target=close_sockets_on_shutdown, daemon=True).start()


def child_exit(server: Any, worker: Any) -> None:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    if _embedded is not None:
        _embedded.stop()
