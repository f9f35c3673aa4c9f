"""DynamoDB Local (testkit.dynamodb_local): starts on 127.0.0.1, stops, streams records, refuses what AWS refuses."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from devtools.testkit.dynamodb_local import DynamoDBLocal, stream_round_trip
from devtools.testkit.dynamodb_rules import uninstall

MISSING_TOOLS = [tool for tool in ("java", "javac", "npm") if shutil.which(tool) is None]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING_TOOLS),
        reason=f"DynamoDB Local needs a Java 17 JDK and npm; not on PATH: {', '.join(MISSING_TOOLS)}",
    ),
]


@pytest.fixture(scope="module")
def local() -> Iterator[DynamoDBLocal]:
    # One server for the module: a cold start costs seconds, and each test uses its own table.
    with DynamoDBLocal() as server:
        yield server


def _create_table(local: DynamoDBLocal, name: str) -> None:
    local.client().create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_starts_on_loopback_answers_and_stops():
    with DynamoDBLocal() as server:
        endpoint = urlsplit(server.endpoint_url)
        process = server.process
        assert endpoint.hostname == "127.0.0.1"
        assert server.client().list_tables()["TableNames"] == []
    assert process is not None
    assert process.returncode is not None
    assert server.process is None
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", endpoint.port or 0), timeout=1):
        pass


def test_stream_round_trip_gives_the_transaction_s_insert(local):
    record = stream_round_trip(local, table="stream-round-trip")

    assert record["eventName"] == "INSERT"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["dynamodb"]["Keys"] == {"pk": {"S": "check"}}
    assert record["dynamodb"]["NewImage"] == {"pk": {"S": "check"}}
    assert "OldImage" not in record["dynamodb"]
    assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


@pytest.mark.parametrize(
    ("names", "values", "message"),
    [
        ({}, {":v": {"N": "1"}}, "ExpressionAttributeNames must not be empty"),
        (None, {":v": {"N": "1"}, ":unused": {"S": "x"}}, "ExpressionAttributeValues unused in expressions"),
    ],
    ids=["empty-names-map", "unused-value"],
)
def test_rejects_an_empty_names_map_and_unused_values_as_aws_does(local, names, values, message):
    table = "expressions"
    if table not in local.client().list_tables()["TableNames"]:
        _create_table(local, table)
    extra = {} if names is None else {"ExpressionAttributeNames": names}

    client = local.client()
    uninstall(client)  # DynamoDB Local itself must refuse these, not the tests' request check
    with pytest.raises(ClientError) as refused:
        client.update_item(
            TableName=table,
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET n = :v",
            ExpressionAttributeValues=values,
            **extra,
        )

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert message in refused.value.response["Error"]["Message"]
