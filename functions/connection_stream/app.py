"""ConnectionsTable stream consumer: the Lambda adapter of `social_connections.apply_stream_change`.

Stream concerns only (the partial batch response, the invocation's log context and metrics); the logic re-checks
every record. A failed record is reported by its sequence number, and Lambda retries the batch from the first one
reported (a batch where every record failed is reported the same way). Status-change events of the records handled
without error go out in PutEvents batches; a refused event fails its record (retried).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from social_connections import container
from social_connections.apply_stream_change import apply_stream_batch
from social_connections.settings import require_event_bus
from social_connections.telemetry import Telemetry

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TypedDict

    from social_connections.apply_stream_change import StreamRecord
    from social_connections.telemetry import LambdaContextLike

    class StreamEvent(TypedDict):
        Records: Sequence[StreamRecord]

    class BatchResponse(TypedDict):
        batchItemFailures: list[dict[str, str]]


telemetry = Telemetry()
require_event_bus(container.current().settings)  # bad settings (ERROR_THRESHOLD=abc) fail the cold start


def lambda_handler(event: StreamEvent, context: LambdaContextLike) -> BatchResponse:
    telemetry.start(context)
    try:
        failed = apply_stream_batch(event["Records"], container.current(), telemetry)
    finally:
        telemetry.flush()  # the metrics of the records handled, even when the invocation itself fails
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
