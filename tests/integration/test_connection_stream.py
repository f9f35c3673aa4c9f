"""The stream function driven by the records the table really emits under moto (read through dynamodbstreams)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.events.models import EventPattern
from social_connections import container
from social_connections.model import ConnectionKey
from social_connections.providers import Platform

from devtools.clerk_payloads import deleted_event, external_account, user_event
from devtools.local_stream import compile_filters, matches_any
from devtools.testkit.aws import LambdaContextStub
from devtools.testkit.logs import emf_blobs, log_lines, metric_totals
from devtools.testkit.memory_events import MemoryEventPublisher
from devtools.testkit.table import stream_event, table_items, user_rows
from devtools.testkit.template import read_template

T0 = 1_716_883_200_000
USER = "user_stream"
X_KEY = ConnectionKey(Platform.TWITTER, "eac_x")
X = "CONNECTION#twitter#eac_x"


def create_user(deliver, user_id: str, connections: int) -> None:
    accounts = [external_account(f"eac_{i:03d}", "oauth_x", updated_at=T0) for i in range(connections)]
    assert deliver(user_event("user.created", user_id, updated_at=T0, accounts=accounts)).status == 200


@pytest.mark.parametrize("connections", [0, 1, 30])
def test_deletion_removes_every_connection_with_one_query_and_conditional_deletes(
    deliver, run_stream, calls, connections
):
    create_user(deliver, USER, connections)
    create_user(deliver, "user_bystander", 2)
    run_stream()
    assert deliver(deleted_event(USER)).body["outcome"] == "deleted"
    calls.reset()
    responses = run_stream()  # the tombstone, then the REMOVE records of the cleanup itself
    assert responses and all(response == {"batchItemFailures": []} for response in responses)
    assert calls.calls["Query"] == 1
    assert calls.calls["DeleteItem"] == connections  # the design's budget: 1 query + k conditional deletes
    assert set(calls.calls) <= {"Query", "DeleteItem"}
    rows = user_rows(USER)
    assert list(rows) == ["PROFILE"]
    assert set(rows["PROFILE"]) == {"pk", "sk", "userId", "profileStatus", "deletedAt"}  # no PII left
    assert len(user_rows("user_bystander")) == 3


def test_cleanup_record_replayed_is_harmless(deliver, stream, stream_app, run_stream):
    create_user(deliver, USER, 3)
    run_stream()
    deliver(deleted_event(USER))
    batch = stream_event(stream.read())
    first = stream_app.lambda_handler(batch, LambdaContextStub())
    after_first = table_items()
    second = stream_app.lambda_handler(batch, LambdaContextStub())
    assert first == second == {"batchItemFailures": []}
    assert table_items() == after_first


def test_threshold_crossing_moves_to_error_and_recovery_back_to_connected(deliver, run_stream):
    deliver(
        user_event("user.created", USER, updated_at=T0, accounts=[external_account("eac_x", "oauth_x", updated_at=T0)])
    )
    repository = container.current().store
    for attempt in range(2):
        assert repository.record_publish_failure(USER, X_KEY, f"publish failed ({attempt})")
    run_stream()
    assert user_rows(USER)[X]["connectionStatus"] == "connected"

    repository.record_publish_failure(USER, X_KEY, "publish failed (2)")
    run_stream()
    row = user_rows(USER)[X]
    assert row["connectionStatus"] == "error"
    assert row["errorCount"] == 3
    assert row["lastError"] == "publish failed (2)"

    assert repository.record_publish_success(USER, X_KEY)
    assert not repository.record_publish_success(USER, X_KEY)  # nothing to reset: no write, no stream record
    run_stream()
    row = user_rows(USER)[X]
    assert row["connectionStatus"] == "connected"
    assert row["errorCount"] == 0


def test_no_recovery_while_clerk_reports_the_account_not_verified(deliver, run_stream):
    deliver(
        user_event("user.created", USER, updated_at=T0, accounts=[external_account("eac_x", "oauth_x", updated_at=T0)])
    )
    repository = container.current().store
    for _ in range(3):
        repository.record_publish_failure(USER, X_KEY, "boom")
    run_stream()
    # Clerk now says the account failed verification: the row is `error` from Clerk's side too.
    failed = external_account("eac_x", "oauth_x", updated_at=T0 + 1, status="failed")
    deliver(user_event("user.updated", USER, updated_at=T0 + 1, accounts=[failed]))
    repository.record_publish_success(USER, X_KEY)
    run_stream()
    assert user_rows(USER)[X]["connectionStatus"] == "error"


def test_a_failing_record_is_reported_while_the_others_succeed(deliver, stream, stream_app, monkeypatch, capsys):
    create_user(deliver, "user_a", 2)
    create_user(deliver, "user_b", 2)
    stream.read()
    deliver(deleted_event("user_a"))
    deliver(deleted_event("user_b"))
    records = stream.read()
    assert len(records) == 2
    repository = container.current().store
    real_delete = repository.delete_connections

    def poisoned(user_id: str) -> int:
        if user_id == "user_a":
            raise RuntimeError("poison record")
        return real_delete(user_id)

    monkeypatch.setattr(repository, "delete_connections", poisoned)
    capsys.readouterr()
    context = LambdaContextStub()
    response = stream_app.lambda_handler(stream_event(records), context)
    assert response == {"batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]}
    assert len(user_rows("user_a")) == 3
    assert list(user_rows("user_b")) == ["PROFILE"]
    out = capsys.readouterr().out
    failed, removed = log_lines(out)
    assert (failed["level"], failed["message"]) == ("WARNING", "stream record failed; it will be retried")
    assert failed["error_type"] == "RuntimeError" and "poison" not in out  # the type, never the message
    assert (removed["message"], removed["user_id"], removed["removed"]) == (
        "deleted user's connections removed",
        "user_b",
        2,
    )
    assert all(line["function_request_id"] == context.aws_request_id for line in (failed, removed))
    assert len(emf_blobs(out)) == 1  # one blob per invocation
    assert metric_totals(out) == {"ConnectionsRemoved": 2.0, "StreamRecordsFailed": 1.0}


def test_records_of_other_item_types_are_ignored(deliver, run_stream, calls):
    create_user(deliver, USER, 2)
    deliver(user_event("user.updated", USER, updated_at=T0 + 1, accounts=[]))  # two disconnects + a profile MODIFY
    before = table_items()
    calls.reset()
    responses = run_stream()
    assert responses and all(response == {"batchItemFailures": []} for response in responses)
    assert calls.total == 0
    assert table_items() == before


def test_remove_records_are_ignored(stream_app, calls):
    record = {
        "eventID": "1",
        "eventName": "REMOVE",
        "eventSource": "aws:dynamodb",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x",
        "dynamodb": {"Keys": {"pk": {"S": "USER#u"}, "sk": {"S": "PROFILE"}}, "SequenceNumber": "1"},
    }
    assert stream_app.lambda_handler(stream_event([record]), LambdaContextStub()) == {"batchItemFailures": []}
    assert calls.total == 0


def _stream_filters() -> list[EventPattern]:
    """The FilterCriteria of the function's stream event in template.yaml, matched as the local stack matches them."""
    (mapping,) = read_template().functions["ConnectionStreamFunction"].streams
    return compile_filters(mapping.filter_patterns)


