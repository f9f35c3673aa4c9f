"""A changed snapshot planned from the profile's copy of its rows, and every way that copy can be stale (B3).

The rule under test: a plan from the copy either writes what read-and-plan would have written on the rows as they
are, or its write is refused and read-and-plan decides. Never a third outcome.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from social_connections.apply_clerk_event import FirstTry, Outcome, apply_snapshot
from social_connections.model import ConnectionKey, ConnectionStatus, RowState
from social_connections.providers import Platform
from social_connections.row_copy import MAX_COPIED_ROWS, details_digest
from social_connections.snapshot_plan import desired_state, plan_from_copy
from social_connections.storage.attribute_values import plain
from social_connections.storage.row_state import row_state_attribute, row_state_from

from devtools.clerk_payloads import external_account
from devtools.testkit.memory_store import MemoryConnectionStore
from tests.unit.test_apply_clerk_event import IG, T0, USER, X, ig, snapshot, x

Mutation = Callable[[MemoryConnectionStore], object]


def updated(store: MemoryConnectionStore, version: int, *accounts: dict, first_try: FirstTry = FirstTry.UNCHANGED):
    return apply_snapshot(store, snapshot(version, *accounts), first_try)


def fresh(store: MemoryConnectionStore) -> MemoryConnectionStore:
    store.round_trips = store.reads = 0
    return store


def rows_of(store: MemoryConnectionStore) -> dict[ConnectionKey, tuple[ConnectionStatus, int, object]]:
    return {key: (row.status, row.error_count, row.details) for key, row in store.rows[USER].items()}


@pytest.fixture
def store() -> MemoryConnectionStore:
    return MemoryConnectionStore()


def test_every_snapshot_write_leaves_a_copy_that_matches_the_rows(store):
    updated(store, T0, x(), ig(), first_try=FirstTry.NEW_USER)
    updated(store, T0 + 1, x(username="renamed"))
    copy = store.profiles[USER].rows
    assert copy is not None
    assert copy[X] == RowState(ConnectionStatus.CONNECTED, T0, True, details_digest(store.rows[USER][X].details))
    assert copy[IG] == RowState(ConnectionStatus.DISCONNECTED, T0, True, "")
    assert store.rows[USER][X].details_digest == copy[X].details_digest


def test_a_stream_status_change_leaves_the_copy_stale_but_the_plan_right_in_two_round_trips(store):
    updated(store, T0, x(), first_try=FirstTry.NEW_USER)
    store.record_publish_failure(USER, X, "HTTP 401")
    assert store.mark_error(USER, X, threshold=1)
    assert updated(fresh(store), T0 + 1, x(), ig()).outcome is Outcome.APPLIED
    assert (store.round_trips, store.reads) == (2, 0)
    # The copy said connected; whatever the stream made of it, an unchanged verified account keeps its status.
    assert store.rows[USER][X].status is ConnectionStatus.ERROR
    assert store.rows[USER][X].error_count == 1


def test_a_callback_erasure_makes_the_plan_from_the_copy_fall_back_to_read_and_plan(store):
    updated(store, T0, x(), first_try=FirstTry.NEW_USER)
    assert store.erase_personal_data(USER, X)
    assert updated(fresh(store), T0 + 1, x(), ig()).outcome is Outcome.APPLIED
    # The refused guess, the write refused by the check on X's details, the read, the planned write.
    assert (store.round_trips, store.reads) == (4, 1)
    assert store.rows[USER][X].details.first_name == "Ada"  # restored, as read-and-plan does
    assert store.profiles[USER].rows is not None
    assert store.profiles[USER].rows[X].details_digest == store.rows[USER][X].details_digest


def test_a_revoked_row_that_clerk_reports_failed_makes_the_plan_fall_back(store):
    updated(store, T0, x(status="failed"), first_try=FirstTry.NEW_USER)
    assert store.mark_revoked(USER, X, revoked_at_ms=T0 + 1, reason="authorization.removed", at="now")
    assert updated(fresh(store), T0 + 2, x(status="failed"), ig()).outcome is Outcome.APPLIED
    assert store.reads == 1
    assert store.rows[USER][X].status is ConnectionStatus.ERROR  # what read-and-plan makes of it


def test_a_concurrent_snapshot_between_the_guess_and_the_plan_is_read_and_wins(store):
    updated(store, T0, x(), first_try=FirstTry.NEW_USER)
    writes: list[int] = []

    def newer_snapshot_before_the_planned_write(racing: MemoryConnectionStore) -> None:
        writes.append(1)
        if len(writes) == 2:  # after the refused guess, before the write planned from its copy
            racing.before_write = None
            updated(racing, T0 + 5, ig())

    store.before_write = newer_snapshot_before_the_planned_write
    assert updated(fresh(store), T0 + 1, x(), ig()).outcome is Outcome.STALE
    assert store.reads == 1
    assert store.rows[USER][X].status is ConnectionStatus.DISCONNECTED
    assert store.profiles[USER].version == T0 + 5


def test_a_profile_written_before_the_copy_existed_falls_back_and_then_carries_one(store):
    updated(store, T0, x(), ig(), first_try=FirstTry.NEW_USER)
    store.profiles[USER] = store.profiles[USER]._replace(rows=None)
    assert updated(fresh(store), T0 + 1, x()).outcome is Outcome.APPLIED
    assert (store.round_trips, store.reads) == (3, 1)
    assert store.rows[USER][IG].status is ConnectionStatus.DISCONNECTED
    assert updated(fresh(store), T0 + 2, x(), ig()).outcome is Outcome.APPLIED
    assert (store.round_trips, store.reads) == (2, 0)


def test_rows_written_before_digests_are_read_until_they_carry_one(store):
    updated(store, T0, x(), ig(), first_try=FirstTry.NEW_USER)
    store.rows[USER] = {key: row._replace(details_digest=None) for key, row in store.rows[USER].items()}
    store.profiles[USER] = store.profiles[USER]._replace(rows=None)
    updated(fresh(store), T0 + 1, x(), ig(username="renamed"))
    copy = store.profiles[USER].rows
    assert copy is not None and copy[X].details_digest == ""  # unknown: X kept no digest of its details
    assert copy[IG].details_digest == store.rows[USER][IG].details_digest != ""
    # A plan would have to assume X's details: it reads instead (3 round trips), never assumes.
    assert updated(fresh(store), T0 + 2, x(), ig(username="again")).outcome is Outcome.APPLIED
    assert (store.round_trips, store.reads) == (3, 1)


def test_a_user_with_more_rows_than_the_copy_holds_plans_from_a_read(store):
    accounts = [
        x(),
        *(external_account(f"eac_ig{i}", "oauth_instagram", updated_at=T0) for i in range(MAX_COPIED_ROWS)),
    ]
    updated(store, T0, *accounts, first_try=FirstTry.NEW_USER)
    assert store.profiles[USER].rows is None
    assert updated(fresh(store), T0 + 1, x()).outcome is Outcome.APPLIED
    assert store.reads == 1


def test_a_snapshot_with_a_malformed_entry_is_never_planned_from_the_copy():
    broken = ig(T0 + 1)
    broken["updated_at"] = "yesterday"
    desired = desired_state(snapshot(T0 + 1, x(), broken))
    copy = {X: RowState(ConnectionStatus.CONNECTED, T0, True, "digest")}
    assert plan_from_copy(desired, copy) is None


def test_the_plan_asserts_a_kept_status_only_where_another_would_change_the_write():
    desired = desired_state(snapshot(T0 + 1, x(), ig(status="failed")))
    same_x = details_digest(desired.connections[X].details)
    same_ig = details_digest(desired.connections[IG].details)
    copy = {
        X: RowState(ConnectionStatus.CONNECTED, T0, True, same_x),
        IG: RowState(ConnectionStatus.ERROR, T0, False, same_ig),
    }
    plan = plan_from_copy(desired, copy)
    assert plan is not None and not plan.upserts
    assert {(check.key, check.status) for check in plan.checks} == {(X, None), (IG, ConnectionStatus.ERROR)}


# ---- the rule, exhaustively: plan from the copy == read-and-plan on the rows as they are, or refused and read ----

STARTS = {"verified": x(), "failed": x(status="failed"), "expired": x(status="expired")}
OUTSIDE_WRITES: dict[str, list[Mutation]] = {
    "none": [],
    "failures": [lambda s: s.record_publish_failure(USER, X, "boom")],
    "stream error": [lambda s: s.record_publish_failure(USER, X, "boom"), lambda s: s.mark_error(USER, X, 1)],
    "stream recovery": [
        lambda s: s.record_publish_failure(USER, X, "boom"),
        lambda s: s.mark_error(USER, X, 1),
        lambda s: s.record_publish_success(USER, X),
        lambda s: s.mark_recovered(USER, X),
    ],
    "revoked": [lambda s: s.mark_revoked(USER, X, revoked_at_ms=T0 + 1, reason="removed", at="now")],
    "erased": [lambda s: s.erase_personal_data(USER, X)],
    "error then revoked": [
        lambda s: s.record_publish_failure(USER, X, "boom"),
        lambda s: s.mark_error(USER, X, 1),
        lambda s: s.mark_revoked(USER, X, revoked_at_ms=T0 + 1, reason="removed", at="now"),
    ],
}
NEXT = {
    "same": [x()],
    "renamed": [x(username="renamed")],
    "reverified": [x(T0 + 2)],
    "failed": [x(status="failed")],
    "expired": [x(status="expired")],
    "verified again": [x(status="verified", username="back")],
    "gone": [],
}


@pytest.mark.parametrize(("start", "outside", "following"), list(itertools.product(STARTS, OUTSIDE_WRITES, NEXT)))
def test_a_plan_from_the_copy_writes_what_read_and_plan_would(start, outside, following):
    stores = [MemoryConnectionStore(), MemoryConnectionStore()]
    for each in stores:
        updated(each, T0, STARTS[start], first_try=FirstTry.NEW_USER)
        for write in OUTSIDE_WRITES[outside]:
            write(each)
        fresh(each)
    # IG joins, so the snapshot is changed whatever happens to X.
    from_copy = updated(stores[0], T0 + 3, *NEXT[following], ig())
    from_read = updated(stores[1], T0 + 3, *NEXT[following], ig(), first_try=FirstTry.READ)
    assert from_copy.outcome is from_read.outcome is Outcome.APPLIED
    assert rows_of(stores[0]) == rows_of(stores[1])
    # Either planned from the copy (no read) or refused and read: the answer is the same.
    assert stores[0].reads in {0, 1}
    if outside in {"none", "failures", "stream error", "stream recovery"}:
        assert stores[0].reads == 0  # what the stream function does never costs the read


def test_the_digest_changes_with_every_detail():
    details = desired_state(snapshot(T0, x())).connections[X].details
    changed: dict[str, Any] = {
        "platform_user_id": "other",
        "platform_username": "other",
        "account_version": T0 + 1,
        "email": "other@example.com",
        "first_name": "other",
        "last_name": "other",
        "image_url": "https://example.com/other.png",
        "provider": "oauth_twitter",
        "clerk_account_id": "eac_other",
        "verification_status": "expired",
        "approved_scopes": ("other",),
    }
    assert set(changed) == set(type(details)._fields)
    digests = {details_digest(details._replace(**{name: new})) for name, new in changed.items()}
    assert len(digests | {details_digest(details)}) == len(changed) + 1
    assert {len(digest) for digest in digests} == {11}


def test_the_copy_round_trips_through_its_item_encoding():
    copy = {
        X: RowState(ConnectionStatus.ERROR, T0, True, "AbCdEfGhIj_"),
        ConnectionKey(Platform.TIKTOK, "eac_tt"): RowState(ConnectionStatus.DISCONNECTED, T0 + 1, False, ""),
    }
    assert row_state_from(plain({"rowState": row_state_attribute(copy)})["rowState"]) == copy
    assert row_state_from(plain({"rowState": row_state_attribute({})})["rowState"]) == {}
    assert row_state_from({"v": "1", "twitter#eac_x": "q1" + str(T0) + ":d"}) is None
    assert row_state_from({"v": "1", "myspace#eac_x": "c1" + str(T0) + ":d"}) is None
    assert row_state_from({"v": "2", "twitter#eac_x": "c1" + str(T0) + ":d"}) is None  # another format
    assert row_state_from({"twitter#eac_x": "c1" + str(T0) + ":d"}) is None
    assert row_state_from("not a map") is None
