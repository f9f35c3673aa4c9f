"""Reconciliation end to end: the fake Clerk Backend API over HTTP on 127.0.0.1, the real store on moto (or DynamoDB
Local), the command and the scheduled function."""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from social_connections import cli, container
from social_connections.clerk_api import ClerkApiError, ClerkClient, ClerkResponseError
from social_connections.clerk_settings import ClerkApiSettings
from social_connections.reconcile import ReconcileFailedError
from social_connections.reconcile_plan import Mode, ReconcileOptions, ReconcileSummary
from social_connections.reconcile_run import run_reconciliation

from devtools.clerk_payloads import deleted_event, external_account, user_event
from devtools.fake_clerk_api import FakeClerkApi, FakeClerkUsers, seed_user
from devtools.testkit.aws import TEST_TABLE_NAME, LambdaContextStub, RequestCounter
from devtools.testkit.table import table_items, user_rows

USERS = 12


@pytest.fixture
def clerk_api(table: str, atomic_requests: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClerkApi]:
    """The fake Backend API with seeded users; the environment points the code at it, as `make dev` does."""
    with FakeClerkApi(FakeClerkUsers.seeded(USERS), retry_after_seconds=0) as api:
        monkeypatch.setenv("CLERK_API_URL", api.url)
        monkeypatch.setenv("CLERK_SECRET_KEY", api.secret_key)
        yield api


def reconcile(**options: Any) -> ReconcileSummary:
    dependencies = container.current()
    settings = ClerkApiSettings.from_environment()
    run_options = ReconcileOptions(**{"workers": 4, **options})
    return run_reconciliation(TEST_TABLE_NAME, dependencies.dynamodb, settings, run_options)


def user_items() -> list[dict[str, Any]]:
    return [item for item in table_items(TEST_TABLE_NAME) if str(item["pk"]).startswith("USER#")]


def test_backfill_of_an_empty_table_costs_what_webhooks_cost(clerk_api, calls: RequestCounter):
    summary = reconcile()
    assert summary.finished and (summary.users_seen, summary.users_updated) == (USERS, USERS)
    connections = sum(len(user["external_accounts"]) for user in clerk_api.users.users.values())
    assert summary.connections_created == connections
    assert len(user_items()) == USERS + connections
    # A changed user costs at most one Query and one write request (the snapshot transaction).
    assert calls.calls["Query"] <= USERS
    assert calls.calls["TransactWriteItems"] <= USERS
    assert calls.calls["BatchGetItem"] == math.ceil(USERS / 100)
    assert summary.dynamodb_requests == calls.attempts
    assert summary.clerk_requests == len(clerk_api.requests) == 2  # the count and one page; nobody to look up


def test_a_no_change_run_writes_only_its_run_record(clerk_api, calls: RequestCounter):
    reconcile()
    calls.reset()
    clerk_api.requests.clear()
    summary = reconcile()
    assert (summary.users_unchanged, summary.users_updated, summary.users_tombstoned) == (USERS, 0, 0)
    assert calls.writes == 1 and calls.calls["UpdateItem"] == 1  # the run record under pk=SYNC#reconcile
    assert calls.calls["BatchGetItem"] <= math.ceil(USERS / 100)
    assert len(clerk_api.requests) == math.ceil(USERS / 500) + 1


def test_repair_of_a_missed_update_and_a_missed_deletion(clerk_api):
    reconcile()
    changed = seed_user(4, updated_at=seed_user(4)["updated_at"] + 60_000)
    changed["external_accounts"] = changed["external_accounts"][1:]  # X unlinked
    clerk_api.users.put(changed)
    clerk_api.users.delete("user_seed_000007")
    summary = reconcile()
    assert (summary.users_updated, summary.connections_disconnected, summary.users_tombstoned) == (1, 1, 1)
    rows = user_rows("user_seed_000004", TEST_TABLE_NAME)
    assert rows["CONNECTION#twitter#eac_seed_000004_x"]["connectionStatus"] == "disconnected"
    assert user_rows("user_seed_000007", TEST_TABLE_NAME)["PROFILE"]["profileStatus"] == "deleted"
    assert any("user_id=user_seed_000007" in path for path in clerk_api.requests)


