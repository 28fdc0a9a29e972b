"""One WebSocket session: the protocol of docs/protocol.md, from auth to close.

`run()`, in the request greenlet, reads client frames and answers them. Everything about
the socket below the protocol (its queue, framing, writer, reader and close handshake) is
the `Connection`'s (bridge/wire/); this module decides only what to say. Everything the
socket sends, answers included, is offered to it in order: `subscribed`, then the backlog,
then live events.
"""

from __future__ import annotations

import time
from typing import Any

from bridge import closecodes, cursor
from bridge.auth import Principal
from bridge.errors import NotFound, SocketClosed, StoreUnavailable
from bridge.ratelimit import InboundLimit, TokenBucket, Verdict
from bridge.services import Services
from bridge.store import StreamState
from bridge.subscription import Following, Holdings, Subscription
from bridge.web import commands
from bridge.web.commands import Auth, BadFrame, Follow, Ping, Ref, Subscribe, Unsubscribe
from bridge.wire.connection import Connection
from bridge.wire.frames import json_frame

MAX_SUBSCRIPTIONS = 100

# The close codes this module sends, from the one catalogue (bridge/closecodes.py).
UNAUTHORIZED = closecodes.UNAUTHORIZED.code
SHUTTING_DOWN = closecodes.SHUTTING_DOWN.code
# Standard 1008; here, a client that kept on flooding past its rate limit.
POLICY_VIOLATION = closecodes.POLICY_VIOLATION.code


