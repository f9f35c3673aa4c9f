"""The connections API's handler on moto, with Clerk's Backend API played by the local fake on 127.0.0.1: every route,
bad input of every field, Clerk's refusals and rate limits, DynamoDB failures, and no token in any log line."""

from __future__ import annotations

import importlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from social_connections import connections_api, container

from devtools.clerk_payloads import deleted_event, external_account, user_event
from devtools.fake_clerk_api import FakeClerkApi, FakeClerkUsers
from devtools.testkit.deliveries import HttpResponse, http_api_event, invoke_http

T0 = 1_716_883_200_000
USER = "user_api"
X_ACCOUNT = "eac_api_x"
TIKTOK_ACCOUNT = "eac_api_tt"
LIST = "GET /users/{userId}/connections"
RESULTS = "POST /users/{userId}/connections/{platform}/{externalAccountId}/results"
TOKEN = "GET /users/{userId}/connections/{platform}/token"
Call = Callable[..., HttpResponse]


def accounts() -> list[dict[str, Any]]:
    return [
        external_account(X_ACCOUNT, "oauth_x", updated_at=T0, username="ada_x", scopes="tweet.read tweet.write"),
        external_account(TIKTOK_ACCOUNT, "oauth_custom_tiktok", updated_at=T0),
    ]


@pytest.fixture
def clerk(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClerkApi]:
    with FakeClerkApi(FakeClerkUsers()) as api:
        monkeypatch.setenv("CLERK_API_URL", api.url)
        monkeypatch.setenv("CLERK_SECRET_KEY", api.secret_key)
        api.users.put(user_event("user.created", USER, updated_at=T0, accounts=accounts())["data"])
        yield api


@pytest.fixture
def call(clerk: FakeClerkApi, table: str, deliver: Any) -> Call:
    """Seed USER through the real webhook, then call the API's handler as API Gateway would."""
    assert deliver(user_event("user.created", USER, updated_at=T0, accounts=accounts())).status == 200
    module = importlib.import_module("functions.connections_api.app")

    def send(route: str, *, body: str | None = None, sub: str | None = None, query: dict | None = None, **params: str):
        method, _, template = route.partition(" ")
        path = template
        for name, value in params.items():
            path = path.replace("{" + name + "}", value)
        event = http_api_event(body or "", {"content-type": "application/json"}, path=path, method=method)
        event["routeKey"] = route
        if params:
            event["pathParameters"] = params
        if query:
            event["queryStringParameters"] = query
        if sub is not None:
            event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": sub}, "scopes": None}}
        return invoke_http(module.lambda_handler, event)

    return send


def row(store: Any, account: str = X_ACCOUNT) -> Any:
    return next(r for r in store.read_user(USER).connections.values() if r.key.external_account_id == account)


# ---- listing --------------------------------------------------------------------------------------------------------


def test_me_lists_the_signed_in_users_connections_without_pii(call: Call):
    answer = call("GET /me/connections", sub=USER)
    assert answer.status == 200
    assert answer.body["userId"] == USER
    by_account = {c["externalAccountId"]: c for c in answer.body["connections"]}
    assert set(by_account) == {X_ACCOUNT, TIKTOK_ACCOUNT}
    x = by_account[X_ACCOUNT]
    assert x["platform"] == "twitter" and x["status"] == "connected" and x["username"] == "ada_x"
    assert x["errorCount"] == 0 and x["lastError"] is None and x["connectedAt"] and x["updatedAt"]
    assert x["imageUrl"] == "https://img.clerk.com/placeholder"
    assert "Ada" not in json.dumps(answer.body) and "email" not in json.dumps(answer.body)


def test_me_without_a_verified_subject_is_401(call: Call):
    assert call("GET /me/connections").status == 401


def test_internal_list_and_unknown_or_deleted_users(call: Call, deliver: Any):
    assert call(LIST, userId=USER).body == call("GET /me/connections", sub=USER).body
    assert call(LIST, userId="user_nobody").status == 404
    assert call("GET /me/connections", sub="user_nobody").status == 404
    assert deliver(deleted_event(USER)).status == 200
    assert call(LIST, userId=USER).status == 404


@pytest.mark.parametrize("user_id", ["nobody", "user_", "user_a/b", "user_" + "a" * 101, "user_ä", "USER_x"])
def test_malformed_user_id_is_400(call: Call, user_id: str):
    answer = call(LIST, userId=user_id)
    assert answer.status == 400 and "userId" in answer.body["error"]


def test_unknown_route_is_404(call: Call):
    assert call("DELETE /users/{userId}/connections", userId=USER).status == 404


# ---- publish results ----------------------------------------------------------------------------------------------


