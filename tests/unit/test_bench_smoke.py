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
    "B1 cold start, instructions",
    "B2 warm, instructions per event",
    "B3 DynamoDB per event",
    "B4 capacity, DynamoDB Local",
    "reconciliation",
    "cold start, project venv",
    "cold start, deployed, make build (bytecode)",
    "cold start, deployed, plain sam build (no bytecode)",
    "warm CPU per event",
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
        timeout=480,  # valgrind's three runs (about a minute on a busy 2-core machine) are most of it
        check=False,
    )
    # Without --check a run that finished exits 0, whatever the budgets say.
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "bench: B4" in completed.stderr  # progress per step
    assert "Traceback" not in completed.stderr, completed.stderr[-3000:]
    assert "budget" in completed.stdout
    rows = json.loads(results.read_text(encoding="utf-8"))["rows"]
    assert {row["section"] for row in rows} == SECTIONS
    assert all(row["result"] in {"pass", "FAIL"} for row in rows if row["budget"])
    assert all(row["result"] == "" for row in rows if not row["budget"])


def test_bench_check_fails_on_a_missed_budget_and_plain_bench_does_not(monkeypatch, tmp_path):
    from devtools import bench  # noqa: PLC0415 - imported here: the module builds nothing at import, but is heavy

    missed = [bench.Row("B1 cold start, instructions", "webhook", "2 M = 2.0x floor", "<= 1.15x", False)]
    monkeypatch.setattr(bench, "run", lambda *_, **__: (missed, bench.machine()))
    assert bench.main(["--json", str(tmp_path / "r.json")]) == 0
    assert bench.main(["--check", "--json", str(tmp_path / "r.json")]) == 1
