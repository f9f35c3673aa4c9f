"""template.yaml holds what DESIGN.md promises: logical IDs, runtime, table safety, stream wiring, API limits."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from devtools.testkit.template import TEMPLATE_PATH, load_template

RESOURCES: dict[str, Any] = load_template()["Resources"]


def props(logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = RESOURCES[logical_id]["Properties"]
    return properties


def test_logical_ids_from_the_design():
    assert {
        "ClerkWebhookFunction",
        "ConnectionStreamFunction",
        "ConnectionsTable",
        "SharedLayer",
        "WebhookHttpApi",
        "StreamDeadLetterQueue",
    } <= set(RESOURCES)


def test_functions_run_python313_on_arm64_with_the_shared_layer():
    globals_ = load_template()["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == ["arm64"]
    assert globals_["Layers"] == [{"Ref": "SharedLayer"}]
    layer = RESOURCES["SharedLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/shared/"
    # Makefile builds, so that plain `sam build` ships bytecode (test_plain_sam_build_ships_bytecode_for_every_module).
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    for name in ("ClerkWebhookFunction", "ConnectionStreamFunction", "ReconcileFunction"):
        assert RESOURCES[name]["Metadata"] == {"BuildMethod": "makefile"}
    assert (Path(TEMPLATE_PATH).parent / "layers/shared/social_connections/__init__.py").exists()


def test_table_is_durable_and_streams_both_images():
    table = props("ConnectionsTable")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionProtectionEnabled"] is True
    # Nothing writes a ttl attribute, and a tombstone must never expire: no TTL setting (docs/architecture.md).
    assert "TimeToLiveSpecification" not in table
    for logical_id in ("ConnectionsTable", "ClerkWebhookSecret"):
        assert RESOURCES[logical_id]["DeletionPolicy"] == "Retain"
        assert RESOURCES[logical_id]["UpdateReplacePolicy"] == "Retain"


def test_two_stacks_in_one_account_keep_layers_metrics_and_logs_apart():
    stack_name = {"Ref": "AWS::StackName"}
    assert props("SharedLayer")["LayerName"] == {"Fn::Sub": "${AWS::StackName}-shared"}
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == stack_name
    alarm = props("SignatureRejectedAlarm")
    assert alarm["Namespace"] == variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": stack_name}]  # Powertools' service dimension
    assert "${AWS::StackName}" in props("WebhookAccessLogs")["LogGroupName"]["Fn::Sub"]


def test_access_logs_go_to_a_vended_log_group_as_valid_json_even_with_quotes_in_errors():
    assert props("WebhookAccessLogs")["LogGroupName"]["Fn::Sub"].startswith("/aws/vendedlogs/")
    log_format = props("WebhookHttpApi")["AccessLogSettings"]["Format"]
    assert len(log_format.encode()) <= 3 * 1024  # HTTP API's access-log format quota
    hostile = 'Lambda said "no", then \\ and a newline\n'
    # What API Gateway substitutes: plain values as they come, messageString already quoted and escaped.
    values = {"$context.error.messageString": json.dumps(hostile)}
    rendered = re.sub(r"\$context\.[A-Za-z.]+", lambda m: values.get(m.group(0), "-"), log_format)
    assert json.loads(rendered)["error"] == hostile
    # Any other variable inside quotes must be one that cannot hold a quote (ids, numbers, the route, times).
    quoted = set(re.findall(r'"(\$context\.[A-Za-z.]+)"', log_format))
    assert not {name for name in quoted if "error" in name.lower() or "message" in name.lower()}


def test_the_webhook_has_a_concurrency_ceiling_and_an_alarm_on_forged_requests():
    function = props("ClerkWebhookFunction")
    assert function["ReservedConcurrentExecutions"] == {
        "Fn::If": ["ReservesWebhookConcurrency", {"Ref": "WebhookReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    parameters = load_template()["Parameters"]
    assert parameters["WebhookReservedConcurrency"]["Default"] >= 1
    alarm = props("SignatureRejectedAlarm")
    assert alarm["MetricName"] == "SignatureRejected"
    assert alarm["Threshold"] == {"Ref": "SignatureRejectedAlarmThreshold"}
    assert alarm["TreatMissingData"] == "notBreaching"


def test_webhook_route_is_throttled_logged_and_cors_allows_only_the_apps_origin():
    api = props("WebhookHttpApi")
    assert api["DefaultRouteSettings"]["ThrottlingRateLimit"]
    assert api["DefaultRouteSettings"]["ThrottlingBurstLimit"]
    assert "DestinationArn" in api["AccessLogSettings"]
    # CORS is API-wide on an HTTP API: one origin (a parameter), never a wildcard; the webhook needs none.
    assert api["CorsConfiguration"]["AllowOrigins"] == [{"Ref": "AppOrigin"}]
    assert "*" not in str(api["CorsConfiguration"])
    assert "DefaultAuthorizer" not in api["Auth"]
    event = props("ClerkWebhookFunction")["Events"]["ClerkWebhook"]
    assert event == {
        "Type": "HttpApi",
        "Properties": {"ApiId": {"Ref": "WebhookHttpApi"}, "Method": "POST", "Path": "/webhooks/clerk"},
    }


def test_webhook_answers_before_svix_gives_up_after_15_seconds():
    assert props("ClerkWebhookFunction")["Timeout"] < 15


def test_stream_mapping_reports_partial_failures_and_cannot_block_a_shard_forever():
    stream = props("ConnectionStreamFunction")["Events"]["TableStream"]["Properties"]
    assert stream["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert stream["BisectBatchOnFunctionError"] is True
    assert 0 <= stream["MaximumRetryAttempts"] <= 10
    assert 60 <= stream["MaximumRecordAgeInSeconds"] <= 86_400
    assert stream["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["StreamDeadLetterQueue", "Arn"]}
    assert len(stream["FilterCriteria"]["Filters"]) >= 1
    queue = props("StreamDeadLetterQueue")
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_signing_secret_is_created_empty_and_readable_only_by_the_webhook():
    secret = props("ClerkWebhookSecret")
    assert "SecretString" not in secret and "GenerateSecretString" not in secret
    webhook_env = props("ClerkWebhookFunction")["Environment"]["Variables"]
    assert webhook_env == {"CLERK_WEBHOOK_SECRET_ID": {"Ref": "ClerkWebhookSecret"}, "CLERK_WEBHOOK_SECRET": ""}
    stream_policies = props("ConnectionStreamFunctionRole")["Policies"]
    stream_statements = [s for policy in stream_policies for s in policy["PolicyDocument"]["Statement"]]
    assert stream_statements and not any("secretsmanager" in a for s in stream_statements for a in s["Action"])


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("sam", path=os.path.dirname(sys.executable)), reason="aws-sam-cli not installed")
def test_sam_validate_lint_is_clean():
    sam = shutil.which("sam", path=os.path.dirname(sys.executable))
    assert sam
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sam, "validate", "--lint", "--template-file", str(TEMPLATE_PATH)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_reconcile_function_runs_on_a_schedule_with_its_own_secret_and_least_privilege():
    function = props("ReconcileFunction")
    assert function["CodeUri"] == "functions/reconcile/" and function["Timeout"] <= 900
    assert function["ReservedConcurrentExecutions"] == 1
    assert function["Environment"]["Variables"]["CLERK_SECRET_KEY_ID"] == {"Ref": "ClerkSecretKey"}
    schedule = function["Events"]["ReconcileSchedule"]
    assert schedule["Type"] == "ScheduleV2"
    assert schedule["Properties"]["ScheduleExpression"] == {"Ref": "ReconcileScheduleExpression"}
    assert schedule["Properties"]["State"] == {"Ref": "ReconcileScheduleState"}
    assert "ReconcileMode" in str(schedule["Properties"]["Input"])
    assert function["Role"] == {"Fn::GetAtt": ["ReconcileFunctionRole", "Arn"]}
    statements = props("ReconcileFunctionRole")["Policies"][0]["PolicyDocument"]["Statement"]
    table_actions = {action for statement in statements[:1] for action in statement["Action"]}
    assert table_actions == {
        "dynamodb:BatchGetItem",
        "dynamodb:Scan",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
    }
    assert statements[0]["Resource"] == {"Fn::GetAtt": ["ConnectionsTable", "Arn"]}
    assert statements[1] == {
        "Sid": "ReadClerkSecretKey",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue"],
        "Resource": {"Ref": "ClerkSecretKey"},
    }
    assert RESOURCES["ClerkSecretKey"]["Type"] == "AWS::SecretsManager::Secret"


def test_the_reconcile_run_record_matches_no_stream_filter():
    patterns = props("ConnectionStreamFunction")["Events"]["TableStream"]["Properties"]["FilterCriteria"]["Filters"]
    for pattern in patterns:
        keys = str(pattern["Pattern"])
        assert '"PROFILE"' in keys or '"CONNECTION#"' in keys  # the run record's sk is RUN, its pk SYNC#reconcile


def test_checkov_skips_are_few_pinned_and_each_has_its_reason():
    root = Path(TEMPLATE_PATH).parent
    config_lines = (root / ".checkov.yaml").read_text(encoding="utf-8").splitlines()
    start = config_lines.index("skip-check:")
    skipped = [line.strip().removeprefix("- ") for line in config_lines[start + 1 :] if line.strip().startswith("- ")]
    assert 0 < len(skipped) <= 10
    for index, line in enumerate(config_lines[start + 1 :], start + 1):
        if line.strip().startswith("- ") and not config_lines[index - 1].strip().startswith("- "):
            assert config_lines[index - 1].strip().startswith("#"), f"{line.strip()} has no reason above it"
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    tools = pyproject["dependency-groups"]["template-lint"]
    assert {tool.split("==")[0] for tool in tools} == {"checkov", "cfn-lint"}
    assert all("==" in tool for tool in tools)


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("sam", path=os.path.dirname(sys.executable)), reason="aws-sam-cli not installed")
@pytest.mark.skipif(
    not (Path(sys.executable).parent / "python3.13").exists(), reason="sam build needs python3.13: a 3.13 virtualenv"
)
def test_plain_sam_build_ships_bytecode_for_every_module(tmp_path):
    """Lambda's code directory is read-only: a module without its .pyc is compiled again at every cold start."""
    sam = shutil.which("sam", path=os.path.dirname(sys.executable))
    assert sam
    build_dir = tmp_path / "build"
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sam, "build", "--template-file", str(TEMPLATE_PATH), "--build-dir", str(build_dir)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        # The virtualenv's python3.13 first on PATH, as `make build` does: the Makefiles call python3.13.
        env={
            **os.environ,
            "SAM_CLI_TELEMETRY": "0",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        },
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    artifacts = {"SharedLayer": "python/social_connections/clerk_events.py", "ClerkWebhookFunction": "app.py"}
    artifacts |= {
        "ConnectionStreamFunction": "app.py",
        "ReconcileFunction": "app.py",
        "PlatformCallbacksFunction": "app.py",
        "ConnectionsApiFunction": "app.py",
    }
    for name, expected in artifacts.items():
        sources = sorted((build_dir / name).rglob("*.py"))
        assert build_dir / name / expected in sources
        missing = [str(py) for py in sources if not _cached(py).is_file()]
        assert not missing, f"{name}: {len(missing)} of {len(sources)} modules without bytecode, e.g. {missing[:3]}"


