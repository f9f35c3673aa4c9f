"""The in-memory store behaves as the DynamoDB one: the same calls give the same answers and the same state.

The unit tests of the logic trust MemoryConnectionStore; this runs one script of calls against both stores.
"""

from __future__ import annotations

import pytest
from social_connections import container
from social_connections.apply_clerk_event import FirstTry, apply_snapshot
from social_connections.clerk_events import ClerkUser, parse_clerk_user
from social_connections.connection_store import ConnectionStore, ReconcileStore
from social_connections.model import (
    ConcurrentModificationError,
    ConnectionKey,
    ConnectionStatus,
    ReconcileState,
    RowCheck,
    SyncPlan,
)
from social_connections.providers import Platform
from social_connections.snapshot_plan import desired_state, plan_from_copy, state_digest

from devtools.clerk_payloads import external_account, user_event
from devtools.testkit.memory_store import MemoryConnectionStore

T0 = 1_716_883_200_000
USER = "user_contract"
X = ConnectionKey(Platform.TWITTER, "eac_x")
MISSING = ConnectionKey(Platform.TIKTOK, "eac_none")


@pytest.fixture(params=["memory", "dynamodb"])
def any_store(request) -> ConnectionStore:
    if request.param == "memory":
        return MemoryConnectionStore()
    store: ConnectionStore = request.getfixturevalue("store")
    return store


def snapshot(version: int, *accounts: dict) -> ClerkUser:
    return parse_clerk_user(user_event("user.updated", USER, updated_at=version, accounts=list(accounts))["data"])


def state(store: ConnectionStore) -> tuple[object, dict[ConnectionKey, tuple[ConnectionStatus, int]]]:
    stored = store.read_user(USER)
    profile = (stored.profile.status, stored.profile.version) if stored.profile else None
    return profile, {key: (row.status, row.error_count) for key, row in stored.connections.items()}


def test_conditional_answers_and_state_agree(any_store):
    account = external_account("eac_x", "oauth_x", updated_at=T0)
    apply_snapshot(any_store, snapshot(T0, account))
    answers = [
        any_store.record_publish_success(USER, X),  # nothing to reset
        any_store.record_publish_failure(USER, MISSING, "no row"),
        any_store.mark_error(USER, X, 1),  # no failure yet
        *[any_store.record_publish_failure(USER, X, "403") for _ in range(2)],
        any_store.mark_recovered(USER, X),  # not in error
        any_store.mark_error(USER, X, 3),  # below the threshold
        any_store.mark_error(USER, X, 2),
        any_store.mark_error(USER, X, 2),  # already in error
        any_store.mark_recovered(USER, X),  # failures not reset yet
        any_store.record_publish_success(USER, X),
        any_store.mark_recovered(USER, X),
    ]
    assert answers == [False, False, False, True, True, False, False, True, False, False, True, True]
    assert state(any_store) == (("active", T0), {X: (ConnectionStatus.CONNECTED, 0)})


def test_the_profile_lock_refuses_a_stale_expectation(any_store):
    apply_snapshot(any_store, snapshot(T0))
    stale = any_store.read_user(USER).profile
    apply_snapshot(any_store, snapshot(T0 + 1))
    with pytest.raises(ConcurrentModificationError):
        any_store.write_snapshot(USER, SyncPlan(), version=T0 + 2, expected=stale, synced_at="2024-05-28T08:00:00.000Z")
    assert state(any_store)[0] == ("active", T0 + 1)


def test_deletion_is_once_and_cleanup_counts_rows(any_store):
    accounts = [external_account(f"eac_{n}", "oauth_x", updated_at=T0) for n in range(3)]
    apply_snapshot(any_store, snapshot(T0, *accounts))
    assert [any_store.mark_deleted(USER, "now"), any_store.mark_deleted(USER, "now")] == [True, False]
    assert any_store.delete_connections(USER) == 3
    assert any_store.delete_connections(USER) == 0
    assert state(any_store) == (("deleted", None), {})