def test_results_record_failure_then_success(call: Call, store: Any):
    failed = call(
        RESULTS,
        body='{"ok": false, "error": "rate limited by X"}',
        userId=USER,
        platform="twitter",
        externalAccountId=X_ACCOUNT,
    )
    assert failed.status == 200 and failed.body["recorded"] == "failure"
    assert row(store).error_count == 1 and row(store).times.last_error == "rate limited by X"
    listed = call(LIST, userId=USER).body["connections"]
    assert next(c for c in listed if c["externalAccountId"] == X_ACCOUNT)["lastError"] == "rate limited by X"
    ok = call(RESULTS, body='{"ok": true}', userId=USER, platform="twitter", externalAccountId=X_ACCOUNT)
    assert ok.status == 200 and ok.body["recorded"] == "success"
    assert row(store).error_count == 0
    # A success on a row with nothing to reset is still a success.
    assert (
        call(RESULTS, body='{"ok": true}', userId=USER, platform="twitter", externalAccountId=X_ACCOUNT).status == 200
    )


def test_results_never_change_the_status(call: Call, store: Any):
    for _ in range(5):
        call(RESULTS, body='{"ok": false, "error": "x"}', userId=USER, platform="twitter", externalAccountId=X_ACCOUNT)
    assert row(store).status.value == "connected"  # the stream function owns connected -> error


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("", "body"),
        ("not json", "body"),
        ("[]", "body"),
        ("{}", "ok"),
        ('{"ok": "true"}', "ok"),
        ('{"ok": 1}', "ok"),
        ('{"ok": null}', "ok"),
        ('{"ok": false}', "error"),
        ('{"ok": false, "error": ""}', "error"),
        ('{"ok": false, "error": 5}', "error"),
        ('{"ok": false, "error": "' + "e" * 501 + '"}', "error"),
        ('{"ok": true, "error": "why"}', "error"),
        ('{"ok": true, "extra": 1}', "extra"),
        ('{"ok": false, "error": "' + "e" * 20000 + '"}', "16384"),
    ],
)
def test_bad_result_bodies_are_400_with_the_reason(call: Call, store: Any, body: str, field: str):
    answer = call(RESULTS, body=body, userId=USER, platform="twitter", externalAccountId=X_ACCOUNT)
    assert answer.status == 400
    assert field in answer.body["error"] or field == "body"
    assert row(store).error_count == 0


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"userId": "bad", "platform": "twitter", "externalAccountId": X_ACCOUNT}, 400, "userId"),
        ({"userId": USER, "platform": "facebook", "externalAccountId": X_ACCOUNT}, 400, "platform"),
        ({"userId": USER, "platform": "twitter", "externalAccountId": "eac-x!"}, 400, "externalAccountId"),
        ({"userId": USER, "platform": "twitter", "externalAccountId": "eac_unknown"}, 404, "connection"),
        ({"userId": USER, "platform": "tiktok", "externalAccountId": X_ACCOUNT}, 404, "connection"),
        ({"userId": "user_nobody", "platform": "twitter", "externalAccountId": X_ACCOUNT}, 404, "user"),
    ],
)
def test_bad_or_unknown_result_paths(call: Call, params: dict, status: int, field: str):
    answer = call(RESULTS, body='{"ok": true}', **params)
    assert answer.status == status and field in answer.body["error"]


# ---- tokens ---------------------------------------------------------------------------------------------------------


def test_token_comes_fresh_from_clerk_and_is_not_cached(call: Call, clerk: FakeClerkApi):
    answer = call(TOKEN, userId=USER, platform="twitter")
    assert answer.status == 200
    assert answer.body["token"].startswith("fake-token-")
    assert answer.body["externalAccountId"] == X_ACCOUNT
    assert answer.body["scopes"] == ["tweet.read", "tweet.write"]
    assert answer.body["expiresAt"].endswith("Z")
    assert answer.headers["Cache-Control"] == "no-store"
    assert clerk.requests[-1] == f"/v1/users/{USER}/oauth_access_tokens/oauth_x"
    assert call(TOKEN, userId=USER, platform="twitter").body["token"] != answer.body["token"]


def test_token_uses_the_stored_provider_of_a_custom_one(call: Call, clerk: FakeClerkApi):
    assert call(TOKEN, userId=USER, platform="tiktok").status == 200
    assert clerk.requests[-1].endswith("/oauth_access_tokens/oauth_custom_tiktok")


@pytest.mark.parametrize("code", ["oauth_missing_refresh_token", "oauth_token_retrieval_error"])
def test_clerk_refusing_is_a_failure_on_the_row_and_asks_to_reconnect(
    call: Call, clerk: FakeClerkApi, store: Any, code: str
):
    clerk.token_errors[(USER, "oauth_x")] = code
    answer = call(TOKEN, userId=USER, platform="twitter")
    assert answer.status == 409 and answer.body["reconnect"] is True and code in answer.body["error"]
    assert row(store).error_count == 1 and code in (row(store).times.last_error or "")


