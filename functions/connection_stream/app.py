"""ConnectionsTable stream consumer: cleanup after a user's deletion, and connected <-> error transitions.

Stream concerns only (batching, partial failures, metrics); the decisions live in `social_connections`.
Every record is re-checked here even though the event source's filter criteria already select them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord, DynamoDBRecordEventName
from social_connections import environment
from social_connections.connection_rules import ConnectionHealth, ConnectionStatus, health_transition
from social_connections.repository import deleted_user_from_image, health_from_image

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
# A batch where every record failed is reported like any other partial failure: Lambda retries from the first one.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


def handle_record(record: DynamoDBRecord) -> str:
    """What was done for one stream record: 'cleanup', 'error', 'connected' or 'skipped'."""
    if record.event_name not in {DynamoDBRecordEventName.INSERT, DynamoDBRecordEventName.MODIFY}:
        return "skipped"
    image = record.dynamodb.new_image if record.dynamodb else None
    if not image:
        return "skipped"
    deleted_user = deleted_user_from_image(image)
    if deleted_user is not None:
        return _remove_connections(deleted_user)
    health = health_from_image(image)
    if health is None:
        return "skipped"
    return _apply_transition(health)


def _remove_connections(user_id: str) -> str:
    removed = environment.repository().delete_connections(user_id)
    logger.info("deleted user's connections removed", extra={"user_id": user_id, "removed": removed})
    metrics.add_metric(name="ConnectionsRemoved", unit=MetricUnit.Count, value=removed)
    return "cleanup"


def _apply_transition(health: ConnectionHealth) -> str:
    threshold = environment.error_threshold()
    target = health_transition(health, threshold)
    repository = environment.repository()
    # The conditional updates re-check the stored row, so a stale or replayed record changes nothing.
    if target is ConnectionStatus.ERROR and repository.mark_error(health.user_id, health.key, threshold):
        metric = "ConnectionsErrored"
    elif target is ConnectionStatus.CONNECTED and repository.mark_recovered(health.user_id, health.key):
        metric = "ConnectionsRecovered"
    else:
        return "skipped"
    logger.info(
        "connection status changed", extra={"user_id": health.user_id, "platform": health.key.platform, "to": target}
    )
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    return str(target)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, object], context: LambdaContext) -> dict[str, object]:
    response = process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
    failures = response.get("batchItemFailures", [])
    if failures:
        metrics.add_metric(name="StreamRecordsFailed", unit=MetricUnit.Count, value=len(failures))
    return dict(response)
