"""dynamodb_rules: requests DynamoDB rejects (and moto accepts) are reported; the shapes we send pass."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr
from moto import mock_aws

from devtools.testkit import dynamodb_rules
from devtools.testkit.dynamodb_rules import RESERVED_WORDS, DynamoDBRequestError, install, request_problems

TABLE = "rules-test"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": _s(pk), "sk": _s(sk)}


def _update(sk: str, **extra: Any) -> dict[str, Any]:
    return {
        "TableName": TABLE,
        "Key": _key("USER#u1", sk),
        "UpdateExpression": "SET connectionStatus = :status, version = :version",
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeValues": {":status": _s("connected"), ":version": {"N": "2"}},
        **extra,
    }


def _one(problems: list[str], *fragments: str) -> None:
    assert problems, "expected a problem, got none"
    assert any(all(fragment in problem for fragment in fragments) for problem in problems), problems


# ---- requests that must pass ---------------------------------------------------------------------------------------

GOOD_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    (
        "UpdateItem",
        {
            "TableName": TABLE,
            "Key": _key("USER#u1", "CONNECTION#x#1"),
            "UpdateExpression": "SET a = :v, b = if_not_exists(b, :z), c = list_append(c, :l), d = d + :one",
            "ExpressionAttributeValues": {":v": _s("x"), ":z": {"N": "0"}, ":l": {"L": []}, ":one": {"N": "1"}},
        },
    ),
    (
        "UpdateItem",
        {
            "TableName": TABLE,
            "Key": _key("USER#u1", "CONNECTION#x#1"),
            "UpdateExpression": "ADD errorCount :one SET lastError = :e, lastErrorAt = :at",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":e": _s("boom"), ":at": _s("2026-01-01")},
        },
    ),
    (
        "UpdateItem",
        {
            "TableName": TABLE,
            "Key": _key("USER#u1", "CONNECTION#x#1"),
            "UpdateExpression": "set connectionStatus = :c, updatedAt = :now remove lastError, tags[0]",
            "ConditionExpression": "connectionStatus = :e AND errorCount = :zero "
            "AND metadata.verificationStatus = :verified",
            "ExpressionAttributeValues": {
                ":c": _s("connected"),
                ":now": _s("2026-01-01"),
                ":e": _s("error"),
                ":zero": {"N": "0"},
                ":verified": _s("verified"),
            },
        },
    ),
    (
        "PutItem",
        {
            "TableName": TABLE,
            "Item": {**_key("USER#u1", "PROFILE"), "profileStatus": _s("deleted")},
            "ConditionExpression": "attribute_not_exists(pk) OR profileStatus <> :d",
            "ExpressionAttributeValues": {":d": _s("deleted")},
        },
    ),
    ("PutItem", {"TableName": TABLE, "Item": _key("USER#u1", "PROFILE")}),
    (
        "DeleteItem",
        {
            "TableName": TABLE,
            "Key": _key("USER#u1", "PROFILE"),
            "ConditionExpression": "NOT contains(#tags, :t) AND size(#tags) BETWEEN :lo AND :hi AND #s IN (:a, :b)",
            "ExpressionAttributeNames": {"#tags": "tags", "#s": "status"},
            "ExpressionAttributeValues": {
                ":t": _s("x"),
                ":lo": {"N": "1"},
                ":hi": {"N": "9"},
                ":a": _s("a"),
                ":b": _s("b"),
            },
        },
    ),
    (
        "Query",
        {
            "TableName": TABLE,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": _s("USER#u1"), ":prefix": _s("CONNECTION#")},
            "ProjectionExpression": "pk, sk",
            "ConsistentRead": True,
        },
    ),
    (
        "Scan",
        {
            "TableName": TABLE,
            "FilterExpression": "attribute_type(#data, :m) and #data.#name.given = :n",
            "ProjectionExpression": "pk, #data.#name",
            "ExpressionAttributeNames": {"#data": "data", "#name": "name"},
            "ExpressionAttributeValues": {":m": _s("M"), ":n": _s("Ada")},
        },
    ),
    ("GetItem", {"TableName": TABLE, "Key": _key("USER#u1", "PROFILE"), "ProjectionExpression": "pk, profileStatus"}),
    (
        "TransactWriteItems",
        {
            "TransactItems": [
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": _key("USER#u1", "PROFILE"),
                        "UpdateExpression": "SET userId = :uid, profileStatus = :active, #v = :version",
                        "ConditionExpression": "#v = :lock_version AND profileStatus = :active",
                        "ExpressionAttributeNames": {"#v": "version"},
                        "ExpressionAttributeValues": {
                            ":uid": _s("u1"),
                            ":active": _s("active"),
                            ":version": {"N": "2"},
                            ":lock_version": {"N": "1"},
                        },
                    }
                },
                *({"Update": _update(f"CONNECTION#x#{n}")} for n in range(98)),
                {"Put": {"TableName": TABLE, "Item": {**_key("USER#u1", "OTHER"), "a": _s("b")}}},
            ]
        },
    ),
    (
        "TransactGetItems",
        {
            "TransactItems": [
                {"Get": {"TableName": TABLE, "Key": _key("USER#u1", "PROFILE"), "ProjectionExpression": "pk"}}
            ]
        },
    ),
    (
        "BatchGetItem",
        {
            "RequestItems": {
                TABLE: {"Keys": [_key("USER#u1", f"S{n}") for n in range(100)], "ProjectionExpression": "pk, sk"}
            }
        },
    ),
    (
        "BatchWriteItem",
        {"RequestItems": {TABLE: [{"DeleteRequest": {"Key": _key("USER#u1", f"S{n}")}} for n in range(25)]}},
    ),
]


@pytest.mark.parametrize(
    ("operation", "params"), GOOD_REQUESTS, ids=[f"{op}-{i}" for i, (op, _) in enumerate(GOOD_REQUESTS)]
)
def test_good_requests_pass(operation: str, params: dict[str, Any]) -> None:
    assert request_problems(operation, params) == []


def test_reserved_word_list_has_the_documented_573_words() -> None:
    assert len(RESERVED_WORDS) == 573
    assert {"STATUS", "DATA", "NAME", "SIZE", "CONNECTION", "TTL", "USER"} <= RESERVED_WORDS
    assert "VERSION" not in RESERVED_WORDS


# ---- one test per rule ---------------------------------------------------------------------------------------------


def test_rule1_empty_expression_attribute_maps() -> None:
    lock = {
        "TableName": TABLE,
        "Key": _key("USER#u1", "PROFILE"),
        "ConditionExpression": "attribute_not_exists(pk)",
        "ExpressionAttributeNames": {},
        "ExpressionAttributeValues": {},
    }
    problems = request_problems("TransactWriteItems", {"TransactItems": [{"ConditionCheck": lock}]})
    _one(problems, "TransactItems[0].ConditionCheck", "ExpressionAttributeNames must not be empty")
    _one(problems, "ExpressionAttributeValues must not be empty")
    _one(
        request_problems("PutItem", {**lock, "Item": lock["Key"]}),
        "PutItem",
        "ExpressionAttributeValues must not be empty",
    )


def test_rule2_unused_placeholders() -> None:
    params = _update("S", ExpressionAttributeNames={"#unused": "x"})
    params["ExpressionAttributeValues"] = {**params["ExpressionAttributeValues"], ":x": _s("spare")}
    problems = request_problems("UpdateItem", params)
    _one(problems, "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}")
    _one(problems, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}")
    # A name used only by a ProjectionExpression counts as used; an extra one in the same map does not.
    batch = {
        TABLE: {
            "Keys": [_key("a", "b")],
            "ProjectionExpression": "#d",
            "ExpressionAttributeNames": {"#d": "data", "#e": "e"},
        }
    }
    _one(request_problems("BatchGetItem", {"RequestItems": batch}), f"RequestItems[{TABLE}]", "keys: {#e}")


def test_rule3_undefined_placeholders() -> None:
    params = {
        "TableName": TABLE,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "FilterExpression": "#s = :s",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":pk": _s("USER#u1"), ":s": _s("x")},
    }
    _one(request_problems("Query", params), "value used in expression is not defined: :prefix")
    get = {"Get": {"TableName": TABLE, "Key": _key("a", "b"), "ProjectionExpression": "pk, #missing"}}
    _one(
        request_problems("TransactGetItems", {"TransactItems": [get]}), "TransactItems[0].Get", "not defined: #missing"
    )


def test_rule4_reserved_words_without_placeholder() -> None:
    update = _update("S", UpdateExpression="SET status = :status, version = :version")
    _one(request_problems("UpdateItem", update), "reserved keyword: status")
    nested = _update("S", ConditionExpression="metadata.data = :status", UpdateExpression="SET version = :version")
    _one(request_problems("UpdateItem", nested), "reserved keyword: data")
    _one(
        request_problems("GetItem", {"TableName": TABLE, "Key": _key("a", "b"), "ProjectionExpression": "pk, Name"}),
        "Name",
    )
    query = {
        "TableName": TABLE,
        "KeyConditionExpression": "pk = :pk",
        "FilterExpression": "size > :n",  # "size" without "(" is an attribute, and SIZE is reserved
        "ExpressionAttributeValues": {":pk": _s("p"), ":n": {"N": "1"}},
    }
    _one(request_problems("Query", query), "reserved keyword: size")
    assert request_problems("Query", {**query, "FilterExpression": "size(tags) > :n"}) == []


def test_rule5_one_item_twice_in_a_transaction() -> None:
    check = {
        "TableName": TABLE,
        "Key": _key("USER#u1", "CONNECTION#x#1"),
        "ConditionExpression": "attribute_exists(pk)",
    }
    twice = [{"Update": _update("CONNECTION#x#1")}, {"ConditionCheck": check}]
    _one(
        request_problems("TransactWriteItems", {"TransactItems": twice}), "TransactItems[1].ConditionCheck", "one item"
    )
    put = {"Put": {"TableName": TABLE, "Item": {**_key("USER#u1", "CONNECTION#x#1"), "extra": _s("y")}}}
    _one(request_problems("TransactWriteItems", {"TransactItems": [twice[0], put]}), "TransactItems[1].Put", "one item")
    other_table = {"Update": {**_update("CONNECTION#x#1"), "TableName": "other"}}
    assert request_problems("TransactWriteItems", {"TransactItems": [twice[0], other_table]}) == []


def test_rule6_more_than_100_transaction_actions() -> None:
    writes = [{"Update": _update(f"S{n}")} for n in range(101)]
    _one(request_problems("TransactWriteItems", {"TransactItems": writes}), "101 actions")
    gets = [{"Get": {"TableName": TABLE, "Key": _key("a", f"S{n}")}} for n in range(101)]
    _one(request_problems("TransactGetItems", {"TransactItems": gets}), "101 actions")


def test_rule7_batch_limits() -> None:
    deletes = [{"DeleteRequest": {"Key": _key("a", f"S{n}")}} for n in range(13)]
    _one(request_problems("BatchWriteItem", {"RequestItems": {TABLE: deletes, "other": deletes}}), "26")
    keys = [_key("a", f"S{n}") for n in range(51)]
    _one(request_problems("BatchGetItem", {"RequestItems": {TABLE: {"Keys": keys}, "other": {"Keys": keys}}}), "102")


def test_rule8_update_expression_names_a_path_twice() -> None:
    same = _update("S", UpdateExpression="SET a = :status, a = :version")
    _one(request_problems("UpdateItem", same), "Two document paths overlap")
    via_placeholder = _update(
        "S",
        UpdateExpression="SET #a = :status REMOVE a.b",
        ExpressionAttributeNames={"#a": "a"},
        ExpressionAttributeValues={":status": _s("x")},
    )
    _one(request_problems("UpdateItem", via_placeholder), "overlap")
    # Different list elements, and reading a path the update also sets, are fine.
    fine = _update("S", UpdateExpression="SET l[0] = :status, l[1] = :version, b = if_not_exists(b, :version)")
    assert request_problems("UpdateItem", fine) == []


# ---- installed on a real client, under moto ------------------------------------------------------------------------


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The params each installed check was given, in order."""
    seen: list[dict[str, Any]] = []

    def spy(operation: str, params: dict[str, Any]) -> list[str]:
        seen.append(dict(params))
        return request_problems(operation, params)

    monkeypatch.setattr(dynamodb_rules, "request_problems", spy)
    return seen