def test_reconciliation_reads_and_run_record_agree(any_store):
    store: ReconcileStore = any_store
    apply_snapshot(store, snapshot(T0))
    other = parse_clerk_user(user_event("user.created", "user_other", updated_at=T0 + 5)["data"])
    apply_snapshot(store, other)
    store.mark_deleted("user_other", "now")
    profiles = store.read_profiles([USER, "user_other", "user_absent", USER])
    assert {user: (p.status, p.version) for user, p in profiles.items()} == {
        USER: ("active", T0),
        "user_other": ("deleted", None),
    }
    assert list(store.active_user_ids()) == [USER]
    assert store.read_reconcile_state() == ReconcileState()
    store.save_reconcile_cursor("full", 500, T0)
    assert store.read_reconcile_state() == ReconcileState(cursor_mode="full", cursor_offset=500, cursor_started_at=T0)
    store.finish_reconcile_run("full", T0)
    assert store.read_reconcile_state() == ReconcileState(last_finished_started_at=T0)
    assert list(store.active_user_ids()) == [USER]  # the run record is no user


def test_the_one_write_paths_agree(any_store):
    account = external_account("eac_x", "oauth_x", updated_at=T0)
    digest = state_digest(desired_state(snapshot(T0, account)))
    assert digest is not None
    unknown = any_store.write_if_unchanged(USER, version=T0, digest=digest)
    assert (unknown.applied, unknown.found) == (False, None)
    apply_snapshot(any_store, snapshot(T0, account), FirstTry.NEW_USER)
    answers = [
        any_store.write_if_unchanged(USER, version=T0 + 1, digest="0" * 32),  # other connections
        any_store.write_if_unchanged(USER, version=T0, digest=digest),  # not newer
        any_store.write_if_unchanged(USER, version=T0 + 1, digest=digest),
    ]
    assert [(answer.applied, answer.found and answer.found.version) for answer in answers] == [
        (False, T0),
        (False, T0),
        (True, None),
    ]
    with pytest.raises(ConcurrentModificationError) as refused:  # a new-user write for a known user
        any_store.write_snapshot(USER, SyncPlan(), version=T0 + 2, expected=None, synced_at="2024-05-28T08:00:00.000Z")
    assert refused.value.found is not None and refused.value.found.version == T0 + 1
    any_store.mark_deleted(USER, "now")
    gone = any_store.write_if_unchanged(USER, version=T0 + 3, digest=digest)
    assert not gone.applied and gone.found is not None and gone.found.status == "deleted"
    assert state(any_store) == (("deleted", None), {X: (ConnectionStatus.CONNECTED, 0)})


def test_the_copy_of_the_rows_and_the_plans_assumptions_agree(any_store):
    account = external_account("eac_x", "oauth_x", updated_at=T0)
    apply_snapshot(any_store, snapshot(T0, account), FirstTry.NEW_USER)
    refused = any_store.write_if_unchanged(USER, version=T0 + 1, digest="0" * 32)
    copy = refused.found.rows if refused.found is not None else None
    assert copy is not None and set(copy) == {X}
    digest = any_store.read_user(USER).connections[X].details_digest
    assert digest == copy[X].details_digest != ""
    plan = plan_from_copy(desired_state(snapshot(T0 + 1, account)), copy)
    assert plan is not None and plan.checks == [RowCheck(X, copy[X].details_digest)]
    assumed = {"version": T0 + 1, "expected": refused.found, "synced_at": "2024-05-28T08:00:00.000Z"}
    wrong_details = SyncPlan(checks=[RowCheck(X, "AAAAAAAAAAA")])
    wrong_status = SyncPlan(checks=[RowCheck(X, copy[X].details_digest, ConnectionStatus.ERROR)])
    for refused_plan in (wrong_details, wrong_status):
        with pytest.raises(ConcurrentModificationError):
            any_store.write_snapshot(USER, refused_plan, **assumed)
    eraser = any_store if isinstance(any_store, MemoryConnectionStore) else container.current().platform_store
    assert eraser.erase_personal_data(USER, X)
    assert any_store.read_user(USER).connections[X].details_digest is None
    with pytest.raises(ConcurrentModificationError):
        any_store.write_snapshot(USER, plan, **assumed)
    assert state(any_store) == (("active", T0), {X: (ConnectionStatus.CONNECTED, 0)})