def test_a_stale_snapshot_loses_to_a_newer_webhook_and_a_tombstone_is_never_revived(clerk_api, deliver):
    newer = seed_user(2, updated_at=seed_user(2)["updated_at"] + 60_000)
    accounts = [external_account("eac_fresh", "oauth_x", updated_at=newer["updated_at"])]
    event = user_event("user.updated", "user_seed_000002", updated_at=newer["updated_at"], accounts=accounts)
    assert deliver(event).status == 200
    assert deliver(deleted_event("user_seed_000003")).status == 200
    summary = reconcile()
    assert (summary.users_updated, summary.users_unchanged) == (USERS - 2, 2)
    assert set(user_rows("user_seed_000002", TEST_TABLE_NAME)) == {"PROFILE", "CONNECTION#twitter#eac_fresh"}
    assert list(user_rows("user_seed_000003", TEST_TABLE_NAME)) == ["PROFILE"]


def test_dry_run_writes_nothing_at_all(clerk_api, calls: RequestCounter):
    summary = reconcile(dry_run=True)
    assert summary.users_updated == USERS and summary.connections_created > 0
    assert calls.writes == 0
    assert table_items(TEST_TABLE_NAME) == []


def test_429_waits_retry_after_and_retries(clerk_api):
    clerk_api.retry_after_seconds = 7
    clerk_api.fail_next(429, times=2)
    slept: list[float] = []
    client = ClerkClient(ClerkApiSettings.from_environment(), clerk_api.secret_key, sleep=slept.append)
    assert client.count_users() == USERS
    assert slept == [7.0, 7.0]
    assert (client.stats.requests, client.stats.rate_limited_waits) == (3, 2)


def test_a_429_storm_fails_loudly_after_the_retry_budget(clerk_api):
    clerk_api.fail_next(429, times=50)
    slept: list[float] = []
    client = ClerkClient(ClerkApiSettings.from_environment(), clerk_api.secret_key, sleep=slept.append)
    with pytest.raises(ClerkApiError, match="HTTP 429"):
        client.list_users(limit=500, offset=0, order_by="+created_at")
    assert (client.stats.requests, client.stats.rate_limited_waits, len(slept)) == (6, 5, 5)


def test_a_rate_limited_fake_is_waited_out_and_counted(clerk_api):
    clerk_api.fail_next(429, times=3)
    summary = reconcile()
    assert summary.finished and summary.rate_limited_waits == 3
    assert summary.clerk_requests == 4 + 1  # the count after three 429s, then one page


def test_5xx_is_retried_with_backoff(clerk_api):
    clerk_api.fail_next(503, times=2)
    slept: list[float] = []
    client = ClerkClient(ClerkApiSettings.from_environment(), clerk_api.secret_key, sleep=slept.append)
    assert len(client.list_users(limit=500, offset=0, order_by="+created_at")) == USERS
    assert slept == [0.5, 1.0]


def test_clerk_unreachable_fails_loudly_and_writes_nothing(clerk_api):
    clerk_api.fail_next(500, times=100)
    client = ClerkClient(ClerkApiSettings.from_environment(), clerk_api.secret_key, sleep=lambda _: None)
    with pytest.raises(ClerkApiError, match="failed after 6 attempts: HTTP 500"):
        client.count_users()
    assert user_items() == []


def test_a_page_that_is_not_an_array_fails_the_run_and_the_finished_pages_stay_done(clerk_api):
    clerk_api.malformed_page(after=1)
    with pytest.raises(ReconcileFailedError) as failure:
        reconcile(page_size=5)
    assert isinstance(failure.value.__cause__, ClerkResponseError)
    assert failure.value.summary.users_updated == 5
    summary = reconcile(page_size=5)  # resumes after the first page
    assert summary.finished and summary.users_updated == USERS - 5
    assert len([item for item in user_items() if item["sk"] == "PROFILE"]) == USERS


