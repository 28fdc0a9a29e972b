"""schemathesis (every check) over /api/openapi.json of a real bridge: the document says
exactly what the server enforces, and no generated request gets a 5xx."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, BridgeProcess

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
MAX_EXAMPLES = 10  # per operation and phase: about 15 s on a shared 2-core machine
SEED = 3  # fixed, so a failure reproduces with the same command


@pytest.fixture(scope="module")
def fuzzed_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    """A bridge with its own embedded Redis: the endpoints schemathesis creates stay there."""
    process = BridgeProcess(tmp_path_factory.mktemp("fuzzed"), None).start()
    yield process
    process.stop()


@pytest.mark.gunicorn
@pytest.mark.timeout(180)
def test_schemathesis_finds_no_failure(fuzzed_bridge: BridgeProcess, tmp_path: Path) -> None:
    """Every operation of the document is tested with generated examples, and none fails."""
    document = fuzzed_bridge.api("GET", "/api/openapi.json").json()
    operations = sum(len(methods) for methods in document["paths"].values())
    # From a file, not the URL: schemathesis leaves out the operation serving its own schema.
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(document))
    report = tmp_path / "report.json"
    argv = [
        str(SCHEMATHESIS),
        "--config-file", str(ROOT / "tests" / "schemathesis.toml"),
        "run", str(schema), "--url", fuzzed_bridge.url,
        "--header", f"Authorization: Bearer {fuzzed_bridge.token}",
        "--checks", "all",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--workers", "1",
        "--no-color",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=170)
    summary = json.loads(report.read_text())
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert summary["failures"] == [], run.stdout[-6000:]
    assert summary["errors"] == [], run.stdout[-6000:]
    assert summary["complete"] is True
    assert summary["operations"]["tested"] == operations == summary["operations"]["total"]
    # Not vacuous: examples really ran for every operation, in each generating phase.
    assert summary["test_cases"]["generated"] >= operations * MAX_EXAMPLES
    for phase in ("coverage", "fuzzing", "stateful"):
        assert summary["phases"][phase]["status"] == "success", summary["phases"]
    assert "5xx" not in run.stdout
