"""POST /webhooks/clerk: verify the Svix signature on the raw body, parse the Clerk event, apply it.

HTTP concerns only; the rules live in the `social_connections` layer. Status codes follow docs/architecture.md:
401 unsigned, 400 signed garbage, 413 too large, 200 applied or deliberately ignored, 5xx only when our side failed.
The HTTP API (payload 2.0) event is read directly rather than through Powertools' event handler: importing that
package loads every resolver it has, a sixth of `import boto3` of cold start for our one route (docs/performance.md).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import TypeAdapter, ValidationError
from social_connections import environment
from social_connections.clerk_events import (
    HANDLED_USER_EVENTS,
    ClerkEvent,
    UnhandledEvent,
    UserDeletedEvent,
    UserSnapshotEvent,
)
from social_connections.signatures import InvalidSignatureError, SecretConfigurationError, delivery_headers
from social_connections.sync import ConcurrencyExhaustedError, SyncResult, apply_deletion, apply_snapshot

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

MAX_BODY_BYTES: Final = 256 * 1024
ROUTE: Final = ("POST", "/webhooks/clerk")

logger = Logger()
metrics = Metrics()
_events: TypeAdapter[UserSnapshotEvent | UserDeletedEvent | UnhandledEvent] = TypeAdapter(ClerkEvent)


def _json(status: int, **fields: object) -> dict[str, object]:
    """An HTTP API (payload 2.0) response with a JSON body."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(fields),
        "isBase64Encoded": False,
    }


def _route(request: Mapping[str, Any]) -> tuple[object, object]:
    request_context = request.get("requestContext")
    http = request_context.get("http") if isinstance(request_context, Mapping) else None
    method = http.get("method") if isinstance(http, Mapping) else None
    return method, request.get("rawPath")


def _raw_body(request: Mapping[str, Any]) -> bytes | None:
    """The exact bytes Svix signed; None when the base64 flag lies about the body."""
    body = request.get("body") or ""
    if not isinstance(body, str):
        return None
    try:
        return base64.b64decode(body, validate=True) if request.get("isBase64Encoded") else body.encode("utf-8")
    except (binascii.Error, ValueError):  # also UnicodeEncodeError from lone surrogates
        return None


def _headers(request: Mapping[str, Any]) -> dict[str, str]:
    headers = request.get("headers")
    return {str(name): str(value) for name, value in headers.items()} if isinstance(headers, Mapping) else {}


def receive_clerk_webhook(request: Mapping[str, Any]) -> dict[str, object]:
    body = _raw_body(request)
    if body is not None and len(body) > MAX_BODY_BYTES:
        metrics.add_metric(name="PayloadTooLarge", unit=MetricUnit.Count, value=1)
        return _json(413, error="payload too large")
    try:
        if body is None:
            raise InvalidSignatureError("body is not the base64 it claims to be")
        headers = delivery_headers(_headers(request))
        environment.signature_verifier().verify(body, headers)
    except InvalidSignatureError as rejection:
        logger.warning("webhook signature rejected", extra={"reason": str(rejection)})
        metrics.add_metric(name="SignatureRejected", unit=MetricUnit.Count, value=1)
        return _json(401, error="invalid signature")
    logger.append_keys(svix_id=headers.message_id)

    try:
        event = _events.validate_json(body)
    except ValidationError as invalid:
        reasons = [f"{'.'.join(str(p) for p in e['loc'])}: {e['type']}" for e in invalid.errors(include_input=False)]
        logger.warning("signed payload is not a valid Clerk event", extra={"errors": reasons[:10]})
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
        return _json(400, error="not a valid Clerk event")

    metrics.add_metric(name="EventsReceived", unit=MetricUnit.Count, value=1)
    # Per-type counts need their own dimension, so they go in a separate EMF blob.
    with single_metric(name="EventsReceivedByType", unit=MetricUnit.Count, value=1) as by_type:
        by_type.add_dimension(name="EventType", value=event.type if event.type in HANDLED_USER_EVENTS else "other")
    if isinstance(event, UnhandledEvent):
        logger.info("event type not handled; acknowledged", extra={"event_type": event.type})
        metrics.add_metric(name="EventsIgnoredUnhandled", unit=MetricUnit.Count, value=1)
        return _json(200, outcome="ignored", type=event.type)

    repository = environment.repository()
    if isinstance(event, UserDeletedEvent):
        result = apply_deletion(repository, event.data.id)
    else:
        result = apply_snapshot(repository, event.data)
    _record(event.type, result)
    return _json(
        200,
        outcome=result.outcome.value,
        type=event.type,
        userId=result.user_id,
        upserted=result.upserted,
        disconnected=result.disconnected,
    )


def _record(event_type: str, result: SyncResult) -> None:
    logger.info(
        "event processed",
        extra={
            "event_type": event_type,
            "user_id": result.user_id,
            "outcome": result.outcome.value,
            "upserted": result.upserted,
            "disconnected": result.disconnected,
            "malformed_accounts": result.malformed_accounts,
        },
    )
    metrics.add_metric(name="EventsApplied" if result.changed else "EventsIgnored", unit=MetricUnit.Count, value=1)
    if not result.changed:
        metrics.add_metric(name=f"EventsIgnored_{result.outcome.value}", unit=MetricUnit.Count, value=1)
    if result.upserted:
        metrics.add_metric(name="ConnectionsUpserted", unit=MetricUnit.Count, value=result.upserted)
    if result.disconnected:
        metrics.add_metric(name="ConnectionsDisconnected", unit=MetricUnit.Count, value=result.disconnected)
    if result.malformed_accounts:
        metrics.add_metric(name="MalformedAccounts", unit=MetricUnit.Count, value=result.malformed_accounts)


def table_unavailable(error: Exception) -> dict[str, object]:
    # 503 makes Svix redeliver; the retry converges because nothing is marked applied before all rows are written.
    logger.error("could not record the event; asking Svix to retry", extra={"error_type": type(error).__name__})
    metrics.add_metric(name="EventsFailed", unit=MetricUnit.Count, value=1)
    return _json(503, error="temporarily unable to record the event")


def secret_misconfigured(error: SecretConfigurationError) -> dict[str, object]:
    logger.error("webhook signing secret is misconfigured", extra={"reason": str(error)})
    metrics.add_metric(name="EventsFailed", unit=MetricUnit.Count, value=1)
    return _json(500, error="webhook receiver is misconfigured")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, object], context: LambdaContext) -> dict[str, object]:
    if _route(event) != ROUTE:
        return _json(404, error="not found")
    try:
        return receive_clerk_webhook(event)
    except (ClientError, BotoCoreError, ConcurrencyExhaustedError) as error:
        return table_unavailable(error)
    except SecretConfigurationError as error:
        return secret_misconfigured(error)
