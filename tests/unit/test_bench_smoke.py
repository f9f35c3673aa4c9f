"""`make bench` still runs end to end: tiny repetition counts, no timing or budget asserted (the benchmark judges)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = {
    "cold start, project venv",
    "cold start, deployed, make build (bytecode)",
    "cold start, deployed, plain sam build (no bytecode)",
    "warm CPU per event",
    "DynamoDB per event",
    "stream cleanup",
    "cold start CPU",
    "peak memory",
    "local stack",
}


def test_quick_benchmark_runs_and_reports_every_section(tmp_path):
    results = tmp_path / "bench.json"
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "devtools.bench", "--quick", "--json", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # 1 means a budget was missed, which a quick run on a busy machine may well report.
    assert completed.returncode in {0, 1}, completed.stderr[-3000:]
    assert "Traceback" not in completed.stderr, completed.stderr[-3000:]
    assert "budget" in completed.stdout
    rows = json.loads(results.read_text(encoding="utf-8"))["rows"]
    assert {row["section"] for row in rows} == SECTIONS
    assert all(row["result"] in {"pass", "FAIL"} for row in rows if row["budget"])
    assert all(row["result"] == "" for row in rows if not row["budget"])
