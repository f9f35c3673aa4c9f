"""Act on the changes of the connections table: clean up after a deletion, move a connection to error and back, and
publish the status changes the records show; one batch of stream records at a time, each failure reported apart.

Decisions come from the health rules; the store's conditional writes re-check the stored row, so a stale or
replayed record changes nothing (a replayed status change may send its event again: at-least-once).
Records are the plain dicts Lambda hands over, read without Powertools' batch utility and its data classes, and
logs and metrics go through `Telemetry`: the stream function's cold start stays small (docs/performance.md, B1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from social_connections.health_rules import health_transition
from social_connections.metric_names import Metric, status_changed_metric
from social_connections.model import ConnectionKey, ConnectionStatus
from social_connections.status_events import StatusChange, status_change
from social_connections.storage.attribute_values import plain
from social_connections.storage.items import deleted_user_from_image, health_from_image

if TYPE_CHECKING:  # for the type checker only: nothing reads these at run time, and creating them costs import time
    from typing import Protocol, TypedDict

    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from social_connections.connection_store import ConnectionStore
    from social_connections.event_bus import StatusEventPublisher
    from social_connections.settings import Settings
    from social_connections.telemetry import Telemetry

    class StreamDependencies(Protocol):
        """What the batch needs of the container (unit tests give an in-memory store and publisher)."""

        @property
        def store(self) -> ConnectionStore: ...

        @property
        def publisher(self) -> StatusEventPublisher: ...

        @property
        def settings(self) -> Settings: ...

    class StreamRecordBody(TypedDict, total=False):
        """The parts of a record's `dynamodb` member that are read (images in DynamoDB's typed JSON)."""

        NewImage: Mapping[str, AttributeValueTypeDef]
        OldImage: Mapping[str, AttributeValueTypeDef]
        SequenceNumber: str

    class StreamRecord(TypedDict, total=False):
        """One record of a DynamoDB stream event, as Lambda hands it over."""

        eventName: str
        dynamodb: StreamRecordBody


Image = Mapping[str, object]
HANDLED_EVENT_NAMES = frozenset({"INSERT", "MODIFY"})  # a REMOVE (the cleanup's own deletes) asks for nothing


class StreamAction(StrEnum):
    CLEANUP = "cleanup"
    ERROR = "error"
    CONNECTED = "connected"
    SKIPPED = "skipped"


class StreamChange(NamedTuple):
    action: StreamAction
    user_id: str | None = None
    key: ConnectionKey | None = None
    removed: int = 0
    # The status change this record shows (old image -> new image), to be published as an event.
    status_change: StatusChange | None = None


SKIPPED = StreamChange(StreamAction.SKIPPED)
TRANSITION_METRICS = {
    StreamAction.ERROR: Metric.CONNECTIONS_ERRORED,
    StreamAction.CONNECTED: Metric.CONNECTIONS_RECOVERED,
}


def apply_stream_change(
    new_image: Image | None, store: ConnectionStore, threshold: int, *, old_image: Image | None = None
) -> StreamChange:
    """What one INSERT/MODIFY record's images (plain values) ask for, done."""
    if not new_image:
        return SKIPPED
    deleted_user = deleted_user_from_image(new_image)
    if deleted_user is not None:
        return StreamChange(StreamAction.CLEANUP, deleted_user, removed=store.delete_connections(deleted_user))
    health = health_from_image(new_image)
    if health is None:
        return SKIPPED
    change = status_change(health_from_image(old_image) if old_image else None, health)
    target = health_transition(health, threshold)
    if target is ConnectionStatus.ERROR and store.mark_error(health.user_id, health.key, threshold):
        return StreamChange(StreamAction.ERROR, health.user_id, health.key, status_change=change)
    if target is ConnectionStatus.CONNECTED and store.mark_recovered(health.user_id, health.key):
        return StreamChange(StreamAction.CONNECTED, health.user_id, health.key, status_change=change)
    return StreamChange(StreamAction.SKIPPED, health.user_id, health.key, status_change=change)


def publish_status_changes(
    pending: Sequence[tuple[str, StatusChange]], publisher: StatusEventPublisher
) -> dict[str, str]:
    """Publish the events of records handled without error; the records whose event was refused, each with why."""
    if not pending:
        return {}
    refused = publisher.publish([change for _, change in pending])
    return {record_id: refused[index] for index, (record_id, _) in enumerate(pending) if index in refused}


def apply_stream_batch(
    records: Iterable[StreamRecord], dependencies: StreamDependencies, telemetry: Telemetry
) -> list[str]:
    """Handle every record of one batch, then publish their status changes; the sequence numbers to report as
    failed (a record that raised, or whose event the bus refused). Lambda retries from the first of them."""
    failed: list[str] = []
    pending: list[tuple[str, StatusChange]] = []  # (sequence number, event) of the records handled
    for record in records:
        body = record.get("dynamodb") or {}
        sequence = body.get("SequenceNumber", "")
        try:
            change = _apply_record(record, dependencies)
        except Exception as error:  # any failure of one record is reported, and the others go on
            # The type only: a message may quote the record's values (e-mail, names).
            telemetry.warning("stream record failed; it will be retried", error_type=type(error).__name__)
            failed.append(sequence)
            continue
        _report(change, telemetry)
        if change.status_change is not None and sequence:
            pending.append((sequence, change.status_change))
    if pending:
        failed += _publish(pending, dependencies.publisher, telemetry)
    if failed:
        telemetry.count(Metric.STREAM_RECORDS_FAILED, len(failed))
    return failed


def _apply_record(record: StreamRecord, dependencies: StreamDependencies) -> StreamChange:
    body = record.get("dynamodb")
    if record.get("eventName") not in HANDLED_EVENT_NAMES or not body:
        return SKIPPED
    new_image, old_image = body.get("NewImage"), body.get("OldImage")
    return apply_stream_change(
        plain(new_image) if new_image else None,
        dependencies.store,
        dependencies.settings.error_threshold,
        old_image=plain(old_image) if old_image else None,
    )


def _report(change: StreamChange, telemetry: Telemetry) -> None:
    if change.action is StreamAction.CLEANUP:
        telemetry.info("deleted user's connections removed", user_id=change.user_id, removed=change.removed)
        telemetry.count(Metric.CONNECTIONS_REMOVED, change.removed)
    elif change.action in TRANSITION_METRICS and change.key is not None:
        fields = {"user_id": change.user_id, "platform": change.key.platform.value, "to": change.action.value}
        telemetry.info("connection status set by the stream function", **fields)
        telemetry.count(TRANSITION_METRICS[change.action])


def _publish(
    pending: list[tuple[str, StatusChange]], publisher: StatusEventPublisher, telemetry: Telemetry
) -> list[str]:
    """Send the pending events; the sequence numbers of the records whose event the bus refused."""
    refused = publish_status_changes(pending, publisher)
    for sequence, change in pending:
        if sequence not in refused:
            telemetry.count(status_changed_metric(change.to_status))
    if refused:
        reasons = sorted(set(refused.values()))  # PutEvents error codes, or the failed call's error type
        message = "status-change events refused; their records will be retried"
        telemetry.warning(message, count=len(refused), reasons=reasons)
        telemetry.count(Metric.STATUS_EVENTS_FAILED, len(refused))
    telemetry.count(Metric.STATUS_EVENTS_PUBLISHED, len(pending) - len(refused))
    return list(refused)
