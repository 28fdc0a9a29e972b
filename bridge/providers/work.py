"""What a verification signed, recorded for the signature debugger (bridge/debugger.py).

Providers call `show_work` on every verification; it records only inside
`recording_work()`, which the debugger opens when it re-runs a rejected delivery, so the
live path costs one context-variable read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from bridge.providers.base import Secret


@dataclass(frozen=True)
class Work:
    """What one verification signed, for the signature debugger: the message, each live
    secret's signature of it (as the sender writes it), and the signatures received."""

    message: bytes
    expected: Mapping[str, str]
    received: tuple[str, ...]


# Set only while the debugger re-runs a rejected verification: the live path records nothing.
_WORK: ContextVar[list[Work] | None] = ContextVar("bridge_verification_work", default=None)


@contextmanager
def recording_work() -> Iterator[list[Work]]:
    """Collect the `Work` of the verifications run inside (the debugger's `with`)."""
    shown: list[Work] = []
    token = _WORK.set(shown)
    try:
        yield shown
    finally:
        _WORK.reset(token)


def show_work(
    message: bytes,
    received: Iterable[str],
    secrets: Sequence[Secret],
    expected_for: Callable[[Secret], str] | None,
) -> None:
    """Record a verification's work when the debugger asks; `expected_for` is None where a
    signature cannot be recomputed (a public key verifies, only the sender can sign)."""
    shown = _WORK.get()
    if shown is not None:
        expected = {s.id: expected_for(s) for s in secrets} if expected_for else {}
        shown.append(Work(message, expected, tuple(received)))
