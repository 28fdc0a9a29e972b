"""The health routes and the metrics page
(Flask test client, real Redis)."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.api_support import created
from tests.ingest_support import SECRET, deliver


def test_healthz_and_readyz_answer_200(client: FlaskClient) -> None:
    """/healthz and /readyz answer 200 JSON while the process runs and Redis answers."""
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready"}


def test_metrics_count_a_delivery(client: FlaskClient, auth: dict[str, str], uid: str) -> None:
    """/metrics is Prometheus text and counts an accepted delivery under bridge_webhooks_total."""
    sample = f'bridge_webhooks_total{{endpoint="{uid}",outcome="accepted"}} 1.0'
    created(client, auth, uid, secret=SECRET)
    assert sample not in client.get("/metrics").get_data(as_text=True)
    assert deliver(client, uid, b'{"n": 1}').status_code == 202
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    text = answer.get_data(as_text=True)
    assert "# TYPE bridge_webhooks_total counter" in text
    assert sample in text.splitlines()