def test_installed_client_refuses_a_bad_request_before_sending_it(dynamodb: Any, checked: list[dict[str, Any]]) -> None:
    sent: list[str] = []
    dynamodb.meta.events.register_first("before-send.dynamodb", lambda request, **_: sent.append(request.url))
    install(dynamodb)
    install(dynamodb)  # idempotent: one handler, one check per call
    item = {**_key("USER#u1", "PROFILE"), "profileStatus": _s("active")}
    with pytest.raises(DynamoDBRequestError, match="ExpressionAttributeNames must not be empty"):
        dynamodb.put_item(
            TableName=TABLE,
            Item=item,
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeNames={},
        )
    assert sent == []
    assert len(checked) == 1
    dynamodb.put_item(TableName=TABLE, Item=item, ConditionExpression="attribute_not_exists(pk)")
    assert len(sent) == 1
    assert len(checked) == 2
    assert dynamodb.get_item(TableName=TABLE, Key=_key("USER#u1", "PROFILE"))["Item"] == item


def test_installed_check_sees_what_the_resource_layer_builds(dynamodb: Any, checked: list[dict[str, Any]]) -> None:
    table = boto3.resource("dynamodb").Table(TABLE)
    install(table.meta.client)
    # boto3's condition builder turns Attr(...) into "#n0" placeholders and serializes values before the check runs.
    table.put_item(Item={"pk": "p", "sk": "s", "status": "new"}, ConditionExpression=Attr("status").not_exists())
    assert checked[-1]["ConditionExpression"] == "attribute_not_exists(#n0)"
    assert checked[-1]["ExpressionAttributeNames"] == {"#n0": "status"}
    assert checked[-1]["Item"]["status"] == {"S": "new"}
    with pytest.raises(DynamoDBRequestError, match="reserved keyword: status"):
        table.update_item(
            Key={"pk": "p", "sk": "s"}, UpdateExpression="SET status = :s", ExpressionAttributeValues={":s": "x"}
        )