class Session:
    def __init__(self, ws: Any, found: Services, principal: Principal | None) -> None:
        self.services = found
        self.settings = settings = found.settings
        self.principal = principal
        self.limit = InboundLimit(TokenBucket(settings.ws_rate, settings.ws_burst))
        self.socket = Connection(
            ws,
            queue_frames=settings.ws_queue_size,
            queue_bytes=settings.ws_queue_bytes,
            queue_age=settings.ws_queue_age,
            send_buffer=settings.ws_send_buffer,
            ping_interval=settings.ws_ping_interval,
            send_timeout=settings.ws_send_timeout,
            gate=self,  # its pings, pongs and fragments count like messages
        )
        self.subs: dict[str, Subscription] = {}
        self.follows: dict[str, Following] = {}  # glob channels (admin only)
        self.holdings = Holdings()  # which of those holds each channel: one event, one frame
        self._owed: tuple[Verdict, ...] = ()  # what verdicts on the reader's frames owe

    # -- lifecycle -----------------------------------------------------------------------

    def run(self) -> None:
        try:
            if self.principal is None and not self._authenticate():
                return
            if self.principal is not None and self.principal.admin:
                # Only an admin may follow a glob, whose resume map of every endpoint it
                # follows is one frame: past ~1,700 endpoints more than the 64 KiB default,
                # and a 1009 is never reconnected. The admin is no stranger to hold off.
                self.socket.allow_messages_of(commands.MAX_SUBSCRIBE_BYTES)
            while self.socket.closed is None:
                raw = self.socket.receive()
                if raw is None:
                    break
                if self._admitted():
                    self._handle(raw)
        except SocketClosed:
            pass
        finally:
            for sub in self.subs.values():
                self.services.hub.unsubscribe(sub)
            for following in self.follows.values():
                self.services.hub.unfollow(following)
            self.socket.finish()

    def close(self, code: int, reason: str) -> None:
        """Close from outside (server shutdown): queued frames go first, then the close."""
        self.socket.close(code, reason)

    def expired(self, wall_clock: float) -> bool:
        """A subscriber token is good until its expiry, for sockets opened with it too."""
        expires_at = self.principal.expires_at if self.principal else None
        return expires_at is not None and wall_clock >= expires_at

    # -- client frames -------------------------------------------------------------------

    def _admitted(self) -> bool:
        """Whether the rate limit lets this client message through (else it is dropped)."""
        verdict = self.limit.check()
        self._tell(verdict)
        return verdict is Verdict.ACCEPT

    def admit(self) -> bool:
        """reader.Gate: whether the rate limit lets this ping, pong or non-final fragment
        through; what the verdict owes the client waits for `settle`."""
        verdict = self.limit.check()
        if verdict is Verdict.WARN or verdict is Verdict.CLOSE:
            self._owed += (verdict,)
        return verdict is Verdict.ACCEPT

    def settle(self) -> None:
        """reader.Gate: the frames of one read are handled (and their pongs sent)."""
        owed, self._owed = self._owed, ()
        for verdict in owed:
            self._tell(verdict)

    def _tell(self, verdict: Verdict) -> None:
        if verdict is Verdict.WARN:
            rate, burst = self.settings.ws_rate, self.settings.ws_burst
            self._error("rate_limited", f"over {rate:g} frames/s (bursts of {burst}): slow down")
        elif verdict is Verdict.CLOSE:
            self.socket.close(POLICY_VIOLATION, "rate limit exceeded")

    def _authenticate(self) -> bool:
        deadline = time.monotonic() + self.settings.ws_auth_timeout
        while (left := deadline - time.monotonic()) > 0 and self.socket.closed is None:
            raw = self.socket.receive(timeout=left)
            if raw is None:
                break
            if not self._admitted():
                continue
            try:
                message, ref = commands.decode(raw)
                if message.get("type") != "auth":
                    raise BadFrame("unauthorized", 'send {"type": "auth", "token": ...} first', ref)
                auth, ref = commands.command(message, ref)
            except BadFrame as bad:
                self._error(bad.code, bad.message, bad.ref)
                continue
            assert isinstance(auth, Auth)
            principal = self.services.authority.principal(auth.token) if auth.token else None
            if principal is None:
                self._error("unauthorized", "token is wrong or expired", ref)
                self.socket.close(UNAUTHORIZED, "unauthorized")
                return False
            self.principal = principal
            self._send({"type": "authed"}, ref)
            return True
        if self.socket.closed is None:
            self._error("unauthorized", "no auth frame in time")
            self.socket.close(UNAUTHORIZED, "auth timeout")
        return False

    def _handle(self, raw: str | bytes) -> None:
        try:
            command, ref = commands.parse(raw)
        except BadFrame as bad:
            self._error(bad.code, bad.message, bad.ref)
            return
        if isinstance(command, Subscribe):
            self._subscribe(command, ref)
        elif isinstance(command, Follow):
            self._follow(command, ref)
        elif isinstance(command, Unsubscribe):
            self._unsubscribe(command, ref)
        elif isinstance(command, Ping):
            self._send({"type": "pong"}, ref)
        else:
            self._error("bad_request", "already authenticated", ref)

    def _subscribe(self, command: Subscribe, ref: Ref) -> None:
        assert self.principal is not None
        channel, since = command.channel, command.since
        if not self.principal.may_read(channel):
            self._error("forbidden", f"this token may not read {channel!r}", ref)
            return
        if not self._room_for(channel, ref):
            return
        try:
            endpoint = self.services.endpoints.get(channel)
        except NotFound:
            self._error("unknown_channel", f"no endpoint {channel!r}", ref)
            return
        except StoreUnavailable:
            self._error("unavailable", "storage is unreachable; retry", ref, channel=channel)
            return
        if not self.principal.minted_for(channel, endpoint.generation):
            self._error(
                "forbidden",
                f"this token was minted for an endpoint {channel!r} since deleted",
                ref,
            )
            return
        if command.rejections and not self.principal.admin:
            self._error("forbidden", "rejections are for the admin token", ref)
            return
        glob = self.holdings.claim(channel, channel)
        if glob is not None:  # adopted by a glob since _room_for looked
            self._held(channel, glob, ref)
            return
        sub = Subscription(
            channel, self.socket, command.pattern, command.on_slow, command.rejections,
            generation=endpoint.generation, holdings=self.holdings,
        )  # fmt: skip
        try:
            self.services.hub.subscribe(
                sub,
                since,
                lambda state: self._announce(channel, since, state, ref, command.ignored),
            )
        except StoreUnavailable:
            self.holdings.release(channel, channel)
            self._error("unavailable", "storage is unreachable; retry", ref, channel=channel)
            return
        self.subs[channel] = sub

    def _follow(self, command: Follow, ref: Ref) -> None:
        """A glob channel: every matching endpoint, each from its own cursor, and those
        created later; one `subscribed` per channel before its backlog, then one for the glob."""
        assert self.principal is not None
        glob = command.channels
        if not self.principal.admin:
            self._error("forbidden", "a glob channel needs the admin token", ref)
            return
        if not self._room_for(glob, ref):
            return
        following = Following(
            glob, self.socket, command.pattern, command.on_slow, command.rejections, self.holdings
        )
        try:
            channels = self.services.endpoints.generations()
            self.services.hub.follow(
                following,
                channels,
                command.since,
                lambda channel, state: self._announce(
                    channel, command.since.get(channel), state, None, glob=glob
                ),
            )
        except StoreUnavailable:
            self._error("unavailable", "storage is unreachable; retry", ref, channel=glob)
            return
        self.follows[glob] = following
        frame = {"type": "subscribed", "channel": glob, "channels": sorted(following.children)}
        if command.ignored:
            frame["ignored"] = list(command.ignored)
        self._send(frame, ref)

    def _room_for(self, channel: str, ref: Ref) -> bool:
        self._forget_ended()
        if channel in self.subs or channel in self.follows:
            self._held(channel, channel, ref)
            return False
        holder = self.holdings.holder(channel)
        if holder is not None:  # a glob: said before the limit, which would not be the reason
            self._held(channel, holder, ref)
            return False
        if len(self.subs) + len(self.follows) >= MAX_SUBSCRIPTIONS:
            self._error("too_many_subscriptions", f"at most {MAX_SUBSCRIPTIONS}", ref)
            return False
        return True

    def _announce(
        self,
        channel: str,
        since: cursor.Cursor | None,
        state: StreamState,
        ref: Ref,
        ignored: tuple[str, ...] = (),
        *,
        glob: str | None = None,
    ) -> None:
        frame: dict[str, Any] = {
            "type": "subscribed",
            "channel": channel,
            "cursor": cursor.text(state.newest),
            "recovered": True if since is None else state.recovers(since),
        }
        if glob is not None:
            frame["glob"] = glob
        if ignored:
            frame["ignored"] = list(ignored)
        self._send(frame, ref)

    def _forget_ended(self) -> None:
        """Drop the exact subscriptions the hub ended (their endpoint was deleted): the client
        was told (`unsubscribed`, reason `deleted`), and may subscribe again."""
        for channel, sub in list(self.subs.items()):
            if sub.ended:  # its hold on the channel went with it (Subscription.end)
                del self.subs[channel]

    def _unsubscribe(self, command: Unsubscribe, ref: Ref) -> None:
        self._forget_ended()
        channel = command.channel
        if channel in self.follows:
            self.services.hub.unfollow(self.follows.pop(channel))
        else:
            sub = self.subs.pop(channel, None)
            if sub is None:
                glob = self.holdings.holder(channel)
                if glob is not None:  # as a subscribe of it would say
                    self._error(
                        "not_subscribed",
                        f"not subscribed to {channel!r} itself but through {glob!r}: "
                        f"unsubscribe {glob!r} to stop it",
                        ref,
                        channel=channel,
                        held_by=glob,
                    )
                    return
                self._error("not_subscribed", f"not subscribed to {channel!r}", ref)
                return
            self.services.hub.unsubscribe(sub)
            self.holdings.release(sub.channel, sub.channel)
        self._send({"type": "unsubscribed", "channel": channel}, ref)

    # -- answers -------------------------------------------------------------------------

    def _send(self, frame: dict[str, Any], ref: Ref = None) -> None:
        if ref is not None:
            frame["ref"] = ref
        self.socket.offer(json_frame(frame))

    def _held(self, channel: str, holder: str, ref: Ref) -> None:
        through = "" if holder == channel else f" through {holder!r}"
        self._error(
            "already_subscribed",
            f"already subscribed to {channel!r}{through}",
            ref,
            channel=channel,
            held_by=holder,
        )

    def _error(self, code: str, message: str, ref: Ref = None, **detail: str) -> None:
        self._send({"type": "error", "code": code, "message": message, **detail}, ref)
