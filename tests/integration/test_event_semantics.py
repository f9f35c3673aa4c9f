"""Event semantics of the webhook against moto: ordering, duplicates, deletion, malformed accounts, races, costs."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from social_connections import container
from social_connections.apply_clerk_event import apply_snapshot
from social_connections.clerk_events import ClerkUser, parse_clerk_user
from social_connections.model import ConcurrentModificationError, ConnectionKey, StoredUser
from social_connections.providers import Platform
from social_connections.snapshot_plan import desired_state, plan_sync

from devtools.clerk_payloads import deleted_event, external_account, user_event
from devtools.testkit.table import table_items, user_rows

T0 = 1_716_883_200_000
USER = "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S"
X = "CONNECTION#twitter#eac_x"
IG = "CONNECTION#instagram#eac_ig"
TT = "CONNECTION#tiktok#eac_tt"


def x_account(updated_at: int = T0, **kwargs) -> dict:
    return external_account("eac_x", "oauth_x", updated_at=updated_at, username="ada_x", **kwargs)


def ig_account(updated_at: int = T0, **kwargs) -> dict:
    return external_account("eac_ig", "oauth_instagram", updated_at=updated_at, username="ada.ig", **kwargs)


def tt_account(updated_at: int = T0, **kwargs) -> dict:
    return external_account("eac_tt", "oauth_custom_tiktok", updated_at=updated_at, username="ada_tt", **kwargs)


def snapshot(version: int, *accounts: object, event_type: str = "user.updated") -> dict:
    return user_event(event_type, USER, updated_at=version, accounts=list(accounts))


def statuses() -> dict[str, str]:
    return {sk: row["connectionStatus"] for sk, row in user_rows(USER).items() if sk != "PROFILE"}


def test_user_created_writes_profile_and_connections(deliver):
    response = deliver(snapshot(T0, x_account(scopes="tweet.read users.read"), ig_account(), event_type="user.created"))
    assert response.status == 200
    rows = user_rows(USER)
    assert rows["PROFILE"]["profileStatus"] == "active"
    assert rows["PROFILE"]["version"] == Decimal(T0)
    x = rows[X]
    assert x["userId"] == USER
    assert x["platform"] == "twitter"
    assert x["externalAccountId"] == "eac_x"
    assert x["connectionStatus"] == "connected"
    assert x["platformUsername"] == "ada_x"
    assert x["errorCount"] == 0
    assert x["connectedAt"] == "2024-05-28T08:00:00.000Z"
    assert x["metadata"]["provider"] == "oauth_x"
    assert x["metadata"]["clerkAccountId"] == "eac_x"
    assert x["metadata"]["verificationStatus"] == "verified"
    assert x["metadata"]["approvedScopes"] == ["tweet.read", "users.read"]
    assert "accessToken" not in x and "refreshToken" not in x
    assert rows[IG]["platform"] == "instagram"


@pytest.mark.parametrize(
    ("provider", "platform"),
    [
        ("oauth_x", "twitter"),
        ("oauth_twitter", "twitter"),
        ("x", "twitter"),
        ("twitter", "twitter"),
        ("oauth_instagram", "instagram"),
        ("instagram", "instagram"),
        ("oauth_tiktok", "tiktok"),
        ("tiktok", "tiktok"),
        ("oauth_custom_tiktok", "tiktok"),
    ],
)
def test_prefixed_and_unprefixed_provider_strings(deliver, provider, platform):
    deliver(snapshot(T0, external_account("eac_p", provider, updated_at=T0), event_type="user.created"))
    assert statuses() == {f"CONNECTION#{platform}#eac_p": "connected"}


def test_other_providers_and_legacy_google_shape_are_ignored(deliver):
    google = external_account("idn_g", "oauth_google", updated_at=T0, email="ada@example.com", legacy_google_shape=True)
    github = external_account("eac_gh", "oauth_github", updated_at=T0)
    assert deliver(snapshot(T0, google, github, x_account(), event_type="user.created")).status == 200
    assert statuses() == {X: "connected"}


def test_google_account_id_uses_external_account_id():

    legacy = external_account("idn_legacy", "oauth_tiktok", updated_at=T0, legacy_google_shape=True)
    user = parse_clerk_user(user_event("user.created", USER, updated_at=T0, accounts=[legacy])["data"])
    assert list(desired_state(user).connections) == [ConnectionKey(Platform.TIKTOK, "eac_legacy")]


@pytest.mark.parametrize(
    ("status", "expected"),
    [("verified", "connected"), ("expired", "expired"), ("failed", "error")],
)
def test_verification_status_maps_to_connection_status(deliver, status, expected):
    deliver(snapshot(T0, x_account(status=status), event_type="user.created"))
    assert statuses() == {X: expected}


@pytest.mark.parametrize("status", ["unverified", "transferable", None])
def test_unverified_accounts_are_not_connections(deliver, status):
    deliver(snapshot(T0, x_account(status=status), event_type="user.created"))
    assert statuses() == {}


def test_account_that_becomes_unverified_is_disconnected(deliver):
    deliver(snapshot(T0, x_account(), event_type="user.created"))
    deliver(snapshot(T0 + 1, x_account(updated_at=T0 + 1, status="unverified")))
    assert statuses() == {X: "disconnected"}


def test_vanished_account_is_disconnected_and_connected_at_survives_reconnect(deliver):
    deliver(snapshot(T0, x_account(), tt_account(), event_type="user.created"))
    first_connected_at = user_rows(USER)[TT]["connectedAt"]
    response = deliver(snapshot(T0 + 10, x_account()))
    assert response.body["disconnected"] == 1
    assert statuses() == {X: "connected", TT: "disconnected"}
    deliver(snapshot(T0 + 20, x_account(), tt_account(updated_at=T0 + 20)))
    assert statuses() == {X: "connected", TT: "connected"}
    assert user_rows(USER)[TT]["connectedAt"] == first_connected_at


def test_older_snapshot_never_overwrites_newer(deliver):
    deliver(snapshot(T0 + 100, x_account(updated_at=T0 + 100), event_type="user.updated"))
    late_created = deliver(snapshot(T0, x_account(), ig_account(), event_type="user.created"))
    assert late_created.status == 200
    assert late_created.body["outcome"] == "stale"
    assert statuses() == {X: "connected"}
    assert user_rows(USER)["PROFILE"]["version"] == Decimal(T0 + 100)


def test_duplicate_delivery_changes_nothing_and_costs_one_refused_write(deliver, calls):
    payload = snapshot(T0, x_account(), ig_account(), event_type="user.created")
    deliver(payload, message_id="msg_same")
    before = table_items()
    calls.reset()
    response = deliver(payload, message_id="msg_same")
    assert response.status == 200
    assert response.body["outcome"] == "duplicate"
    assert table_items() == before
    # The new-user transaction is refused and returns the profile, whose version tells the duplicate: no read.
    assert calls.order == ["TransactWriteItems"]


def test_new_users_created_is_one_transaction_and_no_read(deliver, calls):
    response = deliver(snapshot(T0, x_account(), ig_account(), tt_account(), event_type="user.created"))
    assert response.body["upserted"] == 3
    assert calls.order == ["TransactWriteItems"]
    assert len(statuses()) == 3


def test_created_for_a_stored_user_plans_from_the_profile_the_refused_write_returned(deliver, calls):
    deliver(snapshot(T0, x_account(), ig_account()))
    calls.reset()
    response = deliver(snapshot(T0 + 5, x_account(), event_type="user.created"))
    assert (response.body["outcome"], response.body["disconnected"]) == ("applied", 1)
    assert calls.order == ["TransactWriteItems", "TransactWriteItems"]
    assert statuses() == {X: "connected", IG: "disconnected"}


def test_duplicate_user_updated_is_told_from_the_refused_update(deliver, calls):
    deliver(snapshot(T0, x_account(), event_type="user.created"))
    deliver(snapshot(T0 + 5, x_account()))
    calls.reset()
    assert deliver(snapshot(T0 + 5, x_account())).body["outcome"] == "duplicate"
    assert deliver(snapshot(T0 + 1, x_account())).body["outcome"] == "stale"
    assert calls.order == ["UpdateItem", "UpdateItem"]
    assert user_rows(USER)["PROFILE"]["version"] == Decimal(T0 + 5)


def test_unchanged_user_updated_is_one_conditional_update(deliver, calls):
    deliver(snapshot(T0, x_account(), ig_account(), tt_account(), event_type="user.created"))
    calls.reset()
    response = deliver(snapshot(T0 + 5, x_account(), ig_account(), tt_account()))
    assert response.body == {
        "outcome": "applied",
        "type": "user.updated",
        "userId": USER,
        "upserted": 0,
        "disconnected": 0,
    }
    assert calls.order == ["UpdateItem"]
    assert calls.writes == 1
    assert user_rows(USER)["PROFILE"]["version"] == Decimal(T0 + 5)


def test_changed_user_updated_is_the_refused_guess_and_one_transaction(deliver, calls):
    deliver(snapshot(T0, x_account(), event_type="user.created"))
    calls.reset()
    deliver(snapshot(T0 + 5, x_account(), ig_account(), tt_account()))
    # The guess (connections unchanged) is refused and returns the profile, whose copy of the rows plans the change.
    assert calls.order == ["UpdateItem", "TransactWriteItems"]
    assert len(user_rows(USER)["PROFILE"]["snapshotDigest"]) == 32
    assert set(user_rows(USER)["PROFILE"]["rowState"]) == {"v", "twitter#eac_x", "instagram#eac_ig", "tiktok#eac_tt"}


def test_deletion_tombstones_and_wins_over_late_events(deliver):
    deliver(snapshot(T0, x_account(), event_type="user.created"))
    assert deliver(deleted_event(USER)).body["outcome"] == "deleted"
    profile = user_rows(USER)["PROFILE"]
    assert profile["profileStatus"] == "deleted"
    assert set(profile) == {"pk", "sk", "userId", "profileStatus", "deletedAt"}
    for late in (
        snapshot(T0 + 1_000, x_account(updated_at=T0 + 1_000), ig_account()),
        snapshot(T0, x_account(), event_type="user.created"),
    ):
        response = deliver(late)
        assert response.status == 200
        assert response.body["outcome"] == "user_deleted"
    assert statuses() == {X: "connected"}  # the stream function removes it; nothing new was added
    assert user_rows(USER)["PROFILE"]["profileStatus"] == "deleted"


def test_deletion_of_unknown_user_still_blocks_a_late_create(deliver):
    assert deliver(deleted_event("user_never_seen")).body["outcome"] == "deleted"
    late = user_event("user.created", "user_never_seen", updated_at=T0, accounts=[x_account()])
    assert deliver(late).body["outcome"] == "user_deleted"
    assert [row["sk"] for row in table_items()] == ["PROFILE"]


def test_duplicate_deletion_is_one_conditional_write(deliver, calls):
    deliver(deleted_event(USER))
    calls.reset()
    response = deliver(deleted_event(USER))
    assert response.body["outcome"] == "already_deleted"
    assert calls.order == ["PutItem"]


def test_malformed_account_does_not_block_the_others_and_is_recorded(deliver):
    deliver(snapshot(T0, x_account(), ig_account(), event_type="user.created"))
    broken_ig = ig_account(updated_at=T0 + 1)
    broken_ig["updated_at"] = "yesterday"
    broken_ig["username"] = {"not": "a string"}
    response = deliver(snapshot(T0 + 1, x_account(), broken_ig, tt_account(updated_at=T0 + 1)))
    assert response.status == 200
    assert statuses() == {X: "connected", IG: "connected", TT: "connected"}
    ig = user_rows(USER)[IG]
    assert ig["errorCount"] == 1
    assert "invalid external account" in ig["lastError"]
    assert "lastErrorAt" in ig


def test_malformed_account_without_row_or_id_is_skipped(deliver):
    broken = {"provider": "oauth_x", "id": 42}
    response = deliver(snapshot(T0, broken, "not-an-object", ig_account(), event_type="user.created"))
    assert response.status == 200
    assert statuses() == {IG: "connected"}


def x_connected_then_failing(deliver) -> None:
    """X linked, then three publish failures and the stream function's move to `error`."""
    deliver(snapshot(T0, x_account(), event_type="user.created"))
    repository = container.current().store
    key = ConnectionKey(Platform.TWITTER, "eac_x")
    for _ in range(3):
        repository.record_publish_failure(USER, key, "HTTP 401 from the X API")
    assert repository.mark_error(USER, key, threshold=3)