def test_filter_criteria_pass_every_status_change_and_the_function_cannot_feed_itself(
    deliver, stream, stream_app, calls
):
    filters = _stream_filters()
    bus = container.current().publisher
    assert isinstance(bus, MemoryEventPublisher)
    published = bus.published

    def selected(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [record for record in records if matches_any(record, filters)]

    def handle(records: list[dict[str, Any]]) -> None:
        assert stream_app.lambda_handler(stream_event(records), LambdaContextStub()) == {"batchItemFailures": []}

    deliver(
        user_event("user.created", USER, updated_at=T0, accounts=[external_account("eac_x", "oauth_x", updated_at=T0)])
    )
    created = selected(stream.read())
    assert [r["dynamodb"]["Keys"]["sk"]["S"] for r in created] == [
        X
    ]  # the new row is a status change (none -> connected)
    handle(created)
    repository = container.current().store
    for _ in range(3):
        repository.record_publish_failure(USER, X_KEY, "boom")
    failing = selected(stream.read())
    assert len(failing) == 3  # every failure on a connected row is looked at; the handler checks the threshold
    handle(failing)
    own_write = selected(stream.read())
    assert len(own_write) == 1  # its own connected -> error write comes back once, as a status change to publish
    calls.reset()
    handle(own_write)
    assert calls.writes == 0  # ... and asks for no further write: the chain ends here
    assert selected(stream.read()) == []
    repository.record_publish_success(USER, X_KEY)
    handle(selected(stream.read()))
    own_write = selected(stream.read())
    assert len(own_write) == 1  # error -> connected, likewise once
    calls.reset()
    handle(own_write)
    assert calls.writes == 0
    assert selected(stream.read()) == []
    assert [(c.from_status, c.to_status) for c in published] == [
        (None, "connected"),
        ("connected", "error"),
        ("error", "connected"),
    ]
    deliver(deleted_event(USER))
    tombstone = selected(stream.read())
    assert [r["dynamodb"]["Keys"]["sk"]["S"] for r in tombstone] == ["PROFILE"]
    handle(tombstone)
    assert selected(stream.read()) == []  # the batch deletes are REMOVE records


def test_a_row_removed_concurrently_is_not_counted_and_the_removed_count_is_a_metric(
    deliver, run_stream, monkeypatch, capsys
):
    create_user(deliver, USER, 3)
    run_stream()
    deliver(deleted_event(USER))
    client = container.current().dynamodb
    real_delete = client.delete_item
    raced: list[bool] = []

    def another_cleanup_first(**kwargs: Any) -> Any:
        if not raced:  # a concurrent invocation deletes the first row between our query and our delete
            raced.append(True)
            real_delete(TableName=kwargs["TableName"], Key=kwargs["Key"])
        return real_delete(**kwargs)

    monkeypatch.setattr(client, "delete_item", another_cleanup_first)
    capsys.readouterr()
    run_stream()
    assert list(user_rows(USER)) == ["PROFILE"]
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(blob.get("ConnectionsRemoved") == [2.0] for blob in metrics)
