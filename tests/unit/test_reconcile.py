"""The reconciliation engine on the in-memory store and the fake Clerk directory: planning, paging, modes, resuming."""

from __future__ import annotations

import math
import time

import pytest
from social_connections.apply_clerk_event import apply_deletion, apply_snapshot
from social_connections.clerk_events import parse_clerk_user
from social_connections.model import ConnectionKey, ConnectionStatus, ProfileStatus
from social_connections.providers import Platform, ProviderMap
from social_connections.reconcile import ReconcileFailedError, Reconciler
from social_connections.reconcile_plan import Mode, ReconcileOptions, ReconcileSummary

from devtools.fake_clerk_api import FakeClerkUsers, seed_user
from devtools.testkit.memory_store import MemoryConnectionStore

SUMMARY_KEYS = {
    "mode",
    "dryRun",
    "usersSeen",
    "usersUnchanged",
    "usersUpdated",
    "connectionsCreated",
    "connectionsUpdated",
    "connectionsDisconnected",
    "usersTombstoned",
    "clerkRequests",
    "rateLimitedWaits",
    "dynamodbRequests",
    "durationSeconds",
}


def reconcile(store, clerk, **options) -> ReconcileSummary:
    should_stop = options.pop("should_stop", lambda: False)
    return Reconciler(store, clerk, ReconcileOptions(**options), should_stop=should_stop).run()


def accounts_of(user: dict) -> int:
    return len(user["external_accounts"])


def test_backfill_of_an_empty_table_writes_every_user_and_their_connections():
    clerk = FakeClerkUsers.seeded(7)
    store = MemoryConnectionStore()
    summary = reconcile(store, clerk)
    assert summary.finished
    assert (summary.users_seen, summary.users_updated, summary.users_unchanged) == (7, 7, 0)
    assert summary.connections_created == sum(accounts_of(user) for user in clerk.users.values())
    assert set(store.profiles) == set(clerk.users)
    assert store.reconcile_state.last_finished_started_at is not None
    assert set(summary.as_json()) >= SUMMARY_KEYS


def test_a_no_change_run_writes_nothing_and_keeps_to_the_request_budget():
    clerk = FakeClerkUsers.seeded(640)
    store = MemoryConnectionStore()
    reconcile(store, clerk)
    writes, clerk.stats.requests, store.batch_reads = store.snapshot_writes, 0, 0
    summary = reconcile(store, clerk)
    assert (summary.users_seen, summary.users_unchanged, summary.users_updated) == (640, 640, 0)
    assert store.snapshot_writes == writes
    assert store.batch_reads <= math.ceil(640 / 100)
    assert summary.clerk_requests == math.ceil(640 / 500) + 1


def test_a_count_that_fills_the_last_page_exactly_asks_for_no_empty_page():
    clerk = FakeClerkUsers.seeded(6)
    summary = reconcile(MemoryConnectionStore(), clerk, page_size=3)
    assert summary.clerk_requests == 1 + 2


def test_a_missed_user_updated_is_repaired():
    clerk = FakeClerkUsers.seeded(3)
    store = MemoryConnectionStore()
    reconcile(store, clerk)
    changed = seed_user(1, updated_at=seed_user(1)["updated_at"] + 5000)
    changed["external_accounts"] = changed["external_accounts"][:1]  # TikTok unlinked; the webhook never came
    clerk.put(changed)
    summary = reconcile(store, clerk)
    assert (summary.users_updated, summary.users_unchanged) == (1, 2)
    assert (summary.connections_disconnected, summary.connections_created) == (1, 0)
    rows = store.rows["user_seed_000001"]
    assert rows[ConnectionKey(Platform.TIKTOK, "eac_seed_000001_tt")].status is ConnectionStatus.DISCONNECTED
    assert store.profiles["user_seed_000001"].version == changed["updated_at"]


