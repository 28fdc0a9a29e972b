"""Group commit: concurrent appends in one process share Redis round trips.

Under gevent, a worker holds many webhook requests at once, and each used to wait for its own
Redis round trip. `GroupCommit.submit()` queues the caller's item instead; one caller at a
time (the leader) sends every item that is queued as one batch (`flush`, a pipeline), and the
others wait for that batch's answer. The semantics, which are what a sender relies on:

- No item is held for company: a lone item is sent at once. An item that arrives while a
  batch is in flight waits for that round trip only, then goes out with everything else
  that arrived meanwhile. So the batches grow with the load, and an idle bridge adds
  nothing to the ack time; there is no timer.
- Each caller returns only once its own item's answer came back, and gets exactly that
  answer: `flush` gives one outcome per item, in order (a result, or an exception for that
  item alone, e.g. one full Cluster node). An exception out of `flush` itself (the one
  server gone mid-batch) reaches every caller of that batch, each as its own exception.
- Items are sent in the order they were submitted, so the order between appends is kept and
  a duplicate in the same batch as its original is still found (the store runs them one
  after the other).
- A batch holds at most `max_items` items and, beyond its first, `max_bytes` bytes (`size`),
  so one 25 MiB webhook never makes a pipeline of hundreds of them in memory.

When the leader's batch is answered it hands the lead to the first caller still waiting and
returns to its own request: each request's greenlet does at most one flush beside its own
work, and nobody waits on a dedicated flusher that could die. No lock is held across I/O, so
this is as correct with threads as with greenlets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from bridge.errors import StoreUnavailable

T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T, R]):
    __slots__ = ("failure", "item", "lead", "ready", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        self.result: R | None = None
        self.failure: BaseException | None = None
        self.lead = False  # woken to send the next batch, not with an answer
        self.ready = threading.Event()


class GroupCommit(Generic[T, R]):
    def __init__(
        self,
        flush: Callable[[list[T]], Sequence[R | BaseException]],
        *,
        max_items: int,
        max_bytes: int,
        size: Callable[[T], int],
    ) -> None:
        self._flush = flush
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._size = size
        self._lock = threading.Lock()
        self._queue: list[_Slot[T, R]] = []
        self._leading = False  # a batch is in flight; when True, queued slots wait for it

    def submit(self, item: T) -> R:
        """Send `item` in the next batch and return its own outcome (or raise its error)."""
        slot: _Slot[T, R] = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            slot.lead = not self._leading
            self._leading = True
        if not slot.lead:
            try:
                slot.ready.wait()
            except BaseException:
                self._abandon(slot)
                raise
            slot.ready.clear()
        if slot.lead:
            slot.lead = False
            self._send()  # takes this slot first: it heads the queue when it is handed the lead
        if slot.failure is not None:
            raise slot.failure
        return slot.result  # type: ignore[return-value]

    def _abandon(self, slot: _Slot[T, R]) -> None:
        """A waiting caller was interrupted (its greenlet killed): it must not keep the
        others waiting for a lead it will never take, nor have its item sent unasked."""
        with self._lock:
            if slot in self._queue:
                self._queue.remove(slot)
            handed = slot.lead
        if handed:
            slot.lead = False
            self._hand_on([])

    def _take(self) -> list[_Slot[T, R]]:
        with self._lock:
            count, total = 0, 0
            for slot in self._queue[: self.max_items]:
                total += self._size(slot.item)
                if count and total > self.max_bytes:
                    break
                count += 1
            batch = self._queue[:count]
            del self._queue[:count]
        return batch

    def _send(self) -> None:
        batch = self._take()
        try:
            outcomes = list(self._flush([slot.item for slot in batch]))
            if len(outcomes) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} got {len(outcomes)} outcomes")
            for slot, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    slot.failure = outcome
                else:
                    slot.result = outcome
        except BaseException as exc:
            # Each caller raises its own exception object (one raised in many greenlets at
            # once would carry one traceback mixed from all); the cause names what happened.
            for slot in batch:
                slot.failure = _for_one(exc)
            raise
        finally:
            self._hand_on(batch)

    def _hand_on(self, batch: list[_Slot[T, R]]) -> None:
        with self._lock:
            following = self._queue[0] if self._queue else None
            if following is None:
                self._leading = False
            else:
                following.lead = True
        for slot in batch:
            slot.ready.set()
        if following is not None:
            following.ready.set()


def _for_one(exc: BaseException) -> BaseException:
    if isinstance(exc, StoreUnavailable):
        return type(exc)(exc.operation, exc.cause)
    failure = StoreUnavailable("append batch", exc)
    failure.__cause__ = exc
    return failure
