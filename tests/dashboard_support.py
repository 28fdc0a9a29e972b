"""What the dashboard's browser tests (tests/test_dashboard_*.py) share: opening the dashboard
signed in, delivering a signed webhook, the "New endpoint" form, an endpoint's event rows, and
the `fresh_bridge` fixture (a pytest plugin, registered in conftest.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from bridge.embedded import EmbeddedRedis
from tests.support import BridgeProcess


def open_dashboard(page: Page, bridge: BridgeProcess) -> None:
    page.goto(f"{bridge.url}/#token={bridge.token}")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")


def post(
    bridge: BridgeProcess, endpoint: str, body: Any, event_type: str = "push"
) -> tuple[str, str]:
    """Deliver one signed GitHub webhook; return (cursor, provider event id)."""
    event_id = uuid.uuid4().hex
    answer = bridge.post_signed(
        endpoint, json.dumps(body).encode(), event_id=event_id, event_type=event_type
    )
    assert answer.status_code == 202, answer.text
    return answer.json()["id"], event_id


def open_create_form(page: Page) -> None:
    """Unfold "New endpoint" (it starts unfolded when there is no endpoint yet)."""
    box = page.locator("#create-box")
    if box.get_attribute("open") is None:
        box.locator("summary").click()
    expect(page.get_by_label("Endpoint id", exact=True)).to_be_visible()


def rows(page: Page, endpoint: str) -> Any:
    return page.locator(f'button.row[data-endpoint="{endpoint}"]')


@pytest.fixture
def fresh_bridge(own_redis: EmbeddedRedis, tmp_path: Path) -> Iterator[BridgeProcess]:
    """A bridge on a Redis of the test's own: no endpoints but the ones the test makes."""
    process = BridgeProcess(tmp_path / "fresh-bridge", own_redis.url).start()
    yield process
    process.stop()