def _cached(source: Path) -> Path:
    """Where python3.13 (Lambda's runtime) looks for a module's bytecode, whatever interpreter runs the test."""
    return source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"


def test_platform_callbacks_have_their_routes_secrets_and_the_platform_user_index():
    events = props("PlatformCallbacksFunction")["Events"]
    routes = {(event["Properties"]["Method"], event["Properties"]["Path"]) for event in events.values()}
    assert routes == {
        ("POST", "/platforms/meta/data-deletion"),
        ("GET", "/platforms/meta/data-deletion/{code}"),
        ("POST", "/platforms/tiktok/webhook"),
    }
    assert all(event["Properties"]["ApiId"] == {"Ref": "WebhookHttpApi"} for event in events.values())
    environment = props("PlatformCallbacksFunction")["Environment"]["Variables"]
    assert environment["META_APP_SECRET_ID"] == {"Ref": "MetaAppSecret"}
    assert environment["TIKTOK_CLIENT_SECRET_ID"] == {"Ref": "TikTokClientSecret"}
    for name in ("MetaAppSecret", "TikTokClientSecret"):
        assert "SecretString" not in props(name) and "GenerateSecretString" not in props(name)
    (index,) = [i for i in props("ConnectionsTable")["GlobalSecondaryIndexes"] if i["IndexName"] == "PlatformUserIndex"]
    assert index["KeySchema"] == [{"AttributeName": "platformUser", "KeyType": "HASH"}]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert props("PlatformCallbacksFunction")["Role"] == {"Fn::GetAtt": ["PlatformCallbacksFunctionRole", "Arn"]}
    statements = props("PlatformCallbacksFunctionRole")["Policies"][0]["PolicyDocument"]["Statement"]
    actions = {action for statement in statements for action in statement["Action"]}
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "secretsmanager:GetSecretValue",
    }
    (query,) = [statement for statement in statements if statement["Action"] == ["dynamodb:Query"]]
    assert query["Resource"] == {"Fn::Sub": "${ConnectionsTable.Arn}/index/PlatformUserIndex"}


