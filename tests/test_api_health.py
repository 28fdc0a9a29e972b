"""The health routes and the metrics page
(Flask test client, real Redis)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.api_support import created
from tests.ingest_support import SECRET, deliver
from tests.support import ADMIN_TOKEN, MakeApp


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


METRICS_TOKEN = "metrics-token-for-tests-0123"


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", f"Bearer {METRICS_TOKEN}x", f"Basic {METRICS_TOKEN}",
     "Bearer métrics-token-for-tests-0123", f"Bearer {METRICS_TOKEN[:-1]}"],
)  # fmt: skip
def test_a_metrics_token_keeps_metrics_from_anyone_without_it(
    make_app: MakeApp, authorization: str | None
) -> None:
    """With BRIDGE_METRICS_TOKEN set, /metrics without that token (or the admin token) is a
    JSON 401 asking for a bearer token, and shows no sample."""
    client = make_app(metrics_token=METRICS_TOKEN).test_client()
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 401
    assert answer.get_json()["error"] == "unauthorized"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
    assert "bridge_" not in answer.get_data(as_text=True)


@pytest.mark.parametrize("token", [METRICS_TOKEN, ADMIN_TOKEN])
def test_the_metrics_or_admin_token_reads_guarded_metrics(make_app: MakeApp, token: str) -> None:
    """With BRIDGE_METRICS_TOKEN set, the metrics token or the admin token reads /metrics."""
    client = make_app(metrics_token=METRICS_TOKEN).test_client()
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert "# TYPE bridge_webhooks_total counter" in answer.get_data(as_text=True)
