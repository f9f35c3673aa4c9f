"""Security: constant-time signature comparison, nothing secret or personal in any log line or answer, least-privilege
IAM in the synthesized template, throttling on the HTTP API, and no CORS."""

from __future__ import annotations

import copy
import hmac
import inspect
import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from samtranslator.translator.transform import transform  # type: ignore[import-untyped]
from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]
from social_connections import container, signatures
from social_connections.clerk_settings import ClerkApiSettings
from social_connections.model import ConnectionKey
from social_connections.providers import Platform
from social_connections.reconcile_plan import ReconcileOptions
from social_connections.reconcile_run import run_reconciliation
from social_connections.telemetry import LEVELS

from devtools.clerk_payloads import deleted_event, external_account, to_body, user_event
from devtools.fake_clerk_api import FakeClerkApi, FakeClerkUsers, seed_user
from devtools.testkit.aws import LambdaContextStub
from devtools.testkit.deliveries import HttpResponse, http_api_event, new_secret, svix_headers
from devtools.testkit.functions import configured
from devtools.testkit.table import StreamReader
from devtools.testkit.template import TEMPLATE_PATH, load_template
from tests.reliability.support import count, invoke, stream_module, webhook_module

T0 = 1_716_883_200_000
ACCESS_TOKEN = "ya29.never-log-this-access-token-5c1e"
REFRESH_TOKEN = "1//never-log-this-refresh-token-77aa"
ACCOUNT_EMAIL = "ada.private+x@example.org"
PROFILE_EMAIL = "ada@example.com"
FAMILY_NAME = "Lovelace"


def signed(secret: str, payload: dict[str, Any] | str) -> dict[str, Any]:
    body = payload if isinstance(payload, str) else to_body(payload)
    return http_api_event(body, svix_headers(secret, body))


def created(user_id: str = "user_sec", *, version: int = T0, event_type: str = "user.created") -> dict[str, Any]:
    """A snapshot carrying every kind of value that must never reach a log: e-mails, names, OAuth tokens."""
    account = external_account("eac_sec", "oauth_x", updated_at=version, username="ada_x", email=ACCOUNT_EMAIL)
    account.update(access_token=ACCESS_TOKEN, refresh_token=REFRESH_TOKEN, token=ACCESS_TOKEN)
    return user_event(event_type, user_id, updated_at=version, accounts=[account])


# ---- constant-time comparison ---------------------------------------------------------------------------------------


def test_the_verifier_compares_signatures_in_constant_time_only(table, secret, monkeypatch):
    assert "hmac.compare_digest(" in inspect.getsource(signatures.SignatureVerifier.verify)
    comparisons: list[tuple[int, int]] = []

    def recording(expected: bytes, given: bytes) -> bool:
        comparisons.append((len(expected), len(given)))
        return hmac.compare_digest(expected, given)

    monkeypatch.setattr(signatures, "hmac", SimpleNamespace(compare_digest=recording, new=hmac.new))
    assert invoke(signed(secret, created())).status == 200
    assert comparisons == [(32, 32)]
    assert invoke(signed(new_secret(), created(version=T0 + 1))).status == 401
    assert comparisons == [(32, 32), (32, 32)]
    # Acceptance rests on compare_digest alone: when it says no, a perfectly signed delivery is refused.
    monkeypatch.setattr(signatures, "hmac", SimpleNamespace(compare_digest=lambda *_: False, new=hmac.new))
    assert invoke(signed(secret, created(version=T0 + 2))).status == 401


# ---- nothing secret or personal in the logs -------------------------------------------------------------------------


