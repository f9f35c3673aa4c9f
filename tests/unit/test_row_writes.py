"""row_writes: an upsert's UpdateExpression, cached by the plan's shape, is the one built afresh."""

from __future__ import annotations

import itertools

import pytest
from social_connections.model import (
    AccountDetails,
    ConnectionKey,
    ConnectionStatus,
    ConnectionUpsert,
    DesiredConnection,
)
from social_connections.providers import Platform
from social_connections.row_copy import details_digest
from social_connections.storage import row_writes


def _upsert(status: ConnectionStatus | None, platform: Platform, reset: bool, platform_user_id: str | None):
    details = AccountDetails(
        platform_user_id=platform_user_id,
        platform_username="ada",
        account_version=5,
        email=None,
        first_name="Ada",
        last_name=None,
        image_url=None,
        provider="oauth_x",
        clerk_account_id="eac_1",
        verification_status="verified",
        approved_scopes=("read",),
    )
    key, wanted_status = ConnectionKey(platform, "eac_1"), status or ConnectionStatus.CONNECTED
    wanted = DesiredConnection(key, wanted_status, details, details_digest(details))
    return ConnectionUpsert(desired=wanted, set_status=status, reset_errors=reset, is_new=status is not None)


SHAPES = list(itertools.product([None, *ConnectionStatus], list(Platform), [False, True], [None, "p_1"]))


@pytest.mark.parametrize(("status", "platform", "reset", "platform_user_id"), SHAPES)
def test_a_cached_expression_and_its_values_are_those_built_afresh(
    monkeypatch, status, platform, reset, platform_user_id
):
    upsert = _upsert(status, platform, reset, platform_user_id)

    def build() -> dict[str, object]:
        return dict(row_writes.upsert_update("t", "user_1", upsert, version=7, changed_at="c", synced_at="s"))

    monkeypatch.setattr(row_writes, "_UPSERT_EXPRESSIONS", {})
    fresh = build()  # builds the expression and caches it
    assert row_writes._UPSERT_EXPRESSIONS
    assert build() == fresh  # from the cache: the same expression and the same values
