"""The connections API's logic on the in-memory store and a scripted token source: milliseconds, no HTTP, no AWS."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from social_connections.clerk_api import ClerkApiError, ClerkRateLimitedError, ClerkRefusedError
from social_connections.clerk_oauth import OAuthToken
from social_connections.connections_api import ApiDependencies, handle_connections_request
from social_connections.http_api import HttpRequest
from social_connections.model import (
    AccountDetails,
    ConnectionKey,
    ConnectionStatus,
    ConnectionUpsert,
    DesiredConnection,
    SyncPlan,
)
from social_connections.providers import Platform
from social_connections.row_copy import details_digest
from social_connections.settings import SettingsError

from devtools.testkit.memory_store import MemoryConnectionStore

USER = "user_unit"
KEY = ConnectionKey(Platform.TWITTER, "eac_unit_x")


@dataclass
class ScriptedTokens:
    answers: list[list[OAuthToken] | Exception] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def oauth_access_tokens(self, user_id: str, provider: str) -> list[OAuthToken]:
        self.calls.append((user_id, provider))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def account_details() -> AccountDetails:
    return AccountDetails(
        platform_user_id="42",
        platform_username="ada_x",
        account_version=1,
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        image_url=None,
        provider="oauth_x",
        clerk_account_id=KEY.external_account_id,
        verification_status="verified",
        approved_scopes=("tweet.write",),
    )


def seeded() -> MemoryConnectionStore:
    store = MemoryConnectionStore()
    details = account_details()
    desired = DesiredConnection(KEY, ConnectionStatus.CONNECTED, details, details_digest(details))
    plan = SyncPlan(upserts=[ConnectionUpsert(desired, ConnectionStatus.CONNECTED, reset_errors=True, is_new=True)])
    store.write_snapshot(USER, plan, version=1, expected=None, synced_at="2026-01-01T00:00:00.000Z")
    return store


def request(route: str, body: str = "", **params: str) -> HttpRequest:
    return HttpRequest(route, {}, body.encode(), path_parameters=params)


def answer(store: MemoryConnectionStore, req: HttpRequest, tokens: ScriptedTokens | None = None) -> tuple[int, dict]:
    raw = handle_connections_request(req, ApiDependencies(store, lambda: tokens or ScriptedTokens()))
    return int(str(raw["statusCode"])), json.loads(str(raw["body"]))


TOKEN_ROUTE = "GET /users/{userId}/connections/{platform}/token"
RESULTS = "POST /users/{userId}/connections/{platform}/{externalAccountId}/results"


def test_listing_shows_times_and_last_error():
    store = seeded()
    store.record_publish_failure(USER, KEY, "boom")
    status, body = answer(store, request("GET /users/{userId}/connections", userId=USER))
    assert status == 200
    (connection,) = body["connections"]
    assert connection["connectedAt"] == "2026-01-01T00:00:00.000Z" and connection["lastError"] == "boom"
    assert connection["errorCount"] == 1


def test_results_go_through_the_store_methods():
    store = seeded()
    params = {"userId": USER, "platform": "twitter", "externalAccountId": KEY.external_account_id}
    assert answer(store, request(RESULTS, '{"ok": false, "error": "e"}', **params))[0] == 200
    assert store.rows[USER][KEY].error_count == 1
    assert answer(store, request(RESULTS, '{"ok": true}', **params))[0] == 200
    assert store.rows[USER][KEY].error_count == 0


def test_token_outcomes():
    store = seeded()
    fresh = OAuthToken(KEY.external_account_id, "secret-token", 1_800_000_000, ("tweet.write",))
    tokens = ScriptedTokens(
        [
            [fresh],
            ClerkRefusedError(422, "oauth_missing_refresh_token"),
            ClerkRateLimitedError(9),
            ClerkApiError("down"),
            SettingsError("no key"),
            [OAuthToken("eac_other", "t", None, ())],
        ]
    )
    req = request(TOKEN_ROUTE, userId=USER, platform="twitter")
    status, body = answer(store, req, tokens)
    assert status == 200 and body["token"] == "secret-token" and body["expiresAt"] == "2027-01-15T08:00:00.000Z"
    assert tokens.calls == [(USER, "oauth_x")]
    assert answer(store, req, tokens)[0] == 409 and store.rows[USER][KEY].error_count == 1
    assert answer(store, req, tokens)[0] == 503
    assert answer(store, req, tokens)[0] == 503
    assert answer(store, req, tokens)[0] == 500
    assert answer(store, req, tokens)[0] == 409 and store.rows[USER][KEY].error_count == 2
    assert "secret-token" not in repr(fresh)


def test_a_deleted_user_is_404_everywhere():
    store = seeded()
    store.mark_deleted(USER, "2026-01-02T00:00:00.000Z")
    assert answer(store, request("GET /users/{userId}/connections", userId=USER))[0] == 404
    assert answer(store, request(TOKEN_ROUTE, userId=USER, platform="twitter"))[0] == 404
    params = {"userId": USER, "platform": "twitter", "externalAccountId": KEY.external_account_id}
    assert answer(store, request(RESULTS, '{"ok": true}', **params))[0] == 404
