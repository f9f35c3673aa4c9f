"""PlatformCallbacksFunction through its real lambda_handler on moto (and DynamoDB Local): Meta's data-deletion
callback, TikTok's authorization.removed, the PlatformUserIndex kept exact by the webhook's writes, personal data
gone from disconnected rows, and unmapped providers counted. Signatures are computed here with plain hmac."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import time
import urllib.parse
from types import ModuleType

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError
from social_connections import container

from devtools.clerk_payloads import external_account, user_event
from devtools.testkit.aws import TEST_TABLE_NAME
from devtools.testkit.deliveries import HttpResponse, http_api_event, invoke_http
from devtools.testkit.functions import configured, install_container
from devtools.testkit.logs import emf_blobs, log_lines
from devtools.testkit.table import table_items, user_rows
from tests.reliability.support import contract_violations, copy_violations

T0 = 1_716_883_200_000
META_SECRET = "meta-app-secret-for-tests"
TIKTOK_SECRET = "tiktok-client-secret-for-tests"
IG_ID = "17841400000000001"
TT_ID = "act.openid.tests"
PERSONAL = {"email", "firstName", "lastName", "imageUrl"}


@pytest.fixture
def callbacks(table, monkeypatch) -> ModuleType:
    monkeypatch.setenv("META_APP_SECRET", META_SECRET)
    monkeypatch.setenv("TIKTOK_CLIENT_SECRET", TIKTOK_SECRET)
    install_container(container.current().dynamodb)
    return importlib.import_module("functions.platform_callbacks.app")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def meta_body(user_id: str = IG_ID, *, algorithm: str = "HMAC-SHA256", secret: str = META_SECRET) -> str:
    payload = b64url(json.dumps({"algorithm": algorithm, "issued_at": 1_790_000_000, "user_id": user_id}).encode())
    signature = b64url(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
    return urllib.parse.urlencode({"signed_request": f"{signature}.{payload}"})


def tiktok_delivery(
    open_id: str = TT_ID, *, event: str = "authorization.removed", signed_at: int | None = None
) -> tuple[str, dict]:
    now = int(time.time())
    content = json.dumps({"reason": 1})
    body = json.dumps(
        {"client_key": "ck", "event": event, "create_time": now, "user_openid": open_id, "content": content}
    )
    stamp = now if signed_at is None else signed_at
    digest = hmac.new(TIKTOK_SECRET.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return body, {"tiktok-signature": f"t={stamp},s={digest}", "content-type": "application/json"}


def call(app: ModuleType, method: str, path: str, body: str = "", headers: dict | None = None) -> HttpResponse:
    headers = {"host": "abc123.execute-api.us-east-1.amazonaws.com", "x-forwarded-proto": "https", **(headers or {})}
    prefix, _, code = path.rpartition("/")
    if method == "GET" and prefix == "/platforms/meta/data-deletion":  # the {code} route, as API Gateway names it
        event = http_api_event(body, headers, path=path, method=method, route_key=f"GET {prefix}/{{code}}")
        event["pathParameters"] = {"code": code}
    else:
        event = http_api_event(body, headers, path=path, method=method)
    return invoke_http(app.lambda_handler, event)


def meta(app: ModuleType, body: str | None = None) -> HttpResponse:
    form = {"content-type": "application/x-www-form-urlencoded"}
    return call(app, "POST", "/platforms/meta/data-deletion", meta_body() if body is None else body, form)


def tiktok(app: ModuleType, body: str, headers: dict) -> HttpResponse:
    return call(app, "POST", "/platforms/tiktok/webhook", body, headers)


def accounts(version: int, *, ig_id: str = IG_ID, ig: bool = True, extra: tuple = ()) -> list:
    linked = [external_account("eac_tt", "oauth_tiktok", updated_at=T0, provider_user_id=TT_ID, username="tt")]
    if ig:
        linked.append(
            external_account(
                "eac_ig", "oauth_custom_instagram", updated_at=version, provider_user_id=ig_id, email="a@example.com"
            )
        )
    return linked + list(extra)


def snapshot(version: int, user_id: str = "user_p", **kwargs) -> dict:
    return user_event("user.updated", user_id, updated_at=version, accounts=accounts(version, **kwargs))


def index_keys(platform_user: str) -> list[tuple[str, str]]:
    client = container.current().dynamodb
    items = client.query(
        TableName=TEST_TABLE_NAME,
        IndexName="PlatformUserIndex",
        KeyConditionExpression="platformUser = :u",
        ExpressionAttributeValues={":u": {"S": platform_user}},
    )["Items"]
    return sorted((item["pk"]["S"], item["sk"]["S"]) for item in items)


def test_meta_data_deletion_erases_personal_data_and_answers_a_status_url(deliver, callbacks):
    assert deliver(snapshot(T0, "user_a")).status == 200
    assert deliver(snapshot(T0, "user_b")).status == 200
    response = meta(callbacks)
    assert response.status == 200
    code = response.body["confirmation_code"]
    assert response.body == {
        "url": f"https://abc123.execute-api.us-east-1.amazonaws.com/platforms/meta/data-deletion/{code}",
        "confirmation_code": code,
    }
    for user_id in ("user_a", "user_b"):
        row = user_rows(user_id)["CONNECTION#instagram#eac_ig"]
        assert not PERSONAL & set(row["metadata"]) and "platformUsername" not in row
        assert (row["platformUserId"], row["connectionStatus"]) == (IG_ID, "connected")
        assert "firstName" in user_rows(user_id)["CONNECTION#tiktok#eac_tt"]["metadata"]
    status = call(callbacks, "GET", f"/platforms/meta/data-deletion/{code}")
    assert (status.status, status.body["status"], status.body["rows_affected"]) == (200, "completed", 2)
    assert contract_violations(table_items()) == []
    assert copy_violations(table_items()) == []


def test_a_replayed_meta_request_is_idempotent_and_an_unknown_user_gets_a_code(deliver, callbacks):
    deliver(snapshot(T0))
    first = meta(callbacks)
    before = table_items()
    assert meta(callbacks).body == first.body
    assert table_items() == before
    unknown = meta(callbacks, meta_body("999999"))
    assert unknown.status == 200 and unknown.body["confirmation_code"] != first.body["confirmation_code"]
    assert call(callbacks, "GET", "/platforms/meta/data-deletion/" + "f" * 20).status == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (meta_body(secret="wrong secret"), 401),
        (meta_body(algorithm="HMAC-SHA1"), 401),
        ("", 401),
        ("signed_request=abc.def", 401),
        (urllib.parse.urlencode({"signed_request": "x" * 20_000}), 413),
    ],
)
def test_bad_meta_requests_write_nothing(deliver, callbacks, body, status):
    deliver(snapshot(T0))
    before = table_items()
    assert meta(callbacks, body).status == status
    assert table_items() == before


def test_tiktok_deauthorization_expires_the_connection_and_replays_converge(deliver, callbacks):
    deliver(snapshot(T0))
    body, headers = tiktok_delivery()
    first = tiktok(callbacks, body, headers)
    assert (first.status, first.body["expired"]) == (200, 1)
    row = user_rows("user_p")["CONNECTION#tiktok#eac_tt"]
    assert row["connectionStatus"] == "expired"
    assert row["attention"] == "expired#tiktok"  # the AttentionIndex key, set by the same write
    assert row["lastError"] == "TikTok authorization removed: user disconnected the app in TikTok (reason 1)"
    before = table_items()
    assert tiktok(callbacks, body, headers).body["expired"] == 0
    assert table_items() == before
    # Clerk re-sends the user unchanged: the revoked token keeps the row expired.
    assert deliver(snapshot(T0 + 1)).status == 200
    assert user_rows("user_p")["CONNECTION#tiktok#eac_tt"]["connectionStatus"] == "expired"
    assert contract_violations(table_items()) == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"tiktok-signature": "t=1,s=00"},
        pytest.param("stale", id="stale-timestamp"),
        pytest.param("tampered", id="tampered-body"),
    ],
)
def test_bad_tiktok_signatures_are_401_and_write_nothing(deliver, callbacks, headers):
    deliver(snapshot(T0))
    body, signed = tiktok_delivery(signed_at=int(time.time()) - 400 if headers == "stale" else None)
    if headers == "tampered":
        body = body.replace(TT_ID, "act.someone.else")
    before = table_items()
    response = tiktok(callbacks, body, signed if isinstance(headers, str) else headers)
    assert response.status == 401
    assert table_items() == before


def test_other_tiktok_events_and_signed_garbage(deliver, callbacks):
    body, headers = tiktok_delivery(event="video.publish.completed")
    assert tiktok(callbacks, body, headers).body == {"outcome": "ignored", "event": "video.publish.completed"}
    stamp = int(time.time())
    digest = hmac.new(TIKTOK_SECRET.encode(), f"{stamp}.not json".encode(), hashlib.sha256).hexdigest()
    assert tiktok(callbacks, "not json", {"tiktok-signature": f"t={stamp},s={digest}"}).status == 400


def test_unknown_routes_are_404(callbacks):
    assert call(callbacks, "DELETE", "/platforms/meta/data-deletion").status == 404


@pytest.mark.moto_only  # Secrets Manager is moto's
def test_secrets_come_from_secrets_manager_and_a_missing_one_is_500(deliver, callbacks):
    arn = boto3.client("secretsmanager").create_secret(Name="meta-app", SecretString=META_SECRET)["ARN"]
    empty = boto3.client("secretsmanager").create_secret(Name="tiktok-empty")["ARN"]
    parameters.clear_caches()
    with configured(
        META_APP_SECRET=None, META_APP_SECRET_ID=arn, TIKTOK_CLIENT_SECRET=None, TIKTOK_CLIENT_SECRET_ID=empty
    ):
        assert meta(callbacks).status == 200
        body, headers = tiktok_delivery()
        response = tiktok(callbacks, body, headers)
    parameters.clear_caches()
    assert response.status == 500
    assert response.body == {"error": "callback receiver is misconfigured"}


def test_a_table_failure_is_503_so_the_platform_retries(deliver, callbacks, monkeypatch):
    def unavailable(*_args, **_kwargs):
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "Query")

    monkeypatch.setattr(container.current().dynamodb, "query", unavailable)
    body, headers = tiktok_delivery()
    assert tiktok(callbacks, body, headers).status == 503


def test_the_index_follows_the_platform_user_id_through_webhook_updates(deliver, callbacks):
    deliver(snapshot(T0))
    assert index_keys(f"instagram#{IG_ID}") == [("USER#user_p", "CONNECTION#instagram#eac_ig")]
    deliver(snapshot(T0 + 1, ig_id="17841400000000002"))
    assert index_keys(f"instagram#{IG_ID}") == []
    assert index_keys("instagram#17841400000000002") == [("USER#user_p", "CONNECTION#instagram#eac_ig")]
    no_id = external_account("eac_x", "oauth_x", updated_at=T0 + 2)
    no_id["provider_user_id"] = None
    deliver(user_event("user.updated", "user_p", updated_at=T0 + 2, accounts=[*accounts(T0 + 1), no_id]))
    assert "platformUser" not in user_rows("user_p")["CONNECTION#twitter#eac_x"]
    assert contract_violations(table_items()) == []


def test_a_disconnected_row_loses_its_personal_data_in_the_same_write(deliver):
    deliver(snapshot(T0))
    deliver(snapshot(T0 + 1, ig=False))
    row = user_rows("user_p")["CONNECTION#instagram#eac_ig"]
    assert row["connectionStatus"] == "disconnected"
    assert not PERSONAL & set(row["metadata"]) and "platformUsername" not in row
    assert (row["platformUserId"], row["platformUser"]) == (IG_ID, f"instagram#{IG_ID}")
    deliver(snapshot(T0 + 2))  # linked again: everything comes back with the account
    assert user_rows("user_p")["CONNECTION#instagram#eac_ig"]["metadata"]["email"] == "a@example.com"
    assert contract_violations(table_items()) == []


def test_unmapped_providers_are_counted_and_logged_once_per_event(deliver, capsys):
    google = external_account("eac_g", "oauth_google", updated_at=T0, email="secret@example.com")
    custom = external_account("eac_m", "oauth_custom_mastodon", updated_at=T0)
    capsys.readouterr()
    response = deliver(user_event("user.created", "user_u", updated_at=T0, accounts=[google, custom]))
    assert (response.status, response.body["upserted"]) == (200, 0)
    out = capsys.readouterr().out
    logged = [line for line in log_lines(out) if line["message"] == "accounts of unmapped providers not stored"]
    assert len(logged) == 1
    assert (logged[0]["providers"], logged[0]["accounts"]) == (["oauth_custom_mastodon", "oauth_google"], 2)
    assert "secret@example.com" not in out
    blobs = emf_blobs(out)
    assert [blob["UnmappedProviderAccounts"] for blob in blobs if "UnmappedProviderAccounts" in blob] == [[2.0]]


def test_a_custom_provider_mapped_by_provider_aliases_is_stored(deliver, table):
    account = external_account("eac_c", "oauth_custom_ig2", updated_at=T0)
    with configured(PROVIDER_ALIASES="oauth_custom_ig2=instagram"):
        assert deliver(user_event("user.created", "user_c", updated_at=T0, accounts=[account])).body["upserted"] == 1
    assert user_rows("user_c")["CONNECTION#instagram#eac_c"]["metadata"]["provider"] == "oauth_custom_ig2"
