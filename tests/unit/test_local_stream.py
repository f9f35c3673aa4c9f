"""The local event source mapping: the template's filter criteria, batching, partial failures, bisect, failure queue."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from devtools.local_stream import StreamPoller, compile_filters, matches_any
from devtools.testkit.template import StreamMapping, read_template

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x"


def template_mapping() -> StreamMapping:
    (mapping,) = read_template().functions["ConnectionStreamFunction"].streams
    return mapping


def record(sequence: int, event_name: str = "MODIFY", sk: str = "PROFILE", **new_image: Any) -> dict[str, Any]:
    dynamodb: dict[str, Any] = {"Keys": {"pk": {"S": "USER#u"}, "sk": {"S": sk}}, "SequenceNumber": str(sequence)}
    if new_image:
        dynamodb["NewImage"] = {"pk": {"S": "USER#u"}, "sk": {"S": sk}, **new_image}
    return {"eventID": str(sequence), "eventName": event_name, "eventSourceARN": STREAM_ARN, "dynamodb": dynamodb}


CONNECTION = "CONNECTION#twitter#eac_1"


@pytest.mark.parametrize(
    ("stream_record", "selected"),
    [
        pytest.param(record(1, "MODIFY", profileStatus={"S": "deleted"}), True, id="profile-tombstoned"),
        pytest.param(record(1, "INSERT", profileStatus={"S": "deleted"}), True, id="deleted-user-first-seen"),
        pytest.param(record(1, "MODIFY", profileStatus={"S": "active"}), False, id="profile-active"),
        pytest.param(record(1, "REMOVE"), False, id="remove"),
        # Every write of a connection row: patterns cannot tell a status change from the images, the function can.
        pytest.param(
            record(1, sk=CONNECTION, connectionStatus={"S": "connected"}, errorCount={"N": "2"}), True, id="failing"
        ),
        pytest.param(
            record(1, sk=CONNECTION, connectionStatus={"S": "connected"}, errorCount={"N": "0"}), True, id="healthy"
        ),
        pytest.param(record(1, "INSERT", sk=CONNECTION, connectionStatus={"S": "expired"}), True, id="new-row-expired"),
        pytest.param(
            record(1, sk=CONNECTION, connectionStatus={"S": "disconnected"}, errorCount={"N": "1"}), True, id="gone"
        ),
        pytest.param(record(1, "REMOVE", sk=CONNECTION), False, id="row-deleted"),
        pytest.param(record(1, sk="SYNC#reconcile", connectionStatus={"S": "error"}), False, id="other-item-type"),
    ],
)
def test_template_filter_criteria(stream_record, selected):
    assert matches_any(stream_record, compile_filters(template_mapping().filter_patterns)) is selected


def test_no_filters_pass_everything():
    assert matches_any(record(1, "REMOVE"), [])


class FakeStream:
    """Hands out the given records once, like a stream read from TRIM_HORIZON."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.pending = list(records)

    def read(self, limit: int = 1000) -> list[dict[str, Any]]:
        taken, self.pending = self.pending[:limit], self.pending[limit:]
        return taken


