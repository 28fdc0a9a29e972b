"""The A/B tools (bench/ab_ingest.py, bench/big_body.py) on this tree, tiny."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench import ab_ingest, big_body
from bench.loopback import request
from bench.procs import ROOT
from bench.servers import Baseline

pytestmark = pytest.mark.gunicorn


def test_ab_ingest_reports_the_baseline_and_each_tree_with_every_webhook_acknowledged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One short round per server prints its CPU per webhook and only 202s, then the medians
    with the tree's ratio to the baseline."""
    assert ab_ingest.main([str(ROOT), "--rounds", "1", "--duration", "0.3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rounds = [line for line in lines if line.startswith("round 1 ")]
    assert [line.split(":")[0] for line in rounds] == ["round 1 baseline", f"round 1 {ROOT}"]
    for line in rounds:
        assert "worker_ms" in line
        assert "statuses {'202': " in line
        assert line.count("': ") == 1  # no status but 202
    assert lines[-1].startswith(f"{ROOT}: ratio ")


def test_ab_ingest_refuses_a_tree_without_a_bridge_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path with no bridge/ to serve is a usage error naming it, before any server starts."""
    with pytest.raises(SystemExit) as stopped:
        ab_ingest.main([str(tmp_path)])
    assert stopped.value.code == 2
    assert f"{tmp_path} has no bridge/ package to serve" in capsys.readouterr().err


def test_big_body_reports_the_wait_with_and_without_a_large_webhook(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One round with a small body stores it (202) and prints both waits and their ratio."""
    assert big_body.main([str(ROOT), "--mib", "0.5", "--rounds", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("body: 0.")
    assert lines[0].endswith(" MiB of JSON (objects)")
    assert lines[1].startswith(f"round 1 {ROOT}: status 202, webhook ")
    assert "longest /healthz wait" in lines[1]
    assert lines[-1].startswith(f"{ROOT}: longest /healthz wait ")
    assert lines[-1].endswith("x (medians)")


def test_big_body_sends_arrays_nested_100_deep_with_shape_nested() -> None:
    """The nested shape is valid JSON of about the size asked, nested 100 levels."""
    body = big_body.json_body(0.25, "nested")
    assert abs(len(body) - 0.25 * 2**20) < 1024
    first = json.loads(body)[0]
    for _ in range(99):
        (first,) = first
    assert first == []


@pytest.mark.parametrize("access_log", [True, False])
def test_baseline_logs_each_request_in_the_bridges_format_unless_told_not_to(
    tmp_path: Path, access_log: bool
) -> None:
    """The bare Flask baseline writes the bridge's access line for each request (the same
    settings as the bridge), and the one built without the access log writes none."""
    baseline = Baseline(tmp_path, access_log=access_log).start()
    try:
        status, _ = request("POST", baseline.url + "/hooks/ab%0a", b"{}")
    finally:
        baseline.stop()
    assert status == 202
    lines = [line for line in baseline.log(full=True).splitlines() if '"POST ' in line]
    if access_log:
        # The bridge's format and logger (bridge/serving.py): its escaping of the path too.
        assert lines == [lines[0]]
        assert re.fullmatch(r'127\.0\.0\.1 "POST /hooks/ab\\x0a" 202 \d+ \d+ms trace=-', lines[0])
    else:
        assert lines == []
