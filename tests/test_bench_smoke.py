"""The benchmark keeps working: a tiny run of every scenario (figures are never asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.config import PROTOTYPE, TARGETS

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("ingest", "latency", "fanout", "storm", "instances", "idle", "peer")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--no-doc", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    results: dict[str, Any] = json.loads(out.read_text())
    return results


pytestmark = [pytest.mark.gunicorn, pytest.mark.timeout(300)]


def test_smoke_run_writes_every_scenario(smoke: dict[str, Any]) -> None:
    """`python -m bench.run --smoke` completes and its JSON holds every scenario of issue 6."""
    assert set(SCENARIOS) <= set(smoke["scenarios"])
    assert smoke["meta"]["smoke"] is True


def test_smoke_ingest_reports_server_cpu_per_webhook_against_the_baseline(
    smoke: dict[str, Any], tmp_path: Path
) -> None:
    """The ingest scenario gives each server's CPU per acknowledged webhook and their
    multiple, and the rendered page states that multiple."""
    ingest = smoke["scenarios"]["ingest"]
    cpu = ingest["server_ms_per_webhook"]
    assert cpu["bridge"] > 0
    assert cpu["baseline"] > 0
    assert cpu["baseline-no-log"] > 0
    assert ingest["cpu_multiple"] == cpu["bridge"] / cpu["baseline"]
    no_log = ingest["cpu_multiples"]["baseline-no-log"]
    assert no_log == cpu["bridge"] / cpu["baseline-no-log"]
    doc = tmp_path / "performance.md"
    report.write(smoke, doc, TARGETS, PROTOTYPE)
    assert (
        f"**{ingest['cpu_multiple']:.2f}x**; {no_log:.2f}x against the baseline without"
        " access log, the figure"
    ) in doc.read_text()


def test_smoke_ingest_takes_the_ratio_against_both_baselines(smoke: dict[str, Any]) -> None:
    """The ingest scenario ran rounds on the baseline with the bridge's access log and on the
    one without it, and gives the bridge's acked rate as a ratio to each."""
    ingest = smoke["scenarios"]["ingest"]
    assert list(ingest["rounds"]) == ["baseline", "baseline-no-log", "bridge"]
    rate = ingest["per_s"]
    assert ingest["ratios"] == {
        "baseline": rate["bridge"] / rate["baseline"],
        "baseline-no-log": rate["bridge"] / rate["baseline-no-log"],
    }
    assert ingest["ratio"] == ingest["ratios"]["baseline"]


def test_smoke_run_loses_no_event(smoke: dict[str, Any]) -> None:
    """No scenario of the smoke run lost an event, on the bridge or on the peer."""
    scenarios = smoke["scenarios"]
    for name in ("latency", "fanout", "peer"):
        assert scenarios[name]["runs"], name
        assert scenarios[name]["lost"] == 0, name
        assert all(run["lost"] == 0 for run in scenarios[name]["runs"]), name


def test_smoke_run_closes_idle_sockets_on_shutdown(smoke: dict[str, Any]) -> None:
    """The idle scenario opened its sockets and every one was closed when the bridge stopped."""
    idle = smoke["scenarios"]["idle"]
    assert idle["sockets"] > 0
    assert idle["sockets_left_open"] == 0


def test_smoke_storm_brings_every_socket_back_with_no_gap_and_no_duplicate(
    smoke: dict[str, Any],
) -> None:
    """The reconnect storm's sockets all came back with `since`, and each got every acked
    webhook exactly once across the drop (checked by event number per client)."""
    storm = smoke["scenarios"]["storm"]
    assert storm["sockets"] > 0
    assert storm["back"] == storm["sockets"]
    assert storm["webhooks_acked"] > 0
    assert storm["complete"] is True
    assert storm["missing"] == 0
    assert storm["duplicates"] == 0


def test_smoke_instances_deliver_across_instances_and_resume_after_a_kill(
    smoke: dict[str, Any],
) -> None:
    """On 3 instances over a Cluster (and on one instance over one Redis) every acked webhook
    reached every follower once, in cursor order; after one instance was SIGKILLed its sockets
    resumed on another with nothing missing or repeated."""
    instances = smoke["scenarios"]["instances"]
    for setup in ("single", "cluster"):
        run = instances[setup]
        assert run["events_acked"] > 0, setup
        assert run["deliveries_received"] == run["deliveries_expected"] > 0, setup
        assert (run["lost"], run["duplicates"], run["out_of_order"]) == (0, 0, 0), setup
    assert instances["cluster"]["instances"] == 3
    kill = instances["failover"]
    assert kill["sockets_moved"] > 0
    assert kill["back"] == kill["sockets_moved"]
    assert kill["events_acked"] > 0
    assert kill["complete"] is True
    assert (kill["missing"], kill["duplicates"], kill["out_of_order"]) == (0, 0, 0)


def test_smoke_cross_check_runs_the_node_client_beside_picows(smoke: dict[str, Any]) -> None:
    """The cross-check ran latency (bridge and peer) and fan-out again with the Node client,
    stored as `node_client` in each scenario, and it lost no event either."""
    scenarios = smoke["scenarios"]
    assert smoke["meta"]["cross_check_client"]["ws"]
    for name in ("latency", "fanout", "peer"):
        cross = scenarios[name]["node_client"]
        assert cross["runs"], name
        assert cross["lost"] == 0, name
        assert all(run["lost"] == 0 for run in cross["runs"]), name


def test_smoke_results_render_the_cross_check_table(smoke: dict[str, Any], tmp_path: Path) -> None:
    """The smoke run's results render a markdown whose cross-check section has a picows and
    a Node ws row for each configuration the Node client ran, and the estimate beneath."""
    doc = tmp_path / "performance.md"
    report.write(smoke, doc, TARGETS, PROTOTYPE)
    text = doc.read_text()
    assert "## Cross-check: the same scenarios with a second client" in text
    section = text.split("## Cross-check", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    for config in ("latency 20 x 20/s | bridge", "latency 20 x 20/s | peer", "fan-out to 20 |"):
        clients = [row.split(" | ")[2] for row in rows if config in row]
        assert clients == ["picows", "Node ws"], config
    assert "**Why the figures differ (an estimate).**" in section
    assert doc.with_suffix(".png").stat().st_size > 0


def test_results_without_a_cross_check_render_without_its_section(
    smoke: dict[str, Any], tmp_path: Path
) -> None:
    """Results of a run without the cross-check (as those of a `--no-cross-check` run or
    from before it existed) still render, with every other section and no cross-check."""
    older = json.loads(json.dumps(smoke))
    del older["meta"]["cross_check_client"]
    for name in ("latency", "fanout", "peer"):
        del older["scenarios"][name]["node_client"]
    doc = tmp_path / "performance.md"
    report.write(older, doc, TARGETS, PROTOTYPE)
    text = doc.read_text()
    assert "## 3. Fan-out: one event to N subscribers" in text
    assert "Cross-check" not in text
