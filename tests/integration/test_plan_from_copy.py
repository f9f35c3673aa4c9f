"""A changed user.updated in two round trips, planned from the profile's copy of its rows, and each fallback (B3).

Counted as test_event_semantics counts them (one entry per DynamoDB call), on the real handler and table.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from social_connections import container
from social_connections.apply_clerk_event import apply_snapshot
from social_connections.clerk_events import parse_clerk_user
from social_connections.model import ConnectionKey
from social_connections.providers import Platform

from devtools.testkit.table import user_rows
from tests.integration.test_event_semantics import IG, T0, TT, USER, X, ig_account, snapshot, tt_account, x_account

X_KEY = ConnectionKey(Platform.TWITTER, "eac_x")
PLANNED_FROM_THE_COPY = ["UpdateItem", "TransactWriteItems"]
REFUSED_THEN_READ = ["UpdateItem", "TransactWriteItems", "Query", "TransactWriteItems"]


def profile() -> dict[str, Any]:
    return user_rows(USER)["PROFILE"]


def test_the_copy_follows_every_snapshot_write_and_each_row_carries_its_digest(deliver):
    deliver(snapshot(T0, x_account(), ig_account(), event_type="user.created"))
    deliver(snapshot(T0 + 5, x_account(scopes="tweet.read")))
    rows = user_rows(USER)
    copy = profile()["rowState"]
    assert copy["twitter#eac_x"] == f"c1{T0}:{rows[X]['detailsDigest']}"
    assert copy["instagram#eac_ig"] == f"d1{T0}:"  # disconnected: no personal data, so no digest of it
    assert "detailsDigest" not in rows[IG]


def test_a_stream_status_change_since_the_copy_still_plans_from_it(deliver, calls):
    deliver(snapshot(T0, x_account(), event_type="user.created"))
    store = container.current().store
    store.record_publish_failure(USER, X_KEY, "HTTP 401 from the X API")
    assert store.mark_error(USER, X_KEY, threshold=1)
    calls.reset()
    assert deliver(snapshot(T0 + 5, x_account(), ig_account())).body["upserted"] == 1
    assert calls.order == PLANNED_FROM_THE_COPY
    # An unchanged verified account keeps what the stream function made of it, as read-and-plan would.
    assert (user_rows(USER)[X]["connectionStatus"], user_rows(USER)[X]["errorCount"]) == ("error", 1)


def test_a_callback_erasure_since_the_copy_refuses_the_plan_and_reads(deliver, calls):
    deliver(snapshot(T0, x_account(), event_type="user.created"))
    assert container.current().platform_store.erase_personal_data(USER, X_KEY)
    calls.reset()
    assert deliver(snapshot(T0 + 5, x_account(), ig_account())).body["upserted"] == 2
    assert calls.order == REFUSED_THEN_READ
    x = user_rows(USER)[X]
    assert (x["platformUsername"], x["metadata"]["firstName"]) == ("ada_x", "Ada")  # as read-and-plan restores it
    assert profile()["rowState"]["twitter#eac_x"].endswith(x["detailsDigest"])


def test_a_platform_revocation_of_an_account_clerk_reports_failed_refuses_the_plan(deliver, calls):
    deliver(snapshot(T0, x_account(status="failed"), event_type="user.created"))
    revoked = container.current().platform_store.mark_revoked(
        USER, X_KEY, revoked_at_ms=T0 + 1, reason="authorization.removed", at="2024-05-28T08:00:01.000Z"
    )
    assert revoked
    calls.reset()
    deliver(snapshot(T0 + 5, x_account(status="failed"), ig_account()))
    assert calls.order == REFUSED_THEN_READ
    assert user_rows(USER)[X]["connectionStatus"] == "error"


def test_a_concurrent_snapshot_after_the_guess_refuses_the_plan_and_the_newest_wins(deliver, calls):
    deliver(snapshot(T0, x_account(), event_type="user.created"))
    store = container.current().store
    newer = parse_clerk_user(snapshot(T0 + 20, x_account(), tt_account(updated_at=T0 + 20))["data"])
    raced: list[str] = []

    def newer_snapshot_first(**_: Any) -> None:
        if not raced:  # once, just before the transaction planned from the copy
            raced.append("raced")
            apply_snapshot(store, newer)

    container.current().dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", newer_snapshot_first)
    calls.reset()
    assert deliver(snapshot(T0 + 10, x_account(), ig_account())).body["outcome"] == "stale"
    assert calls.order[:2] == ["UpdateItem", "TransactWriteItems"]
    assert calls.order[-1] == "Query"
    assert set(user_rows(USER)) == {"PROFILE", X, TT}
    assert profile()["version"] == Decimal(T0 + 20)


def test_a_profile_written_before_the_copy_reads_once_then_carries_one(deliver, calls):
    deliver(snapshot(T0, x_account(), event_type="user.created"))
    container.current().dynamodb.update_item(
        TableName=container.current().settings.table_name,
        Key={"pk": {"S": f"USER#{USER}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="REMOVE rowState",
    )
    calls.reset()
    deliver(snapshot(T0 + 5, x_account(), ig_account()))
    assert calls.order == ["UpdateItem", "Query", "TransactWriteItems"]
    calls.reset()
    deliver(snapshot(T0 + 10, x_account(), ig_account(), tt_account()))
    assert calls.order == PLANNED_FROM_THE_COPY


def test_rows_written_before_digests_are_never_assumed(deliver, calls):
    deliver(snapshot(T0, x_account(), event_type="user.created"))
    client, table = container.current().dynamodb, container.current().settings.table_name
    client.update_item(
        TableName=table, Key={"pk": {"S": f"USER#{USER}"}, "sk": {"S": X}}, UpdateExpression="REMOVE detailsDigest"
    )
    client.update_item(
        TableName=table, Key={"pk": {"S": f"USER#{USER}"}, "sk": {"S": "PROFILE"}}, UpdateExpression="REMOVE rowState"
    )
    deliver(snapshot(T0 + 5, x_account(), ig_account()))
    assert profile()["rowState"]["twitter#eac_x"] == f"c1{T0}:"  # X's details are not known to match a digest
    calls.reset()
    deliver(snapshot(T0 + 10, x_account(), ig_account(), tt_account()))
    assert calls.order == ["UpdateItem", "Query", "TransactWriteItems"]
    assert set(user_rows(USER)) == {"PROFILE", X, IG, TT}


def test_the_profile_of_a_user_with_three_connections_stays_one_write_unit(deliver):
    deliver(snapshot(T0, x_account(), ig_account(), tt_account(), event_type="user.created"))
    deliver(snapshot(T0 + 5, x_account(scopes="tweet.read users.read offline.access"), ig_account(), tt_account()))
    assert item_size(profile()) < 600  # 1 KB is one write unit; the copy is about 75 bytes a row


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size, from its documented rules (names and values in UTF-8, numbers about 1 byte per 2 digits,
    3 bytes per map plus 1 per element), rounded up: an upper bound is enough here."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: object) -> int:
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, Decimal):
        return len(str(value)) // 2 + 2
    if isinstance(value, dict):
        return 3 + sum(len(name.encode()) + _value_size(inner) + 1 for name, inner in value.items())
    raise AssertionError(f"no size rule for {type(value).__name__}")
