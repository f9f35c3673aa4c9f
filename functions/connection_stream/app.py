"""ConnectionsTable stream consumer: the Lambda adapter of `social_connections.apply_stream_change`.

Stream concerns only (batching, partial failures, logs, metrics). Every record is re-checked by the logic even
though the event source's filter criteria already select them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord, DynamoDBRecordEventName
from social_connections import container
from social_connections.apply_stream_change import StreamAction, apply_stream_change

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
container.current()  # bad settings (ERROR_THRESHOLD=abc) fail the cold start, not every record
# A batch where every record failed is reported like any other partial failure: Lambda retries from the first one.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)
TRANSITION_METRICS = {StreamAction.ERROR: "ConnectionsErrored", StreamAction.CONNECTED: "ConnectionsRecovered"}


def handle_record(record: DynamoDBRecord) -> str:
    """What was done for one stream record: 'cleanup', 'error', 'connected' or 'skipped'."""
    if record.event_name not in {DynamoDBRecordEventName.INSERT, DynamoDBRecordEventName.MODIFY}:
        return StreamAction.SKIPPED.value
    dependencies = container.current()
    image = record.dynamodb.new_image if record.dynamodb else None
    change = apply_stream_change(image, dependencies.store, dependencies.settings.error_threshold)
    if change.action is StreamAction.CLEANUP:
        logger.info("deleted user's connections removed", extra={"user_id": change.user_id, "removed": change.removed})
        metrics.add_metric(name="ConnectionsRemoved", unit=MetricUnit.Count, value=change.removed)
    elif change.action in TRANSITION_METRICS and change.key is not None:
        extra = {"user_id": change.user_id, "platform": change.key.platform, "to": change.action.value}
        logger.info("connection status changed", extra=extra)
        metrics.add_metric(name=TRANSITION_METRICS[change.action], unit=MetricUnit.Count, value=1)
    return change.action.value


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, object], context: LambdaContext) -> dict[str, object]:
    response = process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
    failures = response.get("batchItemFailures", [])
    if failures:
        metrics.add_metric(name="StreamRecordsFailed", unit=MetricUnit.Count, value=len(failures))
    return dict(response)
