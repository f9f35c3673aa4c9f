"""The reconciliation benchmark runs end to end at a small size and every budget it checks holds (slow tier)."""

from __future__ import annotations

import pytest

from devtools.bench_reconcile import run_benchmark


@pytest.mark.slow
@pytest.mark.moto_only
def test_the_reconcile_benchmark_reports_its_figures_and_holds_its_budgets():
    figures = run_benchmark(users=700, backfill_users=20)
    assert figures["checks"] and all(figures["checks"].values()), figures["checks"]
    assert figures["backfill"]["summary"]["usersUpdated"] == 20
    assert figures["noChangeLarge"]["summary"]["clerkRequests"] == 3  # the count and two pages of 500
    assert figures["noChangeLarge"]["dynamodbByOperation"]["batch_get_item"] == 7
