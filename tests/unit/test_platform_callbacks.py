"""Meta's data-deletion callback and TikTok's deauthorization on the in-memory store: every path, in milliseconds.

Signatures are built here with plain hmac, never with the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse

import pytest
from social_connections.apply_clerk_event import apply_snapshot
from social_connections.clerk_events import parse_clerk_user
from social_connections.http_api import HttpRequest
from social_connections.meta_data_deletion import data_deletion_status, receive_data_deletion
from social_connections.model import ConnectionKey, ConnectionStatus, DeletionStatus
from social_connections.providers import Platform
from social_connections.tiktok_deauthorization import receive_tiktok_webhook

from devtools.clerk_payloads import external_account, user_event
from devtools.testkit.memory_store import MemoryConnectionStore

T0 = 1_716_883_200_000
NOW = T0 // 1000 + 3600
META_SECRET = "meta-app-secret"
TIKTOK_SECRET = "tiktok-client-secret"
IG_ID = "17841400000000001"
TT_ID = "act.openid1"
IG = ConnectionKey(Platform.INSTAGRAM, "eac_ig")
TT = ConnectionKey(Platform.TIKTOK, "eac_tt")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def meta_request(user_id: str = IG_ID, *, secret: str = META_SECRET, issued_at: int = NOW) -> HttpRequest:
    encoded = b64url(json.dumps({"algorithm": "HMAC-SHA256", "issued_at": issued_at, "user_id": user_id}).encode())
    signature = b64url(hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest())
    body = urllib.parse.urlencode({"signed_request": f"{signature}.{encoded}"}).encode()
    headers = {"host": "api.example.test", "x-forwarded-proto": "https"}
    return HttpRequest("POST /platforms/meta/data-deletion", headers, body)


def tiktok_request(event: str = "authorization.removed", *, created: int = NOW, signed_at: int = NOW) -> HttpRequest:
    body = json.dumps(
        {"client_key": "ck", "event": event, "create_time": created, "user_openid": TT_ID, "content": '{"reason": 2}'}
    ).encode()
    digest = hmac.new(TIKTOK_SECRET.encode(), f"{signed_at}.".encode() + body, hashlib.sha256).hexdigest()
    return HttpRequest("POST /platforms/tiktok/webhook", {"TikTok-Signature": f"t={signed_at},s={digest}"}, body)


def status_request(code: str) -> HttpRequest:
    return HttpRequest("GET /platforms/meta/data-deletion/{code}", {}, b"", path_parameters={"code": code})


def linked(store: MemoryConnectionStore, user_id: str = "user_1", version: int = T0) -> None:
    accounts = [
        external_account("eac_ig", "oauth_custom_instagram", updated_at=version, provider_user_id=IG_ID, username="a"),
        external_account("eac_tt", "oauth_tiktok", updated_at=version, provider_user_id=TT_ID, username="b"),
    ]
    data = user_event("user.updated", user_id, updated_at=version, accounts=accounts)["data"]
    apply_snapshot(store, parse_clerk_user(data))


def body_of(response: dict) -> dict:
    parsed: dict = json.loads(str(response["body"]))
    return parsed


def meta(store: MemoryConnectionStore, request: HttpRequest | None = None) -> dict:
    return receive_data_deletion(request or meta_request(), store, lambda: META_SECRET)


def tiktok(store: MemoryConnectionStore, request: HttpRequest | None = None) -> dict:
    return receive_tiktok_webhook(request or tiktok_request(), store, lambda: TIKTOK_SECRET, clock=lambda: NOW)


@pytest.fixture
def store() -> MemoryConnectionStore:
    return MemoryConnectionStore()


def test_a_meta_deletion_erases_the_accounts_personal_data_in_every_row_that_names_it(store):
    linked(store, "user_1")
    linked(store, "user_2")
    answer = meta(store)
    assert answer["statusCode"] == 200
    code = body_of(answer)["confirmation_code"]
    assert body_of(answer)["url"] == f"https://api.example.test/platforms/meta/data-deletion/{code}"
    for user_id in ("user_1", "user_2"):
        details = store.rows[user_id][IG].details
        assert (details.email, details.first_name, details.last_name, details.image_url) == (None,) * 4
        assert details.platform_username is None
        assert details.platform_user_id == IG_ID  # the platform id stays, so a replay finds the same rows
        assert store.rows[user_id][TT].details.first_name == "Ada"  # another platform's account is not touched
    assert store.deletion_requests[code].status is DeletionStatus.COMPLETED
    assert store.deletion_requests[code].rows_affected == 2


def test_a_replayed_meta_request_gets_the_same_code_and_one_record(store):
    linked(store)
    first, second = body_of(meta(store)), body_of(meta(store))
    assert first == second
    assert list(store.deletion_requests) == [first["confirmation_code"]]


def test_an_unknown_platform_user_still_gets_a_confirmation_code(store):
    answer = meta(store, meta_request("999"))
    assert answer["statusCode"] == 200
    code = body_of(answer)["confirmation_code"]
    assert store.deletion_requests[code].rows_affected == 0


def test_the_status_url_answers_the_requests_state_and_404_for_other_codes(store):
    code = body_of(meta(store))["confirmation_code"]
    status = data_deletion_status(status_request(code), store)
    assert status["statusCode"] == 200
    assert body_of(status)["status"] == "completed"
    assert body_of(status)["rows_affected"] == 0
    for other in ("0" * 20, "../x", ""):
        assert data_deletion_status(status_request(other), store)["statusCode"] == 404


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        (meta_request(secret="not the app secret"), 401),
        (HttpRequest("POST /platforms/meta/data-deletion", {}, b"other=1"), 401),
        (HttpRequest("POST /platforms/meta/data-deletion", {}, None), 401),
        (HttpRequest("POST /platforms/meta/data-deletion", {}, b"signed_request=" + b"a" * 20_000), 413),
    ],
)
def test_bad_meta_requests_write_nothing(store, request_, status):
    linked(store)
    before = dict(store.rows["user_1"])
    assert meta(store, request_)["statusCode"] == status
    assert store.rows["user_1"] == before
    assert store.deletion_requests == {}


def test_a_tiktok_deauthorization_expires_the_accounts_connection_with_the_reason(store):
    linked(store)
    answer = tiktok(store)
    assert (answer["statusCode"], body_of(answer)["expired"]) == (200, 1)
    assert store.rows["user_1"][TT].status is ConnectionStatus.EXPIRED
    assert store.last_errors[("user_1", TT)] == "TikTok authorization removed: user's account deleted (reason 2)"
    assert store.rows["user_1"][IG].status is ConnectionStatus.CONNECTED


def test_duplicate_tiktok_deliveries_converge(store):
    linked(store)
    tiktok(store)
    again = tiktok(store)
    assert (again["statusCode"], body_of(again)["expired"]) == (200, 0)
    assert store.rows["user_1"][TT].status is ConnectionStatus.EXPIRED


def test_a_late_deauthorization_does_not_expire_an_account_linked_again_after_it(store):
    linked(store, version=T0)
    linked(store, version=(NOW + 60) * 1000)  # the user linked TikTok again after the deauthorization
    assert body_of(tiktok(store))["expired"] == 0
    assert store.rows["user_1"][TT].status is ConnectionStatus.CONNECTED


def test_a_relink_after_the_deauthorization_reconnects(store):
    linked(store)
    tiktok(store)
    linked(store, version=(NOW + 60) * 1000)
    assert store.rows["user_1"][TT].status is ConnectionStatus.CONNECTED


def test_other_tiktok_events_and_unknown_users_are_acknowledged(store):
    linked(store)
    ignored = tiktok(store, tiktok_request("video.publish.completed"))
    assert (ignored["statusCode"], body_of(ignored)["outcome"]) == (200, "ignored")
    assert store.rows["user_1"][TT].status is ConnectionStatus.CONNECTED
    unknown = tiktok(MemoryConnectionStore())
    assert (unknown["statusCode"], body_of(unknown)["rows"]) == (200, 0)


@pytest.mark.parametrize(
    "request_",
    [
        tiktok_request(signed_at=NOW - 301),
        HttpRequest("POST /platforms/tiktok/webhook", {}, b"{}"),
        HttpRequest("POST /platforms/tiktok/webhook", {"tiktok-signature": f"t={NOW},s=00"}, b"{}"),
    ],
)
def test_unsigned_or_stale_tiktok_deliveries_are_401_and_change_nothing(store, request_):
    linked(store)
    assert tiktok(store, request_)["statusCode"] == 401
    assert store.rows["user_1"][TT].status is ConnectionStatus.CONNECTED


def test_signed_tiktok_garbage_is_400():
    body = b'{"event": "authorization.removed"}'
    digest = hmac.new(TIKTOK_SECRET.encode(), f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()
    request = HttpRequest("POST /platforms/tiktok/webhook", {"tiktok-signature": f"t={NOW},s={digest}"}, body)
    assert tiktok(MemoryConnectionStore(), request)["statusCode"] == 400


def test_a_disconnected_row_keeps_no_personal_data(store):
    linked(store)
    apply_snapshot(store, parse_clerk_user(user_event("user.updated", "user_1", updated_at=T0 + 1)["data"]))
    row = store.rows["user_1"][IG]
    assert row.status is ConnectionStatus.DISCONNECTED
    assert (row.details.email, row.details.first_name, row.details.image_url, row.details.platform_username) == (
        None,
    ) * 4