def test_clerk_without_a_token_for_the_account_is_a_failure(call: Call, clerk: FakeClerkApi, store: Any):
    user = clerk.users.get(USER)
    assert user is not None
    clerk.users.put({**user, "external_accounts": []})
    answer = call(TOKEN, userId=USER, platform="twitter")
    assert answer.status == 409 and answer.body["reconnect"] is True
    assert row(store).error_count == 1


def test_clerk_rate_limiting_is_503_with_its_retry_after(call: Call, clerk: FakeClerkApi, store: Any):
    clerk.retry_after_seconds = 7
    clerk.fail_next(429)
    answer = call(TOKEN, userId=USER, platform="twitter")
    assert answer.status == 503 and answer.headers["Retry-After"] == "7"
    assert row(store).error_count == 0  # our limit, not the user's account


@pytest.mark.parametrize("status", [500, 503])
def test_clerk_failing_is_503_with_retry_after(call: Call, clerk: FakeClerkApi, status: int):
    clerk.fail_next(status)
    answer = call(TOKEN, userId=USER, platform="twitter")
    assert answer.status == 503 and int(answer.headers["Retry-After"]) > 0


def test_clerk_unreachable_is_503(call: Call, clerk: FakeClerkApi, monkeypatch: pytest.MonkeyPatch):
    client = container.current().clerk_client
    monkeypatch.setattr(client, "_base", "http://127.0.0.1:9/v1")  # the discard port: nothing listens
    answer = call(TOKEN, userId=USER, platform="twitter")
    assert answer.status == 503 and answer.headers["Retry-After"]


def test_a_wrong_clerk_key_is_our_500_not_the_users_problem(call: Call, clerk: FakeClerkApi, store: Any):
    clerk.secret_key = "sk_test_rotated"
    answer = call(TOKEN, userId=USER, platform="twitter")
    assert answer.status == 500 and row(store).error_count == 0


@pytest.mark.parametrize(
    ("params", "query", "status"),
    [
        ({"userId": USER, "platform": "myspace"}, None, 400),
        ({"userId": "user-x", "platform": "twitter"}, None, 400),
        ({"userId": USER, "platform": "instagram"}, None, 404),
        ({"userId": "user_nobody", "platform": "twitter"}, None, 404),
        ({"userId": USER, "platform": "twitter"}, {"externalAccountId": "eac_other"}, 404),
        ({"userId": USER, "platform": "twitter"}, {"externalAccountId": "bad id"}, 400),
        ({"userId": USER, "platform": "twitter"}, {"externalAccountId": X_ACCOUNT}, 200),
    ],
)
def test_token_paths(call: Call, params: dict, query: dict | None, status: int):
    assert call(TOKEN, query=query, **params).status == status


def test_several_accounts_on_a_platform_must_be_named(call: Call, clerk: FakeClerkApi, deliver: Any):
    two = [*accounts(), external_account("eac_api_x2", "oauth_x", updated_at=T0 + 1)]
    assert deliver(user_event("user.updated", USER, updated_at=T0 + 1, accounts=two)).status == 200
    clerk.users.put(user_event("user.updated", USER, updated_at=T0 + 1, accounts=two)["data"])
    assert call(TOKEN, userId=USER, platform="twitter").status == 400
    named = call(TOKEN, query={"externalAccountId": "eac_api_x2"}, userId=USER, platform="twitter")
    assert named.status == 200 and named.body["externalAccountId"] == "eac_api_x2"


def test_no_token_reaches_any_log_line(call: Call, clerk: FakeClerkApi, caplog: pytest.LogCaptureFixture):
    """The function's own JSON log lines at DEBUG, and every library's records, hold neither token nor Clerk's key."""
    app = importlib.import_module("functions.connections_api.app")
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(app.logger.registered_formatter)
    level = app.logger.log_level
    # The logic's child logger too: imported at collection, it may hang under another service name than the handler's.
    loggers = [app.logger, connections_api.logger]
    for logger in loggers:
        logger.addHandler(handler)
    app.logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        tokens = [call(TOKEN, userId=USER, platform=p).body["token"] for p in ("twitter", "tiktok")]
        clerk.token_errors[(USER, "oauth_x")] = "oauth_token_retrieval_error"
        assert call(TOKEN, userId=USER, platform="twitter").status == 409
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        app.logger.setLevel(level)
    text = lines.getvalue() + caplog.text + "\n".join(str(record.__dict__) for record in caplog.records)
    assert '"Clerk refused a token"' in lines.getvalue() and "oauth_token_retrieval_error" in text  # logs captured
    assert all(token not in text for token in tokens)
    assert clerk.secret_key not in text


# ---- our own failures ----------------------------------------------------------------------------------------------


def test_dynamodb_failure_is_503_with_retry_after(call: Call, monkeypatch: pytest.MonkeyPatch):
    def unavailable(*_: Any, **__: Any) -> Any:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "Query")

    monkeypatch.setattr(container.current().store, "read_user", unavailable)
    answer = call(LIST, userId=USER)
    assert answer.status == 503 and answer.headers["Retry-After"]