def test_a_missed_user_deleted_is_confirmed_by_id_and_tombstoned():
    clerk = FakeClerkUsers.seeded(3)
    store = MemoryConnectionStore()
    reconcile(store, clerk)
    clerk.delete("user_seed_000002")
    clerk.stats.requests = 0
    summary = reconcile(store, clerk)
    assert summary.users_tombstoned == 1
    assert store.profiles["user_seed_000002"].status is ProfileStatus.DELETED
    # count + one page + one user_id look-up of the single candidate
    assert summary.clerk_requests == 3


def test_a_user_missed_by_paging_but_present_in_clerk_is_never_tombstoned():
    clerk = FakeClerkUsers.seeded(4)
    store = MemoryConnectionStore()
    reconcile(store, clerk)
    hidden = clerk.users.pop("user_seed_000003")
    lookups: list[list[str]] = []
    original = clerk.users_by_id

    def look_up(user_ids):
        lookups.append(list(user_ids))
        clerk.users[hidden["id"]] = hidden  # Clerk still has it: the listing just did not show it
        return original(user_ids)

    clerk.users_by_id = look_up  # type: ignore[method-assign]
    summary = reconcile(store, clerk)
    assert lookups == [["user_seed_000003"]]
    assert summary.users_tombstoned == 0
    assert store.profiles["user_seed_000003"].status is ProfileStatus.ACTIVE


def test_a_stale_api_snapshot_loses_to_a_newer_webhook():
    clerk = FakeClerkUsers.seeded(2)
    store = MemoryConnectionStore()
    newer = seed_user(0, updated_at=seed_user(0)["updated_at"] + 60_000)
    newer["external_accounts"] = []
    apply_snapshot(store, parse_clerk_user(newer))
    summary = reconcile(store, clerk)
    assert (summary.users_updated, summary.users_unchanged) == (1, 1)
    assert store.profiles["user_seed_000000"].version == newer["updated_at"]
    assert store.rows.get("user_seed_000000", {}) == {}


def test_a_deleted_user_is_never_revived():
    clerk = FakeClerkUsers.seeded(2)
    store = MemoryConnectionStore()
    apply_deletion(store, "user_seed_000001")
    summary = reconcile(store, clerk)
    assert (summary.users_updated, summary.users_unchanged, summary.users_tombstoned) == (1, 1, 0)
    assert store.profiles["user_seed_000001"].status is ProfileStatus.DELETED
    assert "user_seed_000001" not in store.rows


def test_dry_run_reports_the_changes_and_writes_nothing():
    clerk = FakeClerkUsers.seeded(5)
    store = MemoryConnectionStore()
    reconcile(store, clerk, limit=3)  # three users stored, two missing
    clerk.delete("user_seed_000000")
    before = (dict(store.profiles), {user: dict(rows) for user, rows in store.rows.items()}, store.reconcile_state)
    writes = store.snapshot_writes
    summary = reconcile(store, clerk, dry_run=True)
    assert summary.dry_run and summary.finished
    assert (summary.users_seen, summary.users_updated, summary.users_tombstoned) == (4, 2, 1)
    assert summary.connections_created == sum(accounts_of(clerk.users[f"user_seed_00000{i}"]) for i in (3, 4))
    assert store.snapshot_writes == writes
    assert (store.profiles, store.rows, store.reconcile_state) == before


def test_a_stopped_run_keeps_its_cursor_and_the_next_run_continues_from_it():
    clerk = FakeClerkUsers.seeded(10)
    store = MemoryConnectionStore()
    pages = iter([False, False, True])
    first = reconcile(store, clerk, page_size=3, should_stop=lambda: next(pages))
    assert not first.finished
    assert first.users_updated == 6
    assert (store.reconcile_state.cursor_mode, store.reconcile_state.cursor_offset) == ("full", 6)
    started = store.reconcile_state.cursor_started_at
    listed: list[int] = []
    original = clerk.list_users

    def list_users(*, limit, offset, order_by):
        listed.append(offset)
        return original(limit=limit, offset=offset, order_by=order_by)

    clerk.list_users = list_users  # type: ignore[method-assign]
    second = reconcile(store, clerk, page_size=3)
    assert second.finished and listed == [6, 9]
    assert second.users_updated == 4
    assert store.reconcile_state.cursor_mode is None
    assert store.reconcile_state.last_finished_started_at == started  # the resumed run is the one that finished
    assert set(store.profiles) == set(clerk.users)


