"""Real-browser fixtures (a pytest plugin, see conftest.py): Debian's Chromium driven by
Playwright, shared by the dashboard's tests and those of /client.js."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WAIT = 15_000  # ms: Playwright's expect/wait timeouts
RECONNECT_WAIT = 30_000  # ms: backoff tops out at 10 s, so two missed tries fit

expect.set_options(timeout=WAIT)

# Skipped on a developer machine without Chromium; in CI (CI=true) a missing browser fails.
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium: apt-get install chromium (.ci/run does)",
)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright: Playwright) -> Iterator[Browser]:
    """A browser per test: closing it drops its idle keep-alive sockets at once, so a bridge
    stopped after the test need not wait out its graceful timeout for them."""
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (own sessionStorage); fails the test on any uncaught JS error."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.set_default_timeout(WAIT)
    yield opened
    context.close()
    assert not errors, errors