@pytest.fixture
def debug_logging(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The most talkative setting template.yaml allows (LogLevel DEBUG) plus Powertools' own debug records."""
    # Both event-path functions log through Telemetry, to stdout (capfd); Powertools' own records go to caplog.
    telemetries = [webhook_module().telemetry, stream_module().telemetry]
    levels = [telemetry.level for telemetry in telemetries]
    for telemetry in telemetries:
        telemetry.level = LEVELS["DEBUG"]
    caplog.set_level(logging.DEBUG, logger="aws_lambda_powertools")
    caplog.set_level(logging.DEBUG, logger="social_connections")
    yield
    for telemetry, level in zip(telemetries, levels, strict=True):
        telemetry.level = level


@pytest.mark.usefixtures("debug_logging")
def test_no_secret_signature_token_or_email_is_ever_logged(table, secret, monkeypatch, capfd, caplog):
    answers: list[HttpResponse] = []
    signatures: list[str] = []

    def send(event: dict[str, Any]) -> HttpResponse:
        signatures.append(event["headers"].get("svix-signature", ""))
        answers.append(invoke(event))
        count("security.requests_logged")
        return answers[-1]

    assert send(signed(secret, created())).status == 200
    assert send(signed(secret, created(version=T0 + 1, event_type="user.updated"))).status == 200
    broken = created(version=T0 + 2, event_type="user.updated")
    broken["data"]["external_accounts"][0]["updated_at"] = ACCOUNT_EMAIL  # a malformed account, reason logged
    assert send(signed(secret, broken)).status == 200
    assert send(signed(secret, created(version=T0 + 2, event_type="user.updated"))).status == 200  # duplicate
    assert send(signed(new_secret(), created(version=T0 + 3))).status == 401
    tampered = signed(secret, created(version=T0 + 3))
    tampered["body"] = tampered["body"].replace("ada_x", "eve_x")
    assert send(tampered).status == 401
    garbage = {**created(version=T0 + 3), "data": {"id": 7, "email": PROFILE_EMAIL, "token": ACCESS_TOKEN}}
    assert send(signed(secret, garbage)).status == 400
    assert send(signed(secret, json.dumps({"not": "json"})[:-1] + PROFILE_EMAIL)).status == 400
    oversized = created(version=T0 + 3)
    oversized["data"]["public_metadata"] = {"blob": ACCESS_TOKEN * 10_000}
    assert send(signed(secret, oversized)).status == 413

    def unavailable(*_: Any, **__: Any) -> Any:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": ACCOUNT_EMAIL}}, "Query")

    with monkeypatch.context() as patch:
        # A changed update plans from the profile's copy of its rows: the transaction fails too, not only the read.
        patch.setattr(container.current().dynamodb, "query", unavailable)
        patch.setattr(container.current().dynamodb, "transact_write_items", unavailable)
        assert send(signed(secret, created(version=T0 + 4, event_type="user.updated"))).status == 503
    with configured(CLERK_WEBHOOK_SECRET=secret.replace("whsec_", "whsec_%")):
        assert send(signed(secret, created(version=T0 + 4, event_type="user.updated"))).status == 500

    # The stream function over everything the table emitted, including a deletion's cleanup.
    reader = StreamReader(boto3.client("dynamodbstreams"), table)
    for _ in range(3):
        container.current().store.record_publish_failure("user_sec", ConnectionKey(Platform.TWITTER, "eac_sec"), "401")
    assert send(signed(secret, deleted_event("user_sec"))).status == 200
    while records := reader.read():
        assert stream_module().lambda_handler({"Records": records}, LambdaContextStub())["batchItemFailures"] == []

    captured = capfd.readouterr()
    output = "\n".join([captured.out, captured.err, *(record.getMessage() for record in caplog.records), caplog.text])
    assert "event processed" in output and "webhook signature rejected" in output  # the logs were captured
    assert "deleted user's connections removed" in output  # the stream function's too
    secrets = {
        "signing secret": secret,
        "signing key": secret.removeprefix("whsec_"),
        "access token": ACCESS_TOKEN,
        "refresh token": REFRESH_TOKEN,
        "account e-mail": ACCOUNT_EMAIL,
        "profile e-mail": PROFILE_EMAIL,
        "family name": FAMILY_NAME,
        **{f"signature {n}": value.removeprefix("v1,") for n, value in enumerate(signatures) if value},
    }
    count("security.log_bytes_scanned", len(output))
    leaked = [name for name, value in secrets.items() if value and value in output]
    assert leaked == [], f"logged: {leaked}"
    # Nor in any answer; and a refusal says nothing about why (no help for forging).
    assert not [name for name, value in secrets.items() if value and value in json.dumps([a.body for a in answers])]
    assert {json.dumps(a.body) for a in answers if a.status == 401} == {json.dumps({"error": "invalid signature"})}
    # Nor in the table: webhooks carry no tokens, and a token that shows up anyway is not stored.
    items = boto3.resource("dynamodb").Table(container.current().settings.table_name).scan()["Items"]
    assert ACCESS_TOKEN not in repr(items) and REFRESH_TOKEN not in repr(items)


def test_the_template_never_turns_event_logging_on():
    variables: dict[str, Any] = {}
    template = load_template()
    variables.update(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template["Resources"].values():
        variables.update(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    # Powertools would log every event (bodies with e-mails, svix-signature headers) with this set.
    assert "POWERTOOLS_LOGGER_LOG_EVENT" not in variables
    assert not variables.get("CLERK_WEBHOOK_SECRET")  # the deployed secret lives in Secrets Manager only


# ---- the synthesized template: IAM, throttling, CORS -----------------------------------------------------------------

# IAM actions each DynamoDB API call is authorized by (AWS Service Authorization Reference, Amazon DynamoDB).
IAM_ACTIONS = {
    "Query": {"dynamodb:Query"},
    "GetItem": {"dynamodb:GetItem"},
    "PutItem": {"dynamodb:PutItem"},
    "UpdateItem": {"dynamodb:UpdateItem"},
    "DeleteItem": {"dynamodb:DeleteItem"},
    "BatchWriteItem": {"dynamodb:BatchWriteItem"},
    "Scan": {"dynamodb:Scan"},
    "BatchGetItem": {"dynamodb:BatchGetItem"},
}
TRANSACTION_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


@pytest.fixture(scope="module")
def synthesized() -> dict[str, Any]:
    """template.yaml as CloudFormation receives it after `sam package` (code in S3), translated offline."""
    template = yaml_parse(TEMPLATE_PATH.read_text(encoding="utf-8"))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/function.zip"
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "s3://artifacts/layer.zip"

    class NoManagedPolicyLookup:
        def load(self) -> dict[str, str]:
            return {}

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        return dict(transform(copy.deepcopy(template), {}, NoManagedPolicyLookup()))


def used_iam_actions(calls: list[tuple[str, dict[str, Any]]]) -> set[str]:
    actions: set[str] = set()
    for operation, params in calls:
        if operation == "TransactWriteItems":
            actions |= {TRANSACTION_ACTIONS[next(iter(item))] for item in params["TransactItems"]}
        else:
            actions |= IAM_ACTIONS[operation]
    return actions


def statements_of(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [statement for policy in role["Policies"] for statement in policy["PolicyDocument"]["Statement"]]


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return list(action) if isinstance(action, list) else [action]


def observed_calls(table: str, secret: str) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Every DynamoDB call each function makes over a story that takes all their write paths."""
    calls: list[tuple[str, dict[str, Any]]] = []
    container.current().dynamodb.meta.events.register(
        "provide-client-params.dynamodb", lambda params, model, **_: calls.append((model.name, dict(params)))
    )
    reader = StreamReader(boto3.client("dynamodbstreams"), table)
    many = [external_account(f"eac_{i:03d}", "oauth_x", updated_at=T0) for i in range(101)]
    malformed = {**many[0], "updated_at": None}
    for payload in (
        user_event("user.created", "user_iam", updated_at=T0, accounts=many),  # two transactions, condition check
        user_event("user.updated", "user_iam", updated_at=T0 + 1, accounts=many),  # no change: one update
        user_event("user.updated", "user_iam", updated_at=T0 + 1, accounts=many),  # duplicate: a read only
        user_event("user.updated", "user_iam", updated_at=T0 + 2, accounts=[malformed]),  # failures, disconnects
        user_event("user.created", "user_other", updated_at=T0, accounts=many[:2]),
        deleted_event("user_iam"),  # tombstone: a conditional put
    ):
        assert invoke(signed(secret, payload)).status == 200
    webhook_calls = list(calls)
    for _ in range(3):  # another service's recorded failures: the stream function moves the row to error
        container.current().store.record_publish_failure("user_other", ConnectionKey(Platform.TWITTER, "eac_000"), "x")
    calls.clear()
    while records := reader.read():
        assert stream_module().lambda_handler({"Records": records}, LambdaContextStub())["batchItemFailures"] == []
    stream_calls = list(calls)
    calls.clear()
    reconcile_story()
    reconcile_calls = list(calls)
    calls.clear()
    platform_story()
    return {
        "ClerkWebhookFunction": webhook_calls,
        "ConnectionStreamFunction": stream_calls,
        "ReconcileFunction": reconcile_calls,
        "PlatformCallbacksFunction": calls,
    }


def platform_story() -> None:
    """Every store call of the platform callbacks: a Meta deletion with its record and status, a TikTok revocation."""
    store = container.current().platform_store
    account_id = external_account("eac_000", "oauth_x", updated_at=T0)["provider_user_id"]
    (row,) = store.find_platform_account(Platform.TWITTER, account_id)
    store.open_deletion_request("c" * 20, requested_at=None, received_at="2024-05-28T08:00:00.000Z")
    assert store.erase_personal_data(row.user_id, row.key)
    store.complete_deletion_request("c" * 20, rows_affected=1, completed_at="2024-05-28T08:00:01.000Z")
    assert store.read_deletion_request("c" * 20) is not None
    store.mark_revoked(row.user_id, row.key, revoked_at_ms=T0 + 10, reason="revoked", at="2024-05-28T08:00:02.000Z")


def reconcile_story() -> None:
    """A backfill of a user with 101 accounts (two transactions), and `user_other` confirmed gone and tombstoned."""
    big = seed_user(1)
    big["external_accounts"] = [external_account(f"eac_r{i:03d}", "oauth_x", updated_at=T0) for i in range(101)]
    with FakeClerkApi(FakeClerkUsers.seeded(1, extra_ids=["user_big"])) as api:
        api.users.put({**big, "id": "user_big"})
        settings = ClerkApiSettings(api_url=api.url, secret_key_value=api.secret_key)
        summary = run_reconciliation(
            container.current().settings.table_name, container.current().dynamodb, settings, ReconcileOptions(workers=1)
        )
    assert summary.finished and summary.users_tombstoned == 1


TABLE_ARN = {"Fn::GetAtt": ["ConnectionsTable", "Arn"]}
STREAM_ARN = {"Fn::GetAtt": ["ConnectionsTable", "StreamArn"]}
PLATFORM_INDEX_ARN = {"Fn::Sub": "${ConnectionsTable.Arn}/index/PlatformUserIndex"}
# What the event source mapping reads the stream with (Lambda's documented execution role permissions).
STREAM_READ = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
LOG_GROUPS = {
    "ClerkWebhookFunction": "ClerkWebhookLogs",
    "ConnectionStreamFunction": "ConnectionStreamLogs",
    "ReconcileFunction": "ReconcileLogs",
    "PlatformCallbacksFunction": "PlatformCallbacksLogs",
    "ConnectionsApiFunction": "ConnectionsApiLogs",
}


def test_each_role_may_do_exactly_what_its_function_does_on_the_table_only(table, secret, synthesized):
    calls = observed_calls(table, secret)
    assert used_iam_actions(calls["ConnectionStreamFunction"]) >= {"dynamodb:DeleteItem", "dynamodb:UpdateItem"}
    resources = synthesized["Resources"]
    for function, made in calls.items():
        statements = statements_of(resources[f"{function}Role"]["Properties"])
        granted: set[str] = set()
        for statement in statements:
            actions = actions_of(statement)
            assert statement["Effect"] == "Allow"
            assert not any("*" in action for action in actions), f"{function}: wildcard action in {actions}"
            if statement["Resource"] == "*":  # only an action that has no resource to name
                assert actions == ["dynamodb:ListStreams"], f"{function}: {actions} on every resource"
            elif statement["Resource"] == STREAM_ARN:
                assert set(actions) <= STREAM_READ, f"{function}: {actions} on the stream"
            elif statement["Resource"] == PLATFORM_INDEX_ARN:
                assert actions == ["dynamodb:Query"], f"{function}: {actions} on the index"
                granted |= set(actions)
            elif any(action.startswith("dynamodb:") for action in actions):
                assert statement["Resource"] == TABLE_ARN, statement
                granted |= set(actions)
        needed = used_iam_actions(made)
        assert granted == needed, (
            f"{function} may {sorted(granted - needed)} without need, lacks {sorted(needed - granted)}"
        )
        # The stream role can write no whole row: cleanup deletes are conditional DeleteItem calls.
        if function == "ConnectionStreamFunction":
            assert not granted & {"dynamodb:PutItem", "dynamodb:BatchWriteItem"}
        count("security.iam_actions_checked", len(granted))


def test_secret_access_and_other_grants_are_scoped(synthesized):
    resources = synthesized["Resources"]
    webhook = resources["ClerkWebhookFunctionRole"]["Properties"]
    stream = resources["ConnectionStreamFunctionRole"]["Properties"]
    platform = resources["PlatformCallbacksFunctionRole"]["Properties"]
    for function, log_group in LOG_GROUPS.items():
        role = resources[f"{function}Role"]["Properties"]
        # No AWS managed policy: those allow writing to every log group and reading every stream in the account.
        assert "ManagedPolicyArns" not in role, function
        log_writes = [(actions_of(s), s["Resource"]) for s in statements_of(role) if "logs:" in json.dumps(s["Action"])]
        own = {"Fn::GetAtt": [log_group, "Arn"]}
        assert log_writes == [(["logs:CreateLogStream", "logs:PutLogEvents"], own)], function
        logging_config = resources[function]["Properties"]["LoggingConfig"]
        assert logging_config == {"LogGroup": {"Ref": log_group}}
    stream_reads = {a for s in statements_of(stream) if s["Resource"] == STREAM_ARN for a in actions_of(s)}
    assert stream_reads == STREAM_READ
    assert not [s for s in statements_of(webhook) if s["Resource"] == STREAM_ARN]
    secret_reads = [
        (actions_of(s), s["Resource"])
        for role in (webhook, stream)
        for s in statements_of(role)
        if any(action.startswith("secretsmanager:") for action in actions_of(s))
    ]
    assert secret_reads == [(["secretsmanager:GetSecretValue"], {"Ref": "ClerkWebhookSecret"})]
    platform_reads = [
        (actions_of(s), s["Resource"])
        for s in statements_of(platform)
        if any(action.startswith("secretsmanager:") for action in actions_of(s))
    ]
    secrets = [{"Ref": "MetaAppSecret"}, {"Ref": "TikTokClientSecret"}]
    assert platform_reads == [(["secretsmanager:GetSecretValue"], secrets)]
    queue_writes = [(actions_of(s), s["Resource"]) for s in statements_of(stream) if "sqs:" in json.dumps(s["Action"])]
    assert queue_writes == [(["sqs:SendMessage"], {"Fn::GetAtt": ["StreamDeadLetterQueue", "Arn"]})]
    policies = [name for name, r in resources.items() if r["Type"] in ("AWS::IAM::Role", "AWS::IAM::Policy")]
    assert sorted(policies) == [
        "ClerkWebhookFunctionRole",
        "ConnectionStreamFunctionRole",
        "ConnectionsApiFunctionRole",
        "PlatformCallbacksFunctionRole",
        "ReconcileFunctionReconcileScheduleRole",
        "ReconcileFunctionRole",
    ]
    api = resources["ConnectionsApiFunctionRole"]["Properties"]
    api_secrets = [(actions_of(s), s["Resource"]) for s in statements_of(api) if "secretsmanager:" in str(s)]
    assert api_secrets == [(["secretsmanager:GetSecretValue"], {"Ref": "ClerkSecretKey"})]
    reconcile = resources["ReconcileFunctionRole"]["Properties"]
    reconcile_secrets = [
        (actions_of(s), s["Resource"]) for s in statements_of(reconcile) if "secretsmanager:" in str(s)
    ]
    assert reconcile_secrets == [(["secretsmanager:GetSecretValue"], {"Ref": "ClerkSecretKey"})]
    scheduler = resources["ReconcileFunctionReconcileScheduleRole"]["Properties"]
    assert [s["Resource"] for s in statements_of(scheduler)] == [{"Fn::GetAtt": ["ReconcileFunction", "Arn"]}]
    for role in (webhook, stream, reconcile, platform, api):
        principals = [s["Principal"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
        assert principals == [{"Service": ["lambda.amazonaws.com"]}]
    # API Gateway may invoke each function on its own routes only.
    invocable: dict[str, set[str]] = {}
    for permission in (r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"):
        assert permission["Principal"] == "apigateway.amazonaws.com"
        route = permission["SourceArn"]["Fn::Sub"][0].split("${__Stage__}", 1)[1]
        invocable.setdefault(permission["FunctionName"]["Ref"], set()).add(route)
    assert invocable == {
        "ClerkWebhookFunction": {"/POST/webhooks/clerk"},
        "PlatformCallbacksFunction": {
            "/POST/platforms/meta/data-deletion",
            "/GET/platforms/meta/data-deletion/*",
            "/POST/platforms/tiktok/webhook",
        },
        "ConnectionsApiFunction": {
            "/GET/me/connections",
            "/GET/users/*/connections",
            "/GET/users/*/connections/*/token",
            "/POST/users/*/connections/*/*/results",
        },
    }


def test_the_http_api_is_throttled_on_every_route(synthesized):
    resources = synthesized["Resources"]
    stages = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    assert len(stages) == 1
    settings = stages[0]["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}
    assert not stages[0].get("RouteSettings"), "a route with its own settings could escape the throttle"
    parameters = load_template()["Parameters"]
    rate, burst = parameters["ThrottlingRateLimit"]["Default"], parameters["ThrottlingBurstLimit"]["Default"]
    assert 0 < rate <= burst
    api = next(r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Api")["Properties"]
    paths = api["Body"]["paths"]
    routes = {path: sorted(methods) for path, methods in paths.items()}
    # Svix, Meta and TikTok sign their calls and the functions verify them: no authorizer on those routes.
    signed = {
        "/webhooks/clerk": ["post"],
        "/platforms/meta/data-deletion": ["post"],
        "/platforms/meta/data-deletion/{code}": ["get"],
        "/platforms/tiktok/webhook": ["post"],
    }
    assert {path: routes[path] for path in signed} == signed
    assert not [op for path in signed for op in paths[path].values() if op.get("security")]
    # Every other route is the connections API's, each behind an authorizer (JWT on /me, AWS_IAM on the rest).
    others = [operation for path, item in paths.items() if path not in signed for operation in item.values()]
    assert len(others) == 4 and all(operation.get("security") for operation in others)
    # Access logs record who called and the status, never headers or bodies (signatures, e-mails).
    assert "$request" not in stages[0]["AccessLogSettings"]["Format"]


def test_cors_only_for_the_apps_origin_and_never_from_the_webhook(synthesized, table, secret):
    api = next(r for r in synthesized["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Api")["Properties"]
    cors = api["Body"]["x-amazon-apigateway-cors"]
    # One origin (the AppOrigin parameter) for the app's GET /me/connections; never a wildcard.
    assert cors["allowOrigins"] == [load_template()["Parameters"]["AppOrigin"]["Default"]]
    assert cors["allowMethods"] == ["GET"] and "*" not in json.dumps(cors)
    assert "Cors" not in json.dumps(load_template().get("Globals", {}))
    preflight = http_api_event("", {"origin": "https://evil.example", "access-control-request-method": "POST"})
    preflight["requestContext"]["http"]["method"] = "OPTIONS"
    preflight["routeKey"] = "OPTIONS /webhooks/clerk"
    unsigned = http_api_event("{}", {"origin": "https://evil.example"})
    valid = signed(secret, created())
    answers = [
        invoke({**event, "headers": {**event["headers"], "origin": "https://evil.example"}})
        for event in (preflight, unsigned, valid)
    ]
    assert [answer.status for answer in answers] == [404, 401, 200]
    for answer in answers:
        assert not [name for name in answer.headers if name.lower().startswith("access-control-")]