def test_a_table_failure_mid_run_fails_loudly_and_the_next_run_completes_the_job():
    clerk = FakeClerkUsers.seeded(9)
    store = MemoryConnectionStore()
    writes = 0

    def fail_on_the_fifth(_store):
        nonlocal writes
        writes += 1
        if writes == 5:
            raise RuntimeError("table unavailable")

    store.before_write = fail_on_the_fifth
    with pytest.raises(ReconcileFailedError) as failure:
        reconcile(store, clerk, page_size=3, workers=1)
    assert not failure.value.summary.finished
    # Only the pages finished before the failure count as done.
    assert store.reconcile_state.cursor_offset == 3
    stored = len(store.profiles)
    summary = reconcile(store, clerk, page_size=3, workers=1)
    assert summary.finished
    assert set(store.profiles) == set(clerk.users)
    assert summary.users_updated == 9 - stored  # what the failed run did write is unchanged now


def test_invalid_users_are_counted_and_the_rest_sync():
    clerk = FakeClerkUsers.seeded(3)
    no_version = seed_user(10)
    del no_version["updated_at"]
    no_id = seed_user(11)
    del no_id["id"]
    clerk.users["user_seed_000010"] = no_version
    clerk.users["broken"] = no_id
    summary = reconcile(MemoryConnectionStore(), clerk)
    assert (summary.users_invalid, summary.users_updated) == (2, 3)


def test_a_user_with_a_malformed_account_syncs_its_other_accounts():
    clerk = FakeClerkUsers.seeded(1)
    user = clerk.users["user_seed_000000"]
    user["external_accounts"][1]["updated_at"] = "yesterday"
    store = MemoryConnectionStore()
    summary = reconcile(store, clerk)
    assert summary.users_updated == 1 and summary.connections_created == accounts_of(user) - 1


def test_recent_lists_newest_first_and_stops_past_the_last_finished_run():
    clerk = FakeClerkUsers.seeded(600)
    store = MemoryConnectionStore()
    reconcile(store, clerk)
    now = int(time.time() * 1000)
    clerk.put(seed_user(17, updated_at=now))
    clerk.stats.requests = 0
    summary = reconcile(store, clerk, mode=Mode.RECENT)
    assert summary.finished
    assert (summary.users_seen, summary.users_updated) == (1, 1)
    assert summary.clerk_requests == 2  # the count and one page
    assert store.profiles["user_seed_000017"].version == now


def test_a_sample_run_neither_sweeps_nor_counts_as_finished():
    clerk = FakeClerkUsers.seeded(7)
    store = MemoryConnectionStore()
    summary = reconcile(store, clerk, limit=5, page_size=2)
    assert summary.users_seen == 5
    assert len(store.profiles) == 5
    assert store.reconcile_state.last_finished_started_at is None
    assert store.reconcile_state.cursor_mode is None


def test_reconciliation_maps_providers_as_the_deployments_provider_aliases_do():
    """A row the webhook stored through an alias must not look unlinked to reconciliation."""
    user = seed_user(1)
    user["external_accounts"].append(
        {**user["external_accounts"][0], "id": "eac_custom_ig", "provider": "oauth_custom_ig"}
    )
    clerk = FakeClerkUsers()
    clerk.put(user)
    aliases = ProviderMap({"oauth_custom_ig": Platform.INSTAGRAM})
    store = MemoryConnectionStore()
    apply_snapshot(store, parse_clerk_user(user), providers=aliases)
    key = ConnectionKey(Platform.INSTAGRAM, "eac_custom_ig")
    assert reconcile(store, clerk, dry_run=True, providers=aliases).connections_disconnected == 0
    clerk.put({**user, "updated_at": user["updated_at"] + 1})
    summary = reconcile(store, clerk, providers=aliases)
    assert (summary.users_updated, summary.connections_disconnected) == (1, 0)
    assert store.rows[user["id"]][key].status is ConnectionStatus.CONNECTED
