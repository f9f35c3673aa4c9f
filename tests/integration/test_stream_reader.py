"""The stream reader the stream tests and the local stack rely on, against moto's stream."""

from __future__ import annotations

import boto3
import pytest

from devtools.testkit.aws import TEST_TABLE_NAME
from devtools.testkit.table import StreamReader


def put(client, pk: str) -> None:
    client.put_item(TableName=TEST_TABLE_NAME, Item={"pk": {"S": pk}, "sk": {"S": "PROFILE"}})


def keys(records) -> list[str]:
    return [record["dynamodb"]["Keys"]["pk"]["S"] for record in records]


def test_each_record_is_read_once_in_order(table):
    client = boto3.client("dynamodb")
    reader = StreamReader(boto3.client("dynamodbstreams"), table)
    put(client, "USER#a")
    put(client, "USER#b")
    assert keys(reader.read()) == ["USER#a", "USER#b"]
    assert reader.read() == []
    put(client, "USER#c")
    assert keys(reader.read(limit=1)) == ["USER#c"]


def test_records_written_after_a_cancelled_transaction_are_still_read(table):
    # moto restores the table from a copy when a transaction is cancelled; a kept iterator would read nothing after it.
    client = boto3.client("dynamodb")
    reader = StreamReader(boto3.client("dynamodbstreams"), table)
    put(client, "USER#a")
    assert keys(reader.read()) == ["USER#a"]
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": TEST_TABLE_NAME,
                        "Key": {"pk": {"S": "USER#a"}, "sk": {"S": "PROFILE"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            ]
        )
    put(client, "USER#b")
    assert keys(reader.read()) == ["USER#b"]
