"""The one-write paths of B3 and every way they fall back to read-and-plan, on the in-memory store."""

from __future__ import annotations

import pytest
from social_connections.apply_clerk_event import FirstTry, Outcome, apply_deletion, apply_snapshot
from social_connections.model import ConnectionStatus, ProfileStatus, StoredProfile
from social_connections.snapshot_plan import desired_state, state_digest

from devtools.testkit.memory_store import MemoryConnectionStore
from tests.unit.test_apply_clerk_event import IG, T0, USER, X, ig, snapshot, x


@pytest.fixture
def store() -> MemoryConnectionStore:
    return MemoryConnectionStore()


def created(store: MemoryConnectionStore, version: int, *accounts: dict) -> Outcome:
    return apply_snapshot(store, snapshot(version, *accounts), FirstTry.NEW_USER).outcome


def updated(store: MemoryConnectionStore, version: int, *accounts: dict) -> Outcome:
    return apply_snapshot(store, snapshot(version, *accounts), FirstTry.UNCHANGED).outcome


def test_a_new_users_created_is_one_write_and_no_read(store):
    assert created(store, T0, x(), ig()) is Outcome.APPLIED
    assert (store.round_trips, store.reads) == (1, 0)
    assert set(store.rows[USER]) == {X, IG}
    assert store.digests[USER] == state_digest(desired_state(snapshot(T0, x(), ig())))


def test_a_duplicate_created_is_told_from_the_refused_write_without_a_read(store):
    created(store, T0, x())
    store.round_trips = 0
    assert created(store, T0, x()) is Outcome.DUPLICATE
    assert (store.round_trips, store.reads, store.snapshot_writes) == (1, 0, 1)


def test_a_created_for_a_known_user_with_an_older_version_plans_from_the_profiles_copy(store):
    apply_snapshot(store, snapshot(T0, x()))
    store.round_trips = store.reads = 0
    assert created(store, T0 + 1, ig()) is Outcome.APPLIED
    assert (store.round_trips, store.reads) == (2, 0)  # the refused guess, the write planned from its profile
    assert store.rows[USER][X].status is ConnectionStatus.DISCONNECTED


def test_a_created_whose_rows_exist_without_a_profile_falls_back_and_applies(store):
    # What a half-written multi-transaction plan leaves: rows written, the profile not yet.
    apply_snapshot(store, snapshot(T0, x()))
    del store.profiles[USER]
    store.reads = 0
    assert created(store, T0, x(), ig()) is Outcome.APPLIED
    assert store.reads == 1
    assert store.profiles[USER].version == T0


def test_an_unchanged_updated_is_one_write_and_keeps_the_rows_and_their_error_state(store):
    created(store, T0, x())
    store.record_publish_failure(USER, X, "boom")
    store.mark_error(USER, X, threshold=1)
    rows_before = dict(store.rows[USER])
    store.round_trips = 0
    assert updated(store, T0 + 1, x()) is Outcome.APPLIED
    assert (store.round_trips, store.reads) == (1, 0)
    assert store.profiles[USER] == StoredProfile(USER, ProfileStatus.ACTIVE, T0 + 1)
    assert store.rows[USER] == rows_before


def test_a_changed_updated_plans_from_the_profiles_copy_without_a_read(store):
    created(store, T0, x(), ig())
    store.round_trips = 0
    assert updated(store, T0 + 1, x()) is Outcome.APPLIED
    assert (store.round_trips, store.reads) == (2, 0)
    assert store.rows[USER][IG].status is ConnectionStatus.DISCONNECTED
    assert store.digests[USER] == state_digest(desired_state(snapshot(T0 + 1, x())))


def test_a_reverified_account_changes_the_digest_and_clears_its_errors(store):
    created(store, T0, x())
    store.record_publish_failure(USER, X, "boom")
    assert updated(store, T0 + 1, x(T0 + 1)) is Outcome.APPLIED
    assert store.reads == 0  # planned from the copy, which cannot know the count: a re-verification always resets
    assert store.rows[USER][X].error_count == 0


def test_duplicate_and_stale_updates_are_told_from_the_refused_write_without_a_read(store):
    created(store, T0 + 5, x())
    assert updated(store, T0 + 5, x()) is Outcome.DUPLICATE
    assert updated(store, T0 + 1, ig()) is Outcome.STALE
    assert store.reads == 0
    assert store.profiles[USER].version == T0 + 5


def test_an_update_for_a_deleted_user_is_refused_without_a_read(store):
    created(store, T0, x())
    apply_deletion(store, USER)
    assert updated(store, T0 + 1, x()) is Outcome.USER_DELETED
    assert created(store, T0 + 2, x()) is Outcome.USER_DELETED
    assert store.reads == 0
    assert USER not in store.digests


def test_an_update_for_an_unknown_user_falls_back_and_creates_it(store):
    assert updated(store, T0, x()) is Outcome.APPLIED
    assert store.reads == 1
    assert set(store.rows[USER]) == {X}


def test_a_snapshot_with_a_malformed_entry_stores_no_digest_and_never_takes_the_shortcut(store):
    created(store, T0, x(), ig())
    broken = ig(T0 + 1)
    broken["updated_at"] = "yesterday"
    for version in (T0 + 1, T0 + 2):
        assert updated(store, version, x(), broken) is Outcome.APPLIED
    # A failure per event, as before the shortcut existed.
    assert store.rows[USER][IG].error_count == 2
    assert USER not in store.digests
    # Dropping the broken entry now disconnects its row: the same valid accounts do not match a stored digest.
    assert updated(store, T0 + 3, x()) is Outcome.APPLIED
    assert store.rows[USER][IG].status is ConnectionStatus.DISCONNECTED


def test_a_concurrent_change_between_guess_and_fallback_is_planned_against(store):
    created(store, T0, x())

    def newer_writer_first(racing_store: MemoryConnectionStore) -> None:
        racing_store.before_write = None
        apply_snapshot(racing_store, snapshot(T0 + 2, x(), ig()))

    store.before_write = newer_writer_first
    assert updated(store, T0 + 1, x()) is Outcome.STALE
    assert set(store.rows[USER]) == {X, IG}
    assert store.profiles[USER].version == T0 + 2


def test_the_digest_ignores_account_order_and_sees_every_copied_detail():
    one = state_digest(desired_state(snapshot(T0, x(), ig())))
    assert one == state_digest(desired_state(snapshot(T0, ig(), x())))
    assert one != state_digest(desired_state(snapshot(T0, x(), ig(username="renamed"))))
    assert one != state_digest(desired_state(snapshot(T0, x(), ig(status="expired"))))
    assert one is not None and len(one) == 32
