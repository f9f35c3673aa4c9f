"""Every path of acting on a table change, on the in-memory store."""

from __future__ import annotations

import pytest
from social_connections.apply_clerk_event import apply_deletion, apply_snapshot
from social_connections.apply_stream_change import StreamAction, apply_stream_change
from social_connections.clerk_events import parse_clerk_user
from social_connections.model import ConnectionKey, ConnectionStatus
from social_connections.providers import Platform

from devtools.clerk_payloads import external_account, user_event
from devtools.testkit.memory_store import MemoryConnectionStore

T0 = 1_716_883_200_000
USER = "user_stream_unit"
X = ConnectionKey(Platform.TWITTER, "eac_x")
THRESHOLD = 3


def image(status: str, errors: int, verification: str = "verified", **extra: object) -> dict[str, object]:
    """A connection row's new image, deserialized to plain values as the stream logic reads it."""
    return {
        "pk": f"USER#{USER}",
        "sk": "CONNECTION#twitter#eac_x",
        "userId": USER,
        "platform": "twitter",
        "externalAccountId": "eac_x",
        "connectionStatus": status,
        "errorCount": errors,
        "metadata": {"verificationStatus": verification},
        **extra,
    }


@pytest.fixture
def store() -> MemoryConnectionStore:
    store = MemoryConnectionStore()
    account = external_account("eac_x", "oauth_x", updated_at=T0)
    apply_snapshot(store, parse_clerk_user(user_event("user.created", USER, updated_at=T0, accounts=[account])["data"]))
    return store


def fail(store: MemoryConnectionStore, times: int) -> None:
    for _ in range(times):
        store.record_publish_failure(USER, X, "403")


def test_a_tombstone_removes_the_users_connections(store):
    apply_deletion(store, USER)
    tombstone = {"pk": f"USER#{USER}", "sk": "PROFILE", "userId": USER, "profileStatus": "deleted"}
    change = apply_stream_change(tombstone, store, THRESHOLD)
    assert (change.action, change.user_id, change.removed) == (StreamAction.CLEANUP, USER, 1)
    assert USER not in store.rows


def test_failures_at_the_threshold_move_a_connected_row_to_error(store):
    fail(store, THRESHOLD)
    change = apply_stream_change(image("connected", THRESHOLD), store, THRESHOLD)
    assert (change.action, change.key) == (StreamAction.ERROR, X)
    assert store.rows[USER][X].status is ConnectionStatus.ERROR


def test_failures_below_the_threshold_change_nothing(store):
    fail(store, THRESHOLD - 1)
    assert apply_stream_change(image("connected", THRESHOLD - 1), store, THRESHOLD).action is StreamAction.SKIPPED
    assert store.rows[USER][X].status is ConnectionStatus.CONNECTED


def test_a_stale_image_is_rechecked_against_the_stored_row(store):
    # The image says 3 failures, but a success already reset the row: the conditional write refuses.
    assert apply_stream_change(image("connected", THRESHOLD), store, THRESHOLD).action is StreamAction.SKIPPED
    assert store.rows[USER][X].status is ConnectionStatus.CONNECTED


def test_an_error_row_back_at_zero_failures_recovers(store):
    fail(store, THRESHOLD)
    apply_stream_change(image("connected", THRESHOLD), store, THRESHOLD)
    store.record_publish_success(USER, X)
    change = apply_stream_change(image("error", 0), store, THRESHOLD)
    assert change.action is StreamAction.CONNECTED
    assert store.rows[USER][X].status is ConnectionStatus.CONNECTED


def test_no_recovery_while_clerk_says_the_account_failed(store):
    row = store.rows[USER][X]
    store.rows[USER][X] = row._replace(
        status=ConnectionStatus.ERROR, details=row.details._replace(verification_status="failed")
    )
    assert apply_stream_change(image("error", 0, "failed"), store, THRESHOLD).action is StreamAction.SKIPPED


@pytest.mark.parametrize(
    "new_image",
    [None, {}, {"pk": f"USER#{USER}", "sk": "PROFILE", "userId": USER, "profileStatus": "active"}, {"sk": "OTHER#1"}],
)
def test_anything_else_is_skipped(store, new_image):
    assert apply_stream_change(new_image, store, THRESHOLD).action is StreamAction.SKIPPED