def test_stream_owned_error_state_survives_unchanged_account(deliver):
    x_connected_then_failing(deliver)
    deliver(snapshot(T0 + 1, x_account(), ig_account()))
    x = user_rows(USER)[X]
    assert x["connectionStatus"] == "error"
    assert x["errorCount"] == 3


def test_reverification_clears_error_count(deliver):
    x_connected_then_failing(deliver)
    deliver(snapshot(T0 + 50, x_account(updated_at=T0 + 50)))
    x = user_rows(USER)[X]
    assert x["connectionStatus"] == "connected"
    assert x["errorCount"] == 0


@pytest.mark.usefixtures("atomic_requests")
@pytest.mark.parametrize("attempt", range(5))
def test_racing_deliveries_converge_to_the_newest_snapshot(deliver, attempt):
    deliver(snapshot(T0, x_account(), event_type="user.created"))
    older = snapshot(T0 + 10, x_account(), tt_account(updated_at=T0 + 10))
    newer = snapshot(T0 + 20, ig_account(updated_at=T0 + 20))
    barrier = threading.Barrier(2)
    results: list[int] = []

    def send(payload: dict) -> None:
        barrier.wait()
        results.append(deliver(payload).status)

    order = (older, newer) if attempt % 2 else (newer, older)
    threads = [threading.Thread(target=send, args=(payload,)) for payload in order]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200, 200]
    # Whatever the interleaving, the newest snapshot wins row by row (TT exists only if the older one landed first).
    assert statuses() in (
        {X: "disconnected", IG: "connected"},
        {X: "disconnected", IG: "connected", TT: "disconnected"},
    )
    assert user_rows(USER)["PROFILE"]["version"] == Decimal(T0 + 20)