# ---- active on every client of the test suite: one crafted bad request per rule ---------------------------------

CRAFTED: dict[str, tuple[str, dict[str, Any], str]] = {
    "empty ExpressionAttributeNames": (
        "put_item",
        {"Item": _key("u", "P"), "ConditionExpression": "attribute_not_exists(pk)", "ExpressionAttributeNames": {}},
        "ExpressionAttributeNames must not be empty",
    ),
    "unused ExpressionAttributeValues": (
        "put_item",
        {
            "Item": _key("u", "P"),
            "ConditionExpression": "attribute_not_exists(pk)",
            "ExpressionAttributeValues": {":spare": _s("x")},
        },
        "unused in expressions: keys: {:spare}",
    ),
    "undefined name": (
        "update_item",
        {"Key": _key("u", "P"), "UpdateExpression": "SET #v = :v", "ExpressionAttributeValues": {":v": _s("x")}},
        "name used in the document path is not defined: #v",
    ),
    "unescaped reserved word": (
        "update_item",
        {"Key": _key("u", "P"), "UpdateExpression": "SET status = :v", "ExpressionAttributeValues": {":v": _s("x")}},
        "reserved keyword: status",
    ),
    "one item twice in a transaction": (
        "transact_write_items",
        {
            "TransactItems": [
                {"Put": {"TableName": TABLE, "Item": _key("u", "P")}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": _key("u", "P"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        },
        "multiple operations on one item",
    ),
    "more than 100 transaction actions": (
        "transact_write_items",
        {"TransactItems": [{"Put": {"TableName": TABLE, "Item": _key("u", f"S{n}")}} for n in range(101)]},
        "101 actions, at most 100",
    ),
    "more than 25 batch items": (
        "batch_write_item",
        {"RequestItems": {TABLE: [{"PutRequest": {"Item": _key("u", f"S{n}")}} for n in range(26)]}},
        "Too many items requested (26, at most 25)",
    ),
}


@pytest.mark.parametrize("rule", list(CRAFTED))
def test_every_client_the_suite_creates_refuses_each_crafted_bad_request(dynamodb: Any, rule: str) -> None:
    """tests/conftest.py installs the check on every DynamoDB client: a fresh session's client has it unasked."""
    method, params, message = CRAFTED[rule]
    sent: list[str] = []
    for client in (boto3.Session().client("dynamodb"), boto3.resource("dynamodb").meta.client):
        client.meta.events.register_first("before-send.dynamodb", lambda request, **_: sent.append(request.url))
        call = getattr(client, method)
        arguments = params if method.startswith(("transact", "batch")) else {"TableName": TABLE, **params}
        with pytest.raises(DynamoDBRequestError, match=re.escape(message)):
            call(**arguments)
    assert sent == [], f"{rule}: a request reached the endpoint"
    assert dynamodb.scan(TableName=TABLE)["Count"] == 0
