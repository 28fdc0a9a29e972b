"""bridge/backoff.py: the one backoff policy shape of the hub, the feed and forwarding."""

from __future__ import annotations

import pytest

from bridge.backoff import Backoff


def test_without_jitter_the_waits_double_up_to_the_cap_and_reset_to_the_first() -> None:
    """least=1: 0.5, 1, 2, 4, 8, then 10 (the cap) for good; after reset() 0.5 again."""
    backoff = Backoff(0.5, 10.0)
    assert [backoff.next() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    backoff.reset()
    assert backoff.next() == 0.5


@pytest.mark.parametrize("least", [0.0, 0.8])
def test_a_jittered_wait_lies_between_least_and_all_of_the_delay(least: float) -> None:
    """Each of 200 jittered waits lies in [least x delay, delay], and they are not all equal."""
    waits = []
    for _ in range(200):
        backoff = Backoff(0.05, 5.0, least=least)
        backoff.next()
        waits.append(backoff.next())  # the second wait: delay 0.1
    assert all(least * 0.1 <= wait <= 0.1 for wait in waits)
    assert len(set(waits)) > 1


@pytest.mark.parametrize(("first", "cap", "least"), [(0, 1, 1), (2, 1, 1), (1, 2, 1.5)])
def test_a_policy_that_cannot_back_off_is_refused(first: float, cap: float, least: float) -> None:
    """A first wait of 0, a cap below the first wait, or a jitter floor above 1 is a ValueError."""
    with pytest.raises(ValueError, match="first <= cap"):
        Backoff(first, cap, least=least)