def write_from_stale_read(user: ClerkUser, stale_read: StoredUser) -> None:
    """What a delivery that read before another writer committed would write, if nothing stopped it."""
    container.current().store.write_snapshot(
        USER,
        plan_sync(desired_state(user), stale_read.connections),
        version=user.updated_at,
        expected=stale_read.profile,
        synced_at="2024-05-28T08:00:00.000Z",
    )


def test_interleaved_stale_plan_is_rejected_by_the_profile_lock(deliver):
    """A writer that read before another committed must re-read, not write its stale diff."""
    deliver(snapshot(T0, x_account(), event_type="user.created"))
    repository = container.current().store
    newest = parse_clerk_user(snapshot(T0 + 20, x_account(), ig_account(updated_at=T0 + 20))["data"])
    middle = parse_clerk_user(snapshot(T0 + 10, tt_account(updated_at=T0 + 10))["data"])
    stale_read = repository.read_user(USER)
    apply_snapshot(repository, middle)
    with pytest.raises(ConcurrentModificationError):
        write_from_stale_read(newest, stale_read)
    apply_snapshot(repository, newest)
    assert statuses() == {X: "connected", IG: "connected", TT: "disconnected"}


def test_snapshot_racing_a_deletion_leaves_no_new_rows(deliver):
    deliver(snapshot(T0, x_account(), event_type="user.created"))
    repository = container.current().store
    update = parse_clerk_user(snapshot(T0 + 1, x_account(), ig_account())["data"])
    read_before_delete = repository.read_user(USER)
    deliver(deleted_event(USER))
    with pytest.raises(ConcurrentModificationError):
        write_from_stale_read(update, read_before_delete)
    assert IG not in user_rows(USER)


def test_more_than_99_changes_are_split_and_still_converge(deliver, calls):
    accounts = [external_account(f"eac_{i:03d}", "oauth_x", updated_at=T0) for i in range(150)]
    response = deliver(snapshot(T0, *accounts, event_type="user.created"))
    assert response.status == 200
    assert calls.calls["TransactWriteItems"] == 2
    assert len(statuses()) == 150
    assert user_rows(USER)["PROFILE"]["version"] == Decimal(T0)