def test_provider_aliases_is_a_parameter_every_function_gets():
    template = load_template()
    assert template["Parameters"]["ProviderAliases"]["Default"] == (
        "oauth_custom_instagram=instagram,oauth_custom_tiktok=tiktok"
    )
    assert template["Globals"]["Function"]["Environment"]["Variables"]["PROVIDER_ALIASES"] == {"Ref": "ProviderAliases"}


# ---- the connections API (docs/connections-api.md) ----------------------------------------------------------------


def test_connections_api_routes_and_their_authorization():
    events = props("ConnectionsApiFunction")["Events"]
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]): e["Properties"]["Auth"] for e in events.values()}
    assert all(
        e["Type"] == "HttpApi" and e["Properties"]["ApiId"] == {"Ref": "WebhookHttpApi"} for e in events.values()
    )
    assert routes == {
        ("GET", "/me/connections"): {"Authorizer": "ClerkSessionToken"},
        ("GET", "/users/{userId}/connections"): {"Authorizer": "AWS_IAM"},
        ("POST", "/users/{userId}/connections/{platform}/{externalAccountId}/results"): {"Authorizer": "AWS_IAM"},
        ("GET", "/users/{userId}/connections/{platform}/token"): {"Authorizer": "AWS_IAM"},
    }
    auth = props("WebhookHttpApi")["Auth"]
    # Deployed, an unsigned internal call never reaches the function: API Gateway's IAM authorizer refuses it.
    assert auth["EnableIamAuthorizer"] is True
    jwt = auth["Authorizers"]["ClerkSessionToken"]
    assert jwt["IdentitySource"] == "$request.header.Authorization"
    assert jwt["JwtConfiguration"] == {
        "issuer": {"Ref": "SessionTokenIssuer"},
        "audience": [{"Ref": "SessionTokenAudience"}],
    }
    parameters = load_template()["Parameters"]
    assert parameters["SessionTokenIssuer"]["AllowedPattern"].startswith("^https://")
    assert "*" in parameters["AppOrigin"]["AllowedPattern"]  # excluded by the pattern's [^*/]


