"""The in-memory store answers the platform callbacks' calls as the DynamoDB one does, and keeps the same details
(personal data erased, disconnected rows minimized), for one script of calls against both."""

from __future__ import annotations

from typing import Any

import pytest
from social_connections import container
from social_connections.apply_clerk_event import apply_snapshot
from social_connections.clerk_events import parse_clerk_user
from social_connections.model import ConnectionKey, DeletionStatus, PlatformAccountRow
from social_connections.providers import Platform

from devtools.clerk_payloads import external_account, user_event
from devtools.testkit.memory_store import MemoryConnectionStore

T0 = 1_716_883_200_000
IG = ConnectionKey(Platform.INSTAGRAM, "eac_ig")
TT = ConnectionKey(Platform.TIKTOK, "eac_tt")


@pytest.fixture(params=["memory", "dynamodb"])
def stores(request) -> tuple[Any, Any]:
    """(connection store, platform store): one object in memory, the two DynamoDB stores on one table."""
    if request.param == "memory":
        memory = MemoryConnectionStore()
        return memory, memory
    request.getfixturevalue("table")
    return container.current().store, container.current().platform_store


def link(store: Any, user_id: str, version: int, *, instagram: bool = True) -> None:
    accounts = [external_account("eac_tt", "oauth_tiktok", updated_at=T0, provider_user_id="tt1", username="t")]
    if instagram:
        accounts.append(external_account("eac_ig", "oauth_instagram", updated_at=T0, provider_user_id="ig1"))
    apply_snapshot(
        store,
        parse_clerk_user(user_event("user.updated", user_id, updated_at=version, accounts=accounts)["data"]),
    )


def details(store: Any, user_id: str) -> dict:
    return {key: (row.status, row.details) for key, row in store.read_user(user_id).connections.items()}


def test_platform_calls_agree(stores):
    connections, platform = stores
    link(connections, "user_a", T0)
    link(connections, "user_b", T0)
    found = sorted(platform.find_platform_account(Platform.INSTAGRAM, "ig1"), key=lambda row: row.user_id)
    assert found == [PlatformAccountRow("user_a", IG), PlatformAccountRow("user_b", IG)]
    assert platform.find_platform_account(Platform.TIKTOK, "ig1") == []
    answers = [
        platform.erase_personal_data("user_a", IG),
        platform.erase_personal_data("user_a", ConnectionKey(Platform.INSTAGRAM, "eac_none")),
        platform.mark_revoked("user_a", TT, revoked_at_ms=T0 - 1, reason="r", at="2024-05-28T08:00:00.000Z"),
        platform.mark_revoked("user_a", TT, revoked_at_ms=T0, reason="r", at="2024-05-28T08:00:00.000Z"),
        platform.mark_revoked("user_a", TT, revoked_at_ms=T0, reason="r", at="2024-05-28T08:00:00.000Z"),
    ]
    assert answers == [True, False, False, True, False]
    link(connections, "user_b", T0 + 1, instagram=False)  # disconnects user_b's Instagram
    erased = details(connections, "user_a")[IG][1]
    assert (erased.email, erased.first_name, erased.last_name, erased.image_url, erased.platform_username) == (
        None,
    ) * 5
    assert details(connections, "user_b")[IG][1] == erased
    assert [status.value for status, _ in sorted(details(connections, "user_a").values(), key=str)] == [
        "connected",
        "expired",
    ]


def test_deletion_requests_agree(stores):
    _, platform = stores
    assert platform.read_deletion_request("0" * 20) is None
    platform.open_deletion_request("a" * 20, requested_at=None, received_at="2024-05-28T08:00:00.000Z")
    platform.open_deletion_request("a" * 20, requested_at=None, received_at="2024-05-28T09:00:00.000Z")
    assert platform.read_deletion_request("a" * 20).received_at == "2024-05-28T08:00:00.000Z"
    platform.complete_deletion_request("a" * 20, rows_affected=2, completed_at="2024-05-28T08:00:01.000Z")
    platform.complete_deletion_request("a" * 20, rows_affected=5, completed_at="2024-05-28T09:00:01.000Z")
    done = platform.read_deletion_request("a" * 20)
    assert (done.status, done.rows_affected, done.completed_at) == (
        DeletionStatus.COMPLETED,
        2,
        "2024-05-28T08:00:01.000Z",
    )
