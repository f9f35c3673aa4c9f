"""Every path of applying a Clerk event, on the in-memory store: milliseconds each, no AWS at all."""

from __future__ import annotations

import pytest
from social_connections.apply_clerk_event import (
    MAX_LOCK_ATTEMPTS,
    ConcurrencyExhaustedError,
    Outcome,
    apply_clerk_event,
    apply_deletion,
    apply_snapshot,
)
from social_connections.clerk_events import ClerkUser, UnhandledEvent, parse_clerk_event, parse_clerk_user
from social_connections.model import ConnectionKey, ConnectionStatus, ProfileStatus, StoredProfile
from social_connections.providers import Platform

from devtools.clerk_payloads import deleted_event, external_account, to_body, user_event
from devtools.testkit.memory_store import MemoryConnectionStore

T0 = 1_716_883_200_000
USER = "user_unit"
X = ConnectionKey(Platform.TWITTER, "eac_x")
IG = ConnectionKey(Platform.INSTAGRAM, "eac_ig")


def snapshot(version: int, *accounts: dict) -> ClerkUser:
    return parse_clerk_user(user_event("user.updated", USER, updated_at=version, accounts=list(accounts))["data"])


def x(version: int = T0, **kwargs) -> dict:
    return external_account("eac_x", "oauth_x", updated_at=version, **kwargs)


def ig(version: int = T0, **kwargs) -> dict:
    return external_account("eac_ig", "oauth_instagram", updated_at=version, **kwargs)


@pytest.fixture
def store() -> MemoryConnectionStore:
    return MemoryConnectionStore()


def test_a_new_user_is_applied_with_its_connections(store):
    result = apply_snapshot(store, snapshot(T0, x(), ig()))
    assert (result.outcome, result.upserted, result.disconnected) == (Outcome.APPLIED, 2, 0)
    assert store.profiles[USER] == StoredProfile(USER, ProfileStatus.ACTIVE, T0)
    assert {key: row.status for key, row in store.rows[USER].items()} == {
        X: ConnectionStatus.CONNECTED,
        IG: ConnectionStatus.CONNECTED,
    }


def test_the_same_version_again_is_a_duplicate_and_writes_nothing(store):
    apply_snapshot(store, snapshot(T0, x()))
    assert apply_snapshot(store, snapshot(T0, x(), ig())).outcome is Outcome.DUPLICATE
    assert store.snapshot_writes == 1


def test_an_older_version_is_stale_and_writes_nothing(store):
    apply_snapshot(store, snapshot(T0 + 5, x()))
    assert apply_snapshot(store, snapshot(T0, ig())).outcome is Outcome.STALE
    assert set(store.rows[USER]) == {X}


def test_a_vanished_account_is_disconnected(store):
    apply_snapshot(store, snapshot(T0, x(), ig()))
    result = apply_snapshot(store, snapshot(T0 + 1, x()))
    assert (result.outcome, result.upserted, result.disconnected) == (Outcome.APPLIED, 0, 1)
    assert store.rows[USER][IG].status is ConnectionStatus.DISCONNECTED


def test_an_unchanged_snapshot_moves_only_the_version(store):
    apply_snapshot(store, snapshot(T0, x()))
    result = apply_snapshot(store, snapshot(T0 + 1, x()))
    assert (result.outcome, result.upserted, result.disconnected) == (Outcome.APPLIED, 0, 0)
    assert store.profiles[USER].version == T0 + 1


def test_a_deleted_user_is_never_revived(store):
    assert apply_deletion(store, USER).outcome is Outcome.DELETED
    assert apply_snapshot(store, snapshot(T0 + 99, x())).outcome is Outcome.USER_DELETED
    assert USER not in store.rows


def test_a_second_deletion_is_already_deleted(store):
    apply_deletion(store, USER)
    assert apply_deletion(store, USER).outcome is Outcome.ALREADY_DELETED


def test_a_concurrent_writer_makes_it_read_again_and_plan_against_the_new_state(store):
    apply_snapshot(store, snapshot(T0, x()))
    raced: list[bool] = []

    def newer_writer_first(racing_store: MemoryConnectionStore) -> None:
        if not raced:
            raced.append(True)
            racing_store.before_write = None
            apply_snapshot(racing_store, snapshot(T0 + 2, x(), ig()))

    store.before_write = newer_writer_first
    # Our event is older than the racing one: after re-reading it sees it is stale.
    assert apply_snapshot(store, snapshot(T0 + 1, x())).outcome is Outcome.STALE
    assert store.profiles[USER].version == T0 + 2


def test_a_deletion_racing_a_snapshot_wins(store):
    def delete_first(racing_store: MemoryConnectionStore) -> None:
        racing_store.before_write = None
        apply_deletion(racing_store, USER)

    store.before_write = delete_first
    assert apply_snapshot(store, snapshot(T0, x())).outcome is Outcome.USER_DELETED
    assert store.profiles[USER].status is ProfileStatus.DELETED


def test_a_user_that_never_stops_changing_exhausts_the_retries(store):
    attempts = []

    def always_newer(racing_store: MemoryConnectionStore) -> None:
        attempts.append(True)
        profile = racing_store.profiles.get(USER)
        racing_store.profiles[USER] = StoredProfile(
            USER, ProfileStatus.ACTIVE, (profile.version or 0) - 1 if profile else 1
        )

    store.before_write = always_newer
    with pytest.raises(ConcurrencyExhaustedError):
        apply_snapshot(store, snapshot(T0, x()))
    assert len(attempts) == MAX_LOCK_ATTEMPTS
    assert store.snapshot_writes == 0


def test_a_malformed_account_is_counted_and_recorded_on_its_row(store):
    apply_snapshot(store, snapshot(T0, x(), ig()))
    broken = ig(T0 + 1)
    broken["updated_at"] = "yesterday"
    result = apply_snapshot(store, snapshot(T0 + 1, x(), broken))
    assert (result.outcome, result.malformed_accounts, result.disconnected) == (Outcome.APPLIED, 1, 0)
    assert store.rows[USER][IG].error_count == 1
    assert store.last_errors[(USER, IG)].startswith("invalid external account (updated_at: int_type")


def test_events_dispatch_by_type(store):
    created = parse_clerk_event(to_body(user_event("user.created", USER, updated_at=T0, accounts=[x()])).encode())
    assert apply_clerk_event(store, created).outcome is Outcome.APPLIED
    deleted = parse_clerk_event(to_body(deleted_event(USER)).encode())
    assert apply_clerk_event(store, deleted).outcome is Outcome.DELETED
    assert apply_clerk_event(store, UnhandledEvent(type="session.created")).outcome is Outcome.IGNORED
