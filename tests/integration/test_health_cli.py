"""The sparse AttentionIndex and `clerk-connections health`: exactly the rows in expired or error, read from moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from social_connections import cli, container
from social_connections.model import ConnectionKey
from social_connections.providers import Platform
from social_connections.storage.attention_index import AttentionIndexReader

from devtools.clerk_payloads import deleted_event, external_account, user_event
from devtools.testkit.aws import TEST_TABLE_NAME, LambdaContextStub
from devtools.testkit.table import StreamReader, stream_event, table_items

T0 = 1_716_883_200_000


@pytest.fixture
def run_stream(table: str, stream_app):
    reader = StreamReader(boto3.client("dynamodbstreams"), table)

    def run() -> None:
        while records := reader.read():
            assert stream_app.lambda_handler(stream_event(records), LambdaContextStub()) == {"batchItemFailures": []}

    return run


def accounts(x: str = "verified", tiktok: str = "verified", updated_at: int = T0) -> list[dict[str, Any]]:
    email = "ada@example.com"
    return [
        external_account("eac_x", "oauth_x", updated_at=updated_at, status=x, email=email),
        external_account("eac_tt", "oauth_custom_tiktok", updated_at=updated_at, status=tiktok, email=email),
    ]


def indexed() -> set[tuple[str, str, str]]:
    reader = AttentionIndexReader(TEST_TABLE_NAME, container.current().dynamodb)
    return {(row.user_id, row.key.platform.value, row.status.value) for row in reader.rows()}


def attention_in_table() -> set[tuple[str, str, str]]:
    """The rows that must be in the index, and the attribute on each row, read from the table itself."""
    rows = [item for item in table_items() if str(item["sk"]).startswith("CONNECTION#")]
    for item in rows:
        expected = f"{item['connectionStatus']}#{item['platform']}"
        in_attention = item["connectionStatus"] in {"expired", "error"}
        assert item.get("attention") == (expected if in_attention else None), item
    return {
        (r["userId"], r["platform"], r["connectionStatus"])
        for r in rows
        if r["connectionStatus"] in {"expired", "error"}
    }


def test_the_index_follows_every_writer(deliver, run_stream):
    deliver(user_event("user.created", "user_a", updated_at=T0, accounts=accounts(tiktok="expired")))
    deliver(user_event("user.created", "user_b", updated_at=T0, accounts=accounts(x="failed")))
    run_stream()
    assert indexed() == attention_in_table() == {("user_a", "tiktok", "expired"), ("user_b", "twitter", "error")}
    store = container.current().store
    for _ in range(3):
        store.record_publish_failure("user_a", ConnectionKey(Platform.TWITTER, "eac_x"), "401 from X")
    run_stream()  # the stream function's connected -> error
    assert ("user_a", "twitter", "error") in indexed()
    store.record_publish_success("user_a", ConnectionKey(Platform.TWITTER, "eac_x"))
    run_stream()  # ... and back
    deliver(user_event("user.updated", "user_a", updated_at=T0 + 1, accounts=accounts(updated_at=T0 + 1)))  # relinked
    deliver(user_event("user.updated", "user_b", updated_at=T0 + 1, accounts=[]))  # disconnected
    run_stream()
    assert indexed() == attention_in_table() == set()
    deliver(user_event("user.updated", "user_b", updated_at=T0 + 2, accounts=accounts(tiktok="expired")))
    deliver(deleted_event("user_b"))
    run_stream()  # the cleanup deletes the rows and so their index entries
    assert indexed() == attention_in_table() == set()


def test_health_lists_what_needs_attention_with_counts_and_no_personal_data(deliver, run_stream, capsys):
    deliver(user_event("user.created", "user_a", updated_at=T0, accounts=accounts(tiktok="expired")))
    deliver(user_event("user.created", "user_b", updated_at=T0, accounts=accounts(x="failed", tiktok="expired")))
    store = container.current().store
    store.record_publish_failure("user_b", ConnectionKey(Platform.TWITTER, "eac_x"), "401 from X: token revoked")
    run_stream()
    capsys.readouterr()
    assert cli.main(["health"]) == 0
    output = capsys.readouterr().out
    assert "ada@example.com" not in output and "Lovelace" not in output
    lines = output.splitlines()
    assert lines[0].split() == ["platform", "status", "since", "errorCount", "user", "account", "id", "last", "error"]
    assert [line.split()[:2] for line in lines[2:5]] == [
        ["twitter", "error"],
        ["tiktok", "expired"],
        ["tiktok", "expired"],
    ]
    assert "401 from X: token revoked" in lines[2]
    assert lines[-1] == "3 need attention. error: twitter 1; expired: tiktok 2"

    assert cli.main(["health", "--platform", "tiktok", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 2 and report["counts"] == {"expired": {"tiktok": 2}}
    assert {row["userId"] for row in report["rows"]} == {"user_a", "user_b"}
    assert set(report["rows"][0]) == {
        "userId",
        "platform",
        "externalAccountId",
        "status",
        "since",
        "errorCount",
        "lastError",
        "lastErrorAt",
    }


def test_health_on_a_healthy_table_and_on_a_missing_one(table, capsys):
    assert cli.main(["health"]) == 0
    assert capsys.readouterr().out.strip() == "no connection needs attention (none is expired or in error)"
    assert cli.main(["health", "--table", "no-such-table"]) == 2
    assert "not found" in capsys.readouterr().err


def test_health_on_a_table_deployed_before_the_index(dynamodb, capsys):
    dynamodb.create_table(
        TableName="older-table",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    assert cli.main(["health", "--table", "older-table"]) == 2
    # DynamoDB answers ValidationException, moto ResourceNotFoundException: both name the index and the fix.
    assert "AttentionIndex" in (message := capsys.readouterr().err) and "deploy the current template" in message
