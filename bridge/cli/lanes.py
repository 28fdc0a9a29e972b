"""The threads of `bridge listen`: one lane per endpoint, so an endpoint whose app is down (its
event retried forever) never holds up another endpoint's events.

    feed (one WebSocket, its own thread) --offer--> lane "gh":  bounded queue -> thread -> handle
                                         \\-offer--> lane "pay": bounded queue -> thread -> handle

Within a lane, events are handled one at a time and in order, each to the end (forwarded,
answered, recorded) before the next. A full lane refuses what it is offered, and the feed
pauses that endpoint's subscription until the lane has room (bridge/cli/feed.py), so memory
stays bounded without the reader ever waiting.

Every thread is a daemon run by a `Crew`: the first exception of any of them (a checkpoint
that cannot be written, a refused token, a closed stdout) is raised in the main thread, which
ends the command as if it had been raised there; Ctrl-C reaches the main thread only. `Output`
writes whole lines, one thread at a time, and falls silent when the process ends, so no thread
is caught mid-write.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import NoReturn

from bridge.cli import shared
from bridge.cli.feed import Event

# Default for `--queue`: events one endpoint may have waiting in memory for its app.
QUEUE = 1000
# How long a closing Output waits for a thread that is writing (a pipe nobody reads).
_CLOSE_WAIT = 5.0
# How long a feed that stopped waits for the lanes to handle what it had already taken.
DRAIN_WAIT = 5.0


class Crew:
    """Daemon threads; `wait()` raises the first exception any of them raised."""

    def __init__(self) -> None:
        self._failures: queue.SimpleQueue[BaseException] = queue.SimpleQueue()

    def start(self, name: str, target: Callable[[], object]) -> None:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # handed to the main thread, which raises it
                self._failures.put(exc)

        threading.Thread(target=run, name=name, daemon=True).start()

    def wait(self) -> NoReturn:
        raise self._failures.get()


class Output:
    """stdout (events) and stderr (notices) shared by the threads: whole lines, in turn."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        with self._lock:
            print(text, flush=True)

    def notice(self, text: str) -> None:
        with self._lock:
            shared.notice(text)

    def close(self) -> None:
        """Silence every thread for good (the process is ending): whoever writes next waits."""
        self._lock.acquire(timeout=_CLOSE_WAIT)


class Lane:
    """One endpoint's events, handled in order by a thread of its own."""

    def __init__(
        self, channel: str, handle: Callable[[str, Event], None], limit: int, crew: Crew
    ) -> None:
        self.channel = channel
        self.handle = handle
        self.limit = limit
        self._waiting: deque[Event] = deque()
        self._busy = False  # handling an event taken from `_waiting`
        self._changed = threading.Condition()
        crew.start(f"lane {channel}", self._run)

    def offer(self, event: Event) -> bool:
        """Queue `event`, or refuse it when `limit` events are already waiting."""
        with self._changed:
            if len(self._waiting) >= self.limit:
                return False
            self._waiting.append(event)
            self._changed.notify()
            return True

    def ready(self) -> bool:
        """Room for half the limit again: the app keeps busy while the rest is fetched."""
        with self._changed:
            return len(self._waiting) <= self.limit // 2

    def wait_idle(self, deadline: float) -> None:
        """Until every event offered has been handled, or `deadline` (time.monotonic())."""
        with self._changed:
            while self._waiting or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)

    def _run(self) -> NoReturn:
        while True:
            with self._changed:
                while not self._waiting:
                    self._changed.wait()
                event = self._waiting.popleft()
                self._busy = True
            try:
                self.handle(self.channel, event)
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()


class Lanes:
    """A lane per channel; the feed's sink (bridge/cli/feed.py `Sink`)."""

    def __init__(
        self,
        channels: Iterable[str],
        handle: Callable[[str, Event], None],
        limit: int,
        crew: Crew,
    ) -> None:
        self._lanes = {channel: Lane(channel, handle, limit, crew) for channel in channels}

    def offer(self, channel: str, event: Event) -> bool:
        return self._lanes[channel].offer(event)

    def ready(self, channel: str) -> bool:
        return self._lanes[channel].ready()

    def drain(self, timeout: float = DRAIN_WAIT) -> None:
        """Wait for every lane to handle what it holds, for `timeout` seconds at most (an app
        that is down keeps its event retried, and must not keep the command from ending)."""
        deadline = time.monotonic() + timeout
        for lane in self._lanes.values():
            lane.wait_idle(deadline)
