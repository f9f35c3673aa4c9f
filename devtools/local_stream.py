"""A stand-in for Lambda's DynamoDB event source mapping: filter, batch, invoke, retry, bisect, send failures on.

It follows the settings of the function's `DynamoDB` event in template.yaml. Simplifications, all on the safe side:
retries happen at once (no backoff), `MaximumRetryAttempts: -1` is capped, and record age is not checked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

from moto.events.models import EventPattern

from devtools.testkit.table import stream_event
from devtools.testkit.template import StreamMapping

if TYPE_CHECKING:
    from moto.events.utils import EventMessageType

logger = logging.getLogger(__name__)

# Lambda would retry a failing batch forever (until the record expires); locally that would stall the poller.
UNBOUNDED_RETRY_CAP: Final = 10

Invoke = Callable[[dict[str, Any]], Any]
DeadLetter = Callable[[dict[str, Any]], None]


class RecordSource(Protocol):
    """What the poller reads from: `devtools.testkit.table.StreamReader` on the table's stream."""

    def read(self, limit: int = ...) -> list[dict[str, Any]]: ...


def compile_filters(patterns: Sequence[str]) -> list[EventPattern]:
    """FilterCriteria patterns, matched with moto's EventBridge-pattern engine (the rules Lambda filtering uses)."""
    return [EventPattern.load(pattern) for pattern in patterns]


def matches_any(record: dict[str, Any], filters: Sequence[EventPattern]) -> bool:
    """A record passes when there are no filters or at least one matches (filters are OR-ed)."""
    return not filters or any(pattern.matches_event(cast("EventMessageType", record)) for pattern in filters)


class StreamPoller:
    """Reads new stream records, keeps those the filters accept, and delivers them to the function in batches."""

    def __init__(
        self,
        reader: RecordSource,
        mapping: StreamMapping,
        invoke: Invoke,
        dead_letter: DeadLetter,
        *,
        stream_arn: str,
        function_arn: str,
    ) -> None:
        self._reader = reader
        self._mapping = mapping
        self._invoke = invoke
        self._dead_letter = dead_letter
        self._stream_arn = stream_arn
        self._function_arn = function_arn
        self._filters = compile_filters(mapping.filter_patterns)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.filtered_out = 0
        self.dead_lettered = 0

    @property
    def _retry_limit(self) -> int:
        attempts = self._mapping.maximum_retry_attempts
        return UNBOUNDED_RETRY_CAP if attempts < 0 else attempts

    def poll_once(self) -> int:
        """Read what the stream has now and deliver it; returns how many records were read (before filtering)."""
        with self._lock:
            records = self._reader.read(limit=self._mapping.batch_size)
            wanted = [record for record in records if matches_any(record, self._filters)]
            self.filtered_out += len(records) - len(wanted)
            size = self._mapping.batch_size
            for start in range(0, len(wanted), size):
                self._deliver(wanted[start : start + size])
            return len(records)

    def drain(self, timeout_seconds: float = 60.0) -> int:
        """Poll until the stream has nothing new, including records written by the function itself."""
        deadline = time.monotonic() + timeout_seconds
        total = 0
        while read := self.poll_once():
            total += read
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the stream still had records after {timeout_seconds} s: is the function feeding itself?"
                )
        return total

    def start(self, interval_seconds: float) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, args=(interval_seconds,), name="stream-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self, interval_seconds: float) -> None:
        while not self._stopping.wait(interval_seconds):
            try:
                self.poll_once()
            except Exception:
                # Keep polling, as the event source mapping does; the traceback tells the developer what broke.
                logger.exception("stream poll failed")

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        invocations = 0
        while records:
            failed_from = self._invoke_batch(records)
            invocations += 1
            if failed_from is None:
                self.delivered += len(records)
                return
            if failed_from == 0 and self._mapping.bisect_on_error and len(records) > 1:
                # Bisecting does not count as a retry: each half gets its own attempts.
                half = len(records) // 2
                self._deliver(records[:half])
                self._deliver(records[half:])
                return
            self.delivered += failed_from
            records = records[failed_from:]
            if invocations > self._retry_limit:
                self._send_to_dead_letter(records, invocations)
                return

    def _invoke_batch(self, records: list[dict[str, Any]]) -> int | None:
        """None when the batch succeeded, else the index of the first record to retry from."""
        try:
            response = self._invoke(stream_event(records))
        except Exception:
            logger.exception("stream function failed on a batch of %d records", len(records))
            return 0
        if not self._mapping.report_batch_item_failures or not isinstance(response, dict):
            return None
        failures = response.get("batchItemFailures") or []
        if not failures:
            return None
        sequence_numbers = [record["dynamodb"]["SequenceNumber"] for record in records]
        failed = [item.get("itemIdentifier") for item in failures if isinstance(item, dict)]
        if len(failed) != len(failures) or any(identifier not in sequence_numbers for identifier in failed):
            # Lambda treats an unknown or empty identifier as a failure of the whole batch.
            return 0
        logger.warning("stream function reported %d failed records; retrying from the first", len(failed))
        return min(sequence_numbers.index(identifier) for identifier in failed)

    def _send_to_dead_letter(self, records: list[dict[str, Any]], invocations: int) -> None:
        """Batch metadata, not the records, as the OnFailure destination receives it."""
        created = [record["dynamodb"].get("ApproximateCreationDateTime") for record in records]
        self._dead_letter(
            {
                "version": "1.0",
                "timestamp": datetime.now(tz=UTC).isoformat(timespec="milliseconds"),
                "requestContext": {
                    "functionArn": self._function_arn,
                    "condition": "RetryAttemptsExhausted",
                    "approximateInvokeCount": invocations,
                },
                "DDBStreamBatchInfo": {
                    "streamArn": self._stream_arn,
                    "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                    "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                    "approximateArrivalOfFirstRecord": _iso(created[0]),
                    "approximateArrivalOfLastRecord": _iso(created[-1]),
                    "batchSize": len(records),
                },
            }
        )
        self.dead_lettered += len(records)
        logger.error("%d stream records sent to the failure destination after %d tries", len(records), invocations)


def _iso(epoch_seconds: Any) -> str | None:
    if not isinstance(epoch_seconds, (int, float)):
        return None
    return datetime.fromtimestamp(epoch_seconds, tz=UTC).isoformat(timespec="milliseconds")
