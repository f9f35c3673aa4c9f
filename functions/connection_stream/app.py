"""ConnectionsTable stream consumer: the Lambda adapter of `social_connections.apply_stream_change`.

Stream concerns only (batching, partial failures, logs, metrics); the logic re-checks every record. Status-change
events of the records handled without error go out in PutEvents batches; a refused event fails its record (retried).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord, DynamoDBRecordEventName
from social_connections import container
from social_connections.apply_stream_change import StreamAction, apply_stream_change, publish_status_changes
from social_connections.metric_names import Metric, status_changed_metric
from social_connections.settings import require_event_bus
from social_connections.status_events import StatusChange

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
require_event_bus(container.current().settings)  # bad settings (ERROR_THRESHOLD=abc) fail the cold start
# A batch where every record failed is reported like any other partial failure: Lambda retries from the first one.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
TRANSITION_METRICS = {
    StreamAction.ERROR: Metric.CONNECTIONS_ERRORED,
    StreamAction.CONNECTED: Metric.CONNECTIONS_RECOVERED,
}
pending: list[tuple[str, StatusChange]] = []  # (sequence number, event) of this invocation's records


def handle_record(record: DynamoDBRecord) -> str:
    """What was done for one stream record: 'cleanup', 'error', 'connected' or 'skipped'."""
    if record.event_name not in {DynamoDBRecordEventName.INSERT, DynamoDBRecordEventName.MODIFY} or not record.dynamodb:
        return StreamAction.SKIPPED.value
    dependencies = container.current()
    images = record.dynamodb
    change = apply_stream_change(
        images.new_image, dependencies.store, dependencies.settings.error_threshold, old_image=images.old_image
    )
    if change.action is StreamAction.CLEANUP:
        logger.info("deleted user's connections removed", extra={"user_id": change.user_id, "removed": change.removed})
        metrics.add_metric(name=Metric.CONNECTIONS_REMOVED, unit=MetricUnit.Count, value=change.removed)
    elif change.action in TRANSITION_METRICS and change.key is not None:
        extra = {"user_id": change.user_id, "platform": change.key.platform, "to": change.action.value}
        logger.info("connection status set by the stream function", extra=extra)
        metrics.add_metric(name=TRANSITION_METRICS[change.action], unit=MetricUnit.Count, value=1)
    if change.status_change is not None and images.sequence_number:
        pending.append((images.sequence_number, change.status_change))
    return change.action.value


def _publish() -> list[str]:
    """Send the pending events; the sequence numbers of the records whose event the bus refused."""
    refused = publish_status_changes(pending, container.current().publisher)
    for sequence, change in pending:
        if sequence not in refused:
            metrics.add_metric(name=status_changed_metric(change.to_status), unit=MetricUnit.Count, value=1)
    if refused:
        logger.warning("status-change events refused; their records will be retried", extra={"count": len(refused)})
        metrics.add_metric(name=Metric.STATUS_EVENTS_FAILED, unit=MetricUnit.Count, value=len(refused))
    metrics.add_metric(name=Metric.STATUS_EVENTS_PUBLISHED, unit=MetricUnit.Count, value=len(pending) - len(refused))
    return refused


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, object], context: LambdaContext) -> dict[str, object]:
    pending.clear()
    response = process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
    failures = [*response.get("batchItemFailures", [])]
    failures += [{"itemIdentifier": sequence} for sequence in (_publish() if pending else [])]
    if failures:
        metrics.add_metric(name=Metric.STREAM_RECORDS_FAILED, unit=MetricUnit.Count, value=len(failures))
    return {**response, "batchItemFailures": failures}
