"""The snapshot rules: a Clerk snapshot + stored rows -> the writes to make, and nothing more."""

from __future__ import annotations

import pytest
from social_connections.clerk_events import ClerkUser, parse_clerk_user
from social_connections.model import ConnectionKey, ConnectionStatus, StoredConnection
from social_connections.providers import Platform, ProviderMap, platform_for
from social_connections.snapshot_plan import DesiredState, desired_state, plan_sync

from devtools.clerk_payloads import external_account, user_event

T0 = 1_716_883_200_000
X = ConnectionKey(Platform.TWITTER, "eac_x")
TT = ConnectionKey(Platform.TIKTOK, "eac_tt")


def user(*accounts: object, updated_at: int = T0) -> ClerkUser:
    return parse_clerk_user(
        user_event("user.updated", "user_1", updated_at=updated_at, accounts=list(accounts))["data"]
    )


def x(updated_at: int = T0, status: str | None = "verified") -> dict:
    return external_account("eac_x", "oauth_x", updated_at=updated_at, status=status, username="ada")


def stored_from(state: DesiredState, status: ConnectionStatus | None = None, errors: int = 0) -> dict:
    return {
        key: StoredConnection(key=key, status=status or wanted.status, error_count=errors, details=wanted.details)
        for key, wanted in state.connections.items()
    }


@pytest.mark.parametrize(
    ("provider", "platform"),
    [
        ("oauth_x", Platform.TWITTER),
        ("OAUTH_X", Platform.TWITTER),
        (" tiktok ", Platform.TIKTOK),
        ("oauth_google", None),
    ],
)
def test_platform_for(provider, platform):
    assert platform_for(provider) is platform


def test_platform_for_nothing():
    assert platform_for(None) is None
    assert platform_for("") is None


def test_new_account_is_created_connected_with_clean_error_count():
    plan = plan_sync(desired_state(user(x())), {})
    assert [(u.desired.key, u.set_status, u.reset_errors, u.is_new) for u in plan.upserts] == [
        (X, ConnectionStatus.CONNECTED, True, True)
    ]
    assert plan.disconnects == []


def test_unchanged_snapshot_plans_nothing():
    state = desired_state(user(x()))
    assert plan_sync(state, stored_from(state)).is_empty


def test_error_state_is_kept_for_an_unchanged_account():
    state = desired_state(user(x()))
    assert plan_sync(state, stored_from(state, ConnectionStatus.ERROR, errors=4)).is_empty


def test_reverification_reconnects_and_clears_errors():
    stored = stored_from(desired_state(user(x())), ConnectionStatus.ERROR, errors=4)
    plan = plan_sync(desired_state(user(x(updated_at=T0 + 1))), stored)
    assert [(u.set_status, u.reset_errors) for u in plan.upserts] == [(ConnectionStatus.CONNECTED, True)]


def test_changed_details_keep_the_status_untouched():
    state = desired_state(user(x()))
    stored = {
        key: row._replace(details=row.details._replace(platform_username="old"))
        for key, row in stored_from(state).items()
    }
    plan = plan_sync(state, stored)
    assert [(u.set_status, u.reset_errors, u.is_new) for u in plan.upserts] == [(None, False, False)]


def test_vanished_and_unverified_accounts_are_disconnected_once():
    state = desired_state(user(x()))
    stored = stored_from(state)
    assert plan_sync(desired_state(user()), stored).disconnects == [X]
    assert plan_sync(desired_state(user(x(status="unverified"))), stored).disconnects == [X]
    already = stored_from(state, ConnectionStatus.DISCONNECTED)
    assert plan_sync(desired_state(user()), already).is_empty


def test_expired_and_failed_verifications():
    expired = desired_state(user(x(status="expired")))
    assert expired.connections[X].status is ConnectionStatus.EXPIRED
    failed = desired_state(user(x(status="failed")))
    assert failed.connections[X].status is ConnectionStatus.ERROR


def test_malformed_entry_is_isolated_and_its_row_is_neither_disconnected_nor_rewritten():
    stored = stored_from(desired_state(user(x())))
    broken = x()
    broken["updated_at"] = None
    tiktok = external_account("eac_tt", "oauth_tiktok", updated_at=T0)
    state = desired_state(user(broken, tiktok))
    assert list(state.connections) == [TT]
    assert [item.key for item in state.malformed] == [X]
    plan = plan_sync(state, stored)
    assert plan.disconnects == []
    assert [f.key for f in plan.failures] == [X]
    assert [u.desired.key for u in plan.upserts] == [TT]


def test_malformed_reason_never_contains_the_input_values():
    broken = x()
    broken["email_address"] = ["ada@example.com"]
    state = desired_state(user(broken))
    assert "ada@example.com" not in state.malformed[0].reason
    assert "email_address" in state.malformed[0].reason


def test_non_object_entries_and_unreadable_ids_are_reported_without_a_key():
    state = desired_state(user("text", {"provider": "oauth_x", "id": "bad id#1"}))
    assert [item.key for item in state.malformed] == [None, None]


def test_scopes_are_split_and_sorted():
    account = external_account("eac_x", "oauth_x", updated_at=T0, scopes="users.read tweet.read  tweet.read")
    assert desired_state(user(account)).connections[X].details.approved_scopes == ("tweet.read", "users.read")


# ---- providers the deployment does not map, custom providers, and tokens the platform revoked ------------------


def test_accounts_of_unmapped_providers_are_listed_by_provider_name():
    google = external_account("eac_g", "oauth_google", updated_at=T0)
    custom = external_account("eac_c", "oauth_custom_mastodon", updated_at=T0)
    state = desired_state(user(x(), google, custom, {"id": "eac_n"}))
    assert list(state.connections) == [X]
    assert state.unmapped_providers == ("<missing>", "oauth_custom_mastodon", "oauth_google")


def test_a_custom_provider_is_stored_through_the_deployments_aliases():
    account = external_account("eac_ig", "oauth_custom_ig", updated_at=T0)
    assert desired_state(user(account)).unmapped_providers == ("oauth_custom_ig",)
    aliased = desired_state(user(account), ProviderMap({"oauth_custom_ig": Platform.INSTAGRAM}))
    assert list(aliased.connections) == [ConnectionKey(Platform.INSTAGRAM, "eac_ig")]
    assert aliased.unmapped_providers == ()


def test_a_token_revoked_by_the_platform_stays_expired_until_the_account_is_verified_again():
    state = desired_state(user(x()))
    revoked = stored_from(state, ConnectionStatus.EXPIRED)  # Clerk still says verified: the platform revoked it
    assert plan_sync(state, revoked).is_empty
    relinked = plan_sync(desired_state(user(x(updated_at=T0 + 1))), revoked)
    assert [u.set_status for u in relinked.upserts] == [ConnectionStatus.CONNECTED]


def test_an_account_clerk_reported_expired_reconnects_when_clerk_says_verified():
    expired_in_clerk = stored_from(desired_state(user(x(status="expired"))))
    plan = plan_sync(desired_state(user(x())), expired_in_clerk)
    assert [u.set_status for u in plan.upserts] == [ConnectionStatus.CONNECTED]