class Function:
    """A stream function whose answer per batch is scripted; remembers the sequence numbers of every batch."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.batches: list[list[str]] = []

    def __call__(self, event: dict[str, Any]) -> Any:
        sequences = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        self.batches.append(sequences)
        return self.answer(sequences)


def poller(records, function, **settings) -> tuple[StreamPoller, list[dict[str, Any]]]:
    dead: list[dict[str, Any]] = []
    mapping = replace(StreamMapping(stream=None, report_batch_item_failures=True, maximum_retry_attempts=2), **settings)
    instance = StreamPoller(
        FakeStream(records), mapping, function, dead.append, stream_arn=STREAM_ARN, function_arn="arn:fn"
    )
    return instance, dead


def tombstones(count: int) -> list[dict[str, Any]]:
    return [record(n, profileStatus={"S": "deleted"}) for n in range(1, count + 1)]


def test_records_are_delivered_in_batches_of_the_configured_size():
    function = Function(lambda _: {"batchItemFailures": []})
    stream_poller, dead = poller(tombstones(5), function, batch_size=2)
    assert stream_poller.drain() == 5
    assert function.batches == [["1", "2"], ["3", "4"], ["5"]]
    assert stream_poller.delivered == 5
    assert dead == []


def test_filtered_records_never_reach_the_function():
    function = Function(lambda _: {"batchItemFailures": []})
    records = [record(1, profileStatus={"S": "active"}), *tombstones(1)]
    stream_poller, _ = poller(records, function, filter_patterns=template_mapping().filter_patterns)
    stream_poller.drain()
    assert function.batches == [["1"]]
    assert stream_poller.filtered_out == 1


def test_partial_failure_retries_from_the_first_failed_record_then_goes_to_the_failure_queue():
    function = Function(lambda sequences: {"batchItemFailures": [{"itemIdentifier": "3"}] if "3" in sequences else []})
    stream_poller, dead = poller(tombstones(4), function, maximum_retry_attempts=2)
    stream_poller.drain()
    assert function.batches == [["1", "2", "3", "4"], ["3", "4"], ["3", "4"]]
    (message,) = dead
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 3
    batch = message["DDBStreamBatchInfo"]
    assert (batch["startSequenceNumber"], batch["endSequenceNumber"], batch["batchSize"]) == ("3", "4", 2)
    assert batch["streamArn"] == STREAM_ARN
    assert stream_poller.delivered == 2
    assert stream_poller.dead_lettered == 2


def test_a_record_that_recovers_on_retry_is_not_dead_lettered():
    answers = iter([{"batchItemFailures": [{"itemIdentifier": "2"}]}, {"batchItemFailures": []}])
    function = Function(lambda _: next(answers))
    stream_poller, dead = poller(tombstones(2), function)
    stream_poller.drain()
    assert function.batches == [["1", "2"], ["2"]]
    assert dead == []
    assert stream_poller.delivered == 2


@pytest.mark.parametrize("identifier", ["99", "", None])
def test_an_unknown_item_identifier_fails_the_whole_batch(identifier):
    function = Function(lambda _: {"batchItemFailures": [{"itemIdentifier": identifier}]})
    stream_poller, dead = poller(tombstones(2), function, maximum_retry_attempts=1)
    stream_poller.drain()
    assert function.batches == [["1", "2"], ["1", "2"]]
    assert dead[0]["DDBStreamBatchInfo"]["batchSize"] == 2


def test_a_raising_function_has_its_batch_bisected_down_to_the_poison_record():
    def answer(sequences: list[str]) -> dict[str, Any]:
        if "3" in sequences:
            raise RuntimeError("poison record")
        return {"batchItemFailures": []}

    stream_poller, dead = poller(tombstones(4), Function(answer), bisect_on_error=True, maximum_retry_attempts=0)
    stream_poller.drain()
    assert [m["DDBStreamBatchInfo"]["startSequenceNumber"] for m in dead] == ["3"]
    assert stream_poller.delivered == 3


def test_without_reported_failures_support_the_response_is_not_read():
    function = Function(lambda _: {"batchItemFailures": [{"itemIdentifier": "1"}]})
    stream_poller, dead = poller(tombstones(1), function, report_batch_item_failures=False)
    stream_poller.drain()
    assert function.batches == [["1"]]
    assert dead == []


def test_drain_refuses_a_stream_that_never_empties():
    class Endless:
        def read(self, limit: int = 1000) -> list[dict[str, Any]]:
            return tombstones(1)

    function = Function(lambda _: {"batchItemFailures": []})
    stream_poller = StreamPoller(
        Endless(), StreamMapping(stream=None), function, print, stream_arn=STREAM_ARN, function_arn="arn:fn"
    )
    with pytest.raises(TimeoutError, match="feeding itself"):
        stream_poller.drain(timeout_seconds=0.01)
