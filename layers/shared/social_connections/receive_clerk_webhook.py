"""One Clerk webhook delivery: check its size, verify the Svix signature on the raw body, parse the event, apply it.

The HTTP contract of `POST /webhooks/clerk` (docs/architecture.md) with its logs and metrics; the apply path itself is
`apply_clerk_event`. Failures of our side (DynamoDB, the secret) propagate: the handler answers them with a 5xx.
"""

from __future__ import annotations

from typing import Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from social_connections.apply_clerk_event import Outcome, SyncResult, apply_clerk_event
from social_connections.clerk_events import HANDLED_USER_EVENTS, InvalidEventError, parse_clerk_event
from social_connections.container import Container
from social_connections.http_api import HttpRequest, json_response
from social_connections.signatures import InvalidSignatureError, delivery_headers

MAX_BODY_BYTES: Final = 256 * 1024

logger = Logger(child=True)
metrics = Metrics()


def _count(name: str, value: int = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def receive_clerk_webhook(request: HttpRequest, dependencies: Container) -> dict[str, object]:
    """The answer to one delivery: 413 too large, 401 unsigned, 400 signed garbage, 200 applied or ignored."""
    body = request.body
    if body is not None and len(body) > MAX_BODY_BYTES:
        logger.warning("payload too large; rejected unread", extra={"body_bytes": len(body), "limit": MAX_BODY_BYTES})
        _count("PayloadTooLarge")
        return json_response(413, error="payload too large")
    try:
        if body is None:
            raise InvalidSignatureError("body is not the base64 it claims to be")
        headers = delivery_headers(request.headers)
        dependencies.signature_verifier().verify(body, headers)
    except InvalidSignatureError as rejection:
        logger.warning("webhook signature rejected", extra={"reason": str(rejection)})
        _count("SignatureRejected")
        return json_response(401, error="invalid signature")
    logger.append_keys(svix_id=headers.message_id)
    try:
        event = parse_clerk_event(body)
    except InvalidEventError as invalid:
        logger.warning("signed payload is not a valid Clerk event", extra={"errors": invalid.summary})
        _count("EventsRejected")
        return json_response(400, error="not a valid Clerk event")
    _count("EventsReceived")
    # Per-type counts need their own dimension, so they go in a separate EMF blob.
    with single_metric(name="EventsReceivedByType", unit=MetricUnit.Count, value=1) as by_type:
        by_type.add_dimension(name="EventType", value=event.type if event.type in HANDLED_USER_EVENTS else "other")
    result = apply_clerk_event(dependencies.store, event, dependencies.providers)
    _report_unmapped(result.unmapped_providers)
    if result.outcome is Outcome.IGNORED:
        logger.info("event type not handled; acknowledged", extra={"event_type": event.type})
        _count("EventsIgnoredUnhandled")
        return json_response(200, outcome="ignored", type=event.type)
    _record(event.type, result)
    fields = {"userId": result.user_id, "upserted": result.upserted, "disconnected": result.disconnected}
    return json_response(200, outcome=result.outcome.value, type=event.type, **fields)


def _record(event_type: str, result: SyncResult) -> None:
    counts = {"upserted": result.upserted, "disconnected": result.disconnected}
    extra = {"event_type": event_type, "user_id": result.user_id, "outcome": result.outcome.value, **counts}
    logger.info("event processed", extra={**extra, "malformed_accounts": result.malformed_accounts})
    _count("EventsApplied" if result.changed else "EventsIgnored")
    if not result.changed:
        _count(f"EventsIgnored_{result.outcome.value}")
    for name, value in (
        ("ConnectionsUpserted", result.upserted),
        ("ConnectionsDisconnected", result.disconnected),
        ("MalformedAccounts", result.malformed_accounts),
    ):
        if value:
            _count(name, value)


def _report_unmapped(providers: tuple[str, ...]) -> None:
    """Once per event: accounts not stored because no platform is mapped to their provider (names only, no PII)."""
    if not providers:
        return
    names = sorted(set(providers))
    hint = "map custom providers with PROVIDER_ALIASES (docs/oauth-setup.md)"
    logger.info(
        "accounts of unmapped providers not stored",
        extra={"providers": names, "accounts": len(providers), "hint": hint},
    )
    _count("UnmappedProviderAccounts", len(providers))