def test_a_user_without_id_or_updated_at_is_skipped_and_the_rest_sync(clerk_api):
    broken = seed_user(50)
    del broken["updated_at"]
    clerk_api.users.users[broken["id"]] = broken
    summary = reconcile()
    assert (summary.users_invalid, summary.users_updated) == (1, USERS)


# ---- the command ---------------------------------------------------------------------------------------------------


@pytest.fixture
def command(clerk_api: FakeClerkApi, monkeypatch: pytest.MonkeyPatch) -> FakeClerkApi:
    """The command on the tests' client, so its requests pass the same DynamoDB request rules."""
    monkeypatch.setattr("social_connections.cli.reconcile.dynamodb_client", lambda *_: container.current().dynamodb)
    return clerk_api


def test_the_command_prints_the_summary_as_json_and_exits_0(command, capsys):
    assert cli.main(["reconcile", "--json", "--dry-run"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["mode"] == "full" and figures["dryRun"] is True and figures["usersUpdated"] == USERS
    assert cli.main(["reconcile", "--mode", "recent", "--limit", "5"]) == 0
    table = capsys.readouterr().out
    assert "usersSeen" in table and "recent" in table


def test_a_refused_key_exits_2_naming_the_variable(command, capsys, monkeypatch):
    monkeypatch.setenv("CLERK_SECRET_KEY", "sk_test_wrong")
    assert cli.main(["reconcile"]) == 2
    error = capsys.readouterr().err
    assert "CLERK_SECRET_KEY" in error and "sk_test_wrong" not in error


def test_missing_configuration_exits_2(command, capsys, monkeypatch):
    monkeypatch.delenv("CLERK_SECRET_KEY")
    assert cli.main(["reconcile"]) == 2
    assert "CLERK_SECRET_KEY" in capsys.readouterr().err
    monkeypatch.delenv("TABLE_NAME")
    assert cli.main(["reconcile"]) == 2
    assert "TABLE_NAME" in capsys.readouterr().err


def test_a_failed_run_exits_1_and_still_prints_its_summary(command, capsys):
    command.malformed_page()
    assert cli.main(["reconcile", "--json"]) == 1
    output = capsys.readouterr()
    assert "failed" in output.err
    assert json.loads(output.out.strip().splitlines()[-1])["finished"] is False


# ---- the scheduled function ----------------------------------------------------------------------------------------


class ScriptedContext(LambdaContextStub):
    """A context whose remaining time drops by a step at each look, so a run meets its stop margin on cue."""

    def __init__(self, remaining_ms: list[int]) -> None:
        super().__init__(function_name="ReconcileFunction", timeout_seconds=900)
        self._remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining.pop(0) if len(self._remaining) > 1 else self._remaining[0]


def test_the_function_stops_before_its_timeout_and_the_next_run_resumes(clerk_api, monkeypatch):
    app = importlib.import_module("functions.reconcile.app")
    monkeypatch.setattr(
        app, "ReconcileOptions", lambda mode, **given: ReconcileOptions(mode=mode, page_size=5, workers=2, **given)
    )
    # At start 900 s left (margin 60 s); two pages in, 30 s left: stop.
    first = app.lambda_handler({"mode": "full"}, ScriptedContext([900_000, 800_000, 700_000, 30_000]))
    assert first["finished"] is False and first["usersUpdated"] == 10
    second = app.lambda_handler({"mode": "full"}, ScriptedContext([900_000]))
    assert second["finished"] is True and second["usersUpdated"] == USERS - 10
    assert len([item for item in user_items() if item["sk"] == "PROFILE"]) == USERS
    assert Mode(second["mode"]) is Mode.FULL
