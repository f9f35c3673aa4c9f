"""Every row of the HTTP contract of POST /webhooks/clerk, through the real lambda_handler against moto."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError, ReadTimeoutError
from social_connections import container

from devtools.clerk_payloads import deleted_event, external_account, to_body, user_event
from devtools.testkit.deliveries import http_api_event, new_secret, svix_headers
from devtools.testkit.functions import configured
from devtools.testkit.table import table_items

T0 = 1_716_883_200_000


def created(user_id: str = "user_contract", accounts: int = 1) -> dict:
    return user_event(
        "user.created",
        user_id,
        updated_at=T0,
        accounts=[external_account(f"eac_{i}", "oauth_x", updated_at=T0) for i in range(accounts)],
    )


def test_valid_event_is_applied(deliver):
    response = deliver(created())
    assert response.status == 200
    assert response.body["outcome"] == "applied"
    assert response.body["upserted"] == 1
    assert len(table_items()) == 2


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda h: {k: v for k, v in h.items() if k != "svix-signature"}, id="missing-signature"),
        pytest.param(lambda h: {k: v for k, v in h.items() if k != "svix-id"}, id="missing-id"),
        pytest.param(lambda h: {k: v for k, v in h.items() if k != "svix-timestamp"}, id="missing-timestamp"),
        pytest.param(lambda h: {}, id="no-headers"),
        pytest.param(lambda h: {**h, "svix-signature": "v1,abc"}, id="bad-padding"),
        pytest.param(lambda h: {**h, "svix-signature": "v1"}, id="no-comma"),
        pytest.param(lambda h: {**h, "svix-signature": "v1,,x"}, id="two-commas"),
        pytest.param(lambda h: {**h, "svix-signature": "v2," + h["svix-signature"][3:]}, id="wrong-version"),
        pytest.param(lambda h: {**h, "svix-timestamp": "yesterday"}, id="non-numeric-timestamp"),
        pytest.param(lambda h: {**h, "svix-id": "msg_other"}, id="id-not-signed"),
    ],
)
def test_bad_signature_headers_are_401_and_write_nothing(table, secret, invoke_webhook, mutate):
    body = to_body(created())
    headers = mutate(svix_headers(secret, body))
    response = invoke_webhook(http_api_event(body, headers))
    assert response.status == 401
    assert response.body == {"error": "invalid signature"}
    assert table_items() == []


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6), timedelta(days=-3)])
def test_timestamp_outside_five_minutes_is_401(table, secret, invoke_webhook, skew):
    body = to_body(created())
    headers = svix_headers(secret, body, timestamp=datetime.now(tz=UTC) + skew)
    assert invoke_webhook(http_api_event(body, headers)).status == 401
    assert table_items() == []


def test_unknown_secret_is_401(table, secret, invoke_webhook):
    body = to_body(created())
    response = invoke_webhook(http_api_event(body, svix_headers(new_secret(), body)))
    assert response.status == 401
    assert table_items() == []


def test_tampered_body_is_401(table, secret, invoke_webhook):
    body = to_body(created())
    headers = svix_headers(secret, body)
    assert invoke_webhook(http_api_event(body.replace("oauth_x", "oauth_y"), headers)).status == 401
    assert table_items() == []


def test_reserialized_body_is_401(table, secret, invoke_webhook):
    body = to_body(created())
    headers = svix_headers(secret, body)
    spaced = body.replace(",", ", ")
    assert invoke_webhook(http_api_event(spaced, headers)).status == 401


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not json", id="not-json"),
        pytest.param('{"type": "user.created", "data": ', id="truncated"),
        pytest.param("[]", id="array"),
        pytest.param('{"data": {}}', id="no-type"),
        pytest.param('{"type": 42, "data": {}}', id="type-not-string"),
        pytest.param('{"type": "user.created", "data": {"id": "user_1"}}', id="no-updated-at"),
        pytest.param('{"type": "user.updated", "data": {"id": "user_1", "updated_at": "17168832"}}', id="str-version"),
        pytest.param('{"type": "user.created", "data": {"id": "user#1", "updated_at": 1}}', id="id-with-hash"),
        pytest.param('{"type": "user.deleted", "data": {"deleted": true}}', id="deleted-without-id"),
        pytest.param(
            '{"type": "user.created", "data": {"id": "u", "updated_at": 1, "external_accounts": {}}}', id="acc"
        ),
    ],
)
def test_signed_garbage_is_400_and_writes_nothing(deliver, body):
    response = deliver(body)
    assert response.status == 400
    assert response.body == {"error": "not a valid Clerk event"}
    assert table_items() == []


def test_unhandled_event_type_is_acknowledged_and_ignored(deliver):
    response = deliver({"type": "session.created", "object": "event", "data": {"id": "sess_1"}})
    assert response.status == 200
    assert response.body == {"outcome": "ignored", "type": "session.created"}
    assert table_items() == []


def test_body_over_256_kib_is_413(deliver):
    payload = created()
    payload["data"]["public_metadata"] = {"blob": "x" * (256 * 1024)}
    response = deliver(payload)
    assert response.status == 413
    assert table_items() == []


def test_base64_encoded_body_is_verified_on_decoded_bytes(deliver):
    response = deliver(created(), base64_encoded=True)
    assert response.status == 200
    assert len(table_items()) == 2


def test_base64_flag_that_lies_is_401(table, secret, invoke_webhook):
    body = to_body(created())
    event = http_api_event(body, svix_headers(secret, body))
    event["isBase64Encoded"] = True
    assert invoke_webhook(event).status == 401
    plain = http_api_event(body, svix_headers(secret, body), base64_encoded=True)
    plain["isBase64Encoded"] = False
    assert invoke_webhook(plain).status == 401
    assert table_items() == []


def test_webhook_header_aliases_are_accepted(table, secret, invoke_webhook):
    body = to_body(created())
    headers = {name.replace("svix-", "webhook-"): value for name, value in svix_headers(secret, body).items()}
    assert invoke_webhook(http_api_event(body, headers)).status == 200


def test_header_names_are_case_insensitive(table, secret, invoke_webhook):
    body = to_body(created())
    event = http_api_event(body, svix_headers(secret, body))
    event["headers"] = {name.upper(): value for name, value in event["headers"].items()}
    assert invoke_webhook(event).status == 200


def test_secret_without_whsec_prefix_is_accepted(table, invoke_webhook):
    secret = new_secret()
    body = to_body(created())
    with configured(CLERK_WEBHOOK_SECRET=secret.removeprefix("whsec_")):
        assert invoke_webhook(http_api_event(body, svix_headers(secret, body))).status == 200


def test_rotation_accepts_both_configured_secrets(table, invoke_webhook):
    old, new = new_secret(), new_secret()
    with configured(CLERK_WEBHOOK_SECRET=f"{new}, {old}"):
        for index, signer in enumerate((old, new)):
            body = to_body(created(user_id=f"user_rot{index}"))
            assert invoke_webhook(http_api_event(body, svix_headers(signer, body))).status == 200
        body = to_body(created(user_id="user_rot_x"))
        assert invoke_webhook(http_api_event(body, svix_headers(new_secret(), body))).status == 401


def test_signature_header_with_several_entries_during_sender_rotation(table, secret, invoke_webhook):
    body = to_body(created())
    headers = svix_headers(secret, body)
    other = svix_headers(new_secret(), body, message_id=headers["svix-id"])
    headers["svix-signature"] = f"v1a,Zm9v {other['svix-signature']} {headers['svix-signature']}"
    assert invoke_webhook(http_api_event(body, headers)).status == 200


def test_misconfigured_secret_is_500_not_401(table, invoke_webhook):
    body = to_body(created())
    with configured(CLERK_WEBHOOK_SECRET="whsec_%%%not-base64%%%"):
        response = invoke_webhook(http_api_event(body, svix_headers(new_secret(), body)))
    assert response.status == 500


@pytest.mark.moto_only  # Secrets Manager is moto's
def test_secret_from_secrets_manager_when_no_direct_secret(table, invoke_webhook):
    secret = new_secret()
    arn = boto3.client("secretsmanager").create_secret(Name="clerk-webhook", SecretString=secret)["ARN"]
    parameters.clear_caches()
    body = to_body(created())
    with configured(CLERK_WEBHOOK_SECRET=None, CLERK_WEBHOOK_SECRET_ID=arn):
        assert invoke_webhook(http_api_event(body, svix_headers(secret, body))).status == 200
    parameters.clear_caches()


@pytest.mark.moto_only  # Secrets Manager is moto's
def test_with_a_secret_id_set_a_plaintext_secret_is_ignored(table, invoke_webhook):
    deployed, stray = new_secret(), new_secret()
    arn = boto3.client("secretsmanager").create_secret(Name="clerk-webhook-both", SecretString=deployed)["ARN"]
    body = to_body(created())
    with configured(CLERK_WEBHOOK_SECRET=stray, CLERK_WEBHOOK_SECRET_ID=arn):
        assert invoke_webhook(http_api_event(body, svix_headers(stray, body))).status == 401
        assert invoke_webhook(http_api_event(body, svix_headers(deployed, body))).status == 200


def test_the_secrets_manager_client_has_the_bounded_config_of_dynamodb(table):
    with configured(CLERK_WEBHOOK_SECRET=None, CLERK_WEBHOOK_SECRET_ID="clerk-webhook") as built:
        config = built.secrets.client.meta.config
    # Config's options are set dynamically; read them by name.
    options = {name: getattr(config, name) for name in ("connect_timeout", "read_timeout", "retries")}
    assert options == {
        "connect_timeout": 1,
        "read_timeout": 2,
        "retries": {"mode": "standard", "total_max_attempts": 3},
    }


def test_a_secret_read_that_times_out_is_a_counted_500_within_svix_patience(table, invoke_webhook, capsys, monkeypatch):
    body = to_body(created())
    with configured(CLERK_WEBHOOK_SECRET=None, CLERK_WEBHOOK_SECRET_ID="clerk-webhook") as built:
        reads: list[str] = []

        def slow(**kwargs):
            reads.append(kwargs["SecretId"])
            raise ReadTimeoutError(endpoint_url="https://secretsmanager.us-east-1.amazonaws.com")

        monkeypatch.setattr(built.secrets.client, "get_secret_value", slow)
        capsys.readouterr()
        response = invoke_webhook(http_api_event(body, svix_headers(new_secret(), body)))
    assert (response.status, response.body) == (500, {"error": "webhook receiver is misconfigured"})
    assert reads == ["clerk-webhook"]
    assert any(blob.get("EventsFailed") == [1.0] for blob in _metric_blobs(capsys.readouterr().out))
    assert table_items() == []


@pytest.mark.moto_only  # Secrets Manager is moto's
def test_secret_without_a_value_yet_is_500(table, invoke_webhook):
    arn = boto3.client("secretsmanager").create_secret(Name="clerk-webhook-empty")["ARN"]
    parameters.clear_caches()
    body = to_body(created())
    with configured(CLERK_WEBHOOK_SECRET=None, CLERK_WEBHOOK_SECRET_ID=arn):
        response = invoke_webhook(http_api_event(body, svix_headers(new_secret(), body)))
    assert response.status == 500
    assert response.body == {"error": "webhook receiver is misconfigured"}
    assert table_items() == []


def test_table_failure_is_503_and_nothing_claims_success(deliver, monkeypatch):
    client = container.current().dynamodb

    def unavailable(*_args, **_kwargs):
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "TransactWriteItems")

    monkeypatch.setattr(client, "transact_write_items", unavailable)
    response = deliver(created())
    assert response.status == 503
    assert table_items() == []


def test_unknown_route_is_404(table, secret, invoke_webhook):
    body = to_body(created())
    response = invoke_webhook(http_api_event(body, svix_headers(secret, body), path="/other"))
    assert response.status == 404
    # A catch-all route ($default) added to the same API later would reach this function: still not its route.
    response = invoke_webhook(http_api_event(body, svix_headers(secret, body), route_key="$default"))
    assert response.status == 404
    assert table_items() == []


@pytest.mark.parametrize("stage", ["prod", "v1"])
def test_a_named_stage_or_a_mapped_path_still_reaches_the_webhook(deliver, secret, invoke_webhook, stage):
    body = to_body(created())
    response = invoke_webhook(http_api_event(body, svix_headers(secret, body), stage=stage))
    assert response.status == 200
    assert response.body["outcome"] == "applied"


def test_deleted_event_end_to_end(deliver):
    assert deliver(created()).status == 200
    response = deliver(deleted_event("user_contract"))
    assert response.status == 200
    assert response.body["outcome"] == "deleted"


def test_response_for_non_utf8_signed_body_is_401_or_400(table, secret, invoke_webhook):
    raw = b'{"type":"user.created","data":{"id":"u\xff"}}'
    event = http_api_event(
        raw, {"svix-id": "msg_1", "svix-timestamp": "1", "svix-signature": "v1,x"}, base64_encoded=True
    )
    assert invoke_webhook(event).status == 401
    assert base64.b64decode(event["body"]) == raw


def _metric_blobs(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


def test_metrics_count_events_by_type_and_rejections(deliver, table, secret, invoke_webhook, capsys):
    capsys.readouterr()
    deliver(created())
    blobs = _metric_blobs(capsys.readouterr().out)
    assert any(b.get("EventType") == "user.created" and b.get("EventsReceivedByType") == [1.0] for b in blobs)
    assert any(b.get("EventsApplied") == [1.0] and b.get("ConnectionsUpserted") == [1.0] for b in blobs)
    deliver(created())
    assert any(b.get("EventsIgnored_duplicate") == [1.0] for b in _metric_blobs(capsys.readouterr().out))
    body = to_body(created())
    invoke_webhook(http_api_event(body, svix_headers(new_secret(), body)))
    assert any(b.get("SignatureRejected") == [1.0] for b in _metric_blobs(capsys.readouterr().out))
