"""Exponential backoff with jitter: the one policy shape behind every reconnect and retry
loop (the hub's Redis subscription, the CLI's socket feed, forwarding and its fetch).

Each wait is the current delay times a random factor between `least` and 1, and the delay
then doubles up to `cap`. `least=0` is full jitter (processes that lost Redis together must
not come back in lock-step); `least=1` is none, for a loop that says how long it waits.
"""

from __future__ import annotations

import random

# Our own generator: drawing jitter from the module-level one would move the process-wide
# random state under whoever else relies on it (seeded simulations, hypothesis).
_JITTER = random.Random()  # noqa: S311 - jitter, not crypto


class Backoff:
    def __init__(self, first: float, cap: float, *, least: float = 1.0) -> None:
        if not 0 < first <= cap or not 0 <= least <= 1:
            raise ValueError("expected 0 < first <= cap and 0 <= least <= 1")
        self.first = first
        self.cap = cap
        self.least = least
        self.delay = first

    def next(self) -> float:
        """The next wait, in seconds; the delay after it doubles, up to the cap."""
        wait = self.delay if self.least == 1 else self.delay * _JITTER.uniform(self.least, 1)
        self.delay = min(self.delay * 2, self.cap)
        return wait

    def reset(self) -> None:
        """After a success: the next wait is the first again."""
        self.delay = self.first