def test_connections_api_is_least_privilege():
    function = props("ConnectionsApiFunction")
    assert function["Role"] == {"Fn::GetAtt": ["ConnectionsApiFunctionRole", "Arn"]} and "Policies" not in function
    (policy,) = props("ConnectionsApiFunctionRole")["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["OwnLogGroupOnly"]["Resource"] == {"Fn::GetAtt": ["ConnectionsApiLogs", "Arn"]}
    assert statements["ReadConnections"]["Action"] == ["dynamodb:Query"]
    update = statements["RecordPublishResultsOnly"]
    assert update["Action"] == ["dynamodb:UpdateItem"]
    allowed = update["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
    assert set(allowed) == {"pk", "sk", "errorCount", "lastError", "lastErrorAt"}  # never connectionStatus
    assert statements["ReadClerkSecretKey"] == {
        "Sid": "ReadClerkSecretKey",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue"],
        "Resource": {"Ref": "ClerkSecretKey"},
    }
    actions = [action for s in statements.values() for action in s["Action"]]
    assert not any(action.endswith("*") for action in actions)
    assert function["Environment"]["Variables"]["CLERK_SECRET_KEY_ID"] == {"Ref": "ClerkSecretKey"}
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": "ConnectionsApiLogs"}}
    assert function["Timeout"] < 30  # API Gateway's integration timeout
