"""One Clerk webhook delivery: check its size, verify the Svix signature on the raw body, parse the event, apply it.

The HTTP contract of `POST /webhooks/clerk` (docs/architecture.md) with its logs and metrics; the apply path itself is
`apply_clerk_event`. Failures of our side (DynamoDB, the secret) propagate: the handler answers them with a 5xx.
"""

from __future__ import annotations

from typing import Final

from social_connections.apply_clerk_event import Outcome, SyncResult, apply_clerk_event
from social_connections.clerk_events import HANDLED_USER_EVENTS, InvalidEventError, parse_clerk_event
from social_connections.container import Container
from social_connections.http_api import HttpRequest, json_response, json_text_response
from social_connections.json_text import quote
from social_connections.signatures import InvalidSignatureError, delivery_headers
from social_connections.telemetry import Telemetry

MAX_BODY_BYTES: Final = 256 * 1024


def receive_clerk_webhook(request: HttpRequest, dependencies: Container, telemetry: Telemetry) -> dict[str, object]:
    """The answer to one delivery: 413 too large, 401 unsigned, 400 signed garbage, 200 applied or ignored."""
    body = request.body
    if body is not None and len(body) > MAX_BODY_BYTES:
        telemetry.warning("payload too large; rejected unread", body_bytes=len(body), limit=MAX_BODY_BYTES)
        telemetry.count("PayloadTooLarge")
        return json_response(413, error="payload too large")
    try:
        if body is None:
            raise InvalidSignatureError("body is not the base64 it claims to be")
        headers = delivery_headers(request.headers)
        dependencies.signature_verifier().verify(body, headers)
    except InvalidSignatureError as rejection:
        telemetry.warning("webhook signature rejected", reason=str(rejection))
        telemetry.count("SignatureRejected")
        return json_response(401, error="invalid signature")
    telemetry.append_keys(svix_id=headers.message_id)
    try:
        event = parse_clerk_event(body)
    except InvalidEventError as invalid:
        telemetry.warning("signed payload is not a valid Clerk event", errors=invalid.summary)
        telemetry.count("EventsRejected")
        return json_response(400, error="not a valid Clerk event")
    telemetry.count("EventsReceived")
    event_type = event.type if event.type in HANDLED_USER_EVENTS else "other"
    telemetry.count_by("EventsReceivedByType", "EventType", event_type)
    result = apply_clerk_event(dependencies.store, event, dependencies.providers)
    if result.unmapped_providers:
        _report_unmapped(result.unmapped_providers, telemetry)
    if result.outcome is Outcome.IGNORED:
        telemetry.info("event type not handled; acknowledged", event_type=event.type)
        telemetry.count("EventsIgnoredUnhandled")
        return json_response(200, outcome="ignored", type=event.type)
    outcome = result.outcome.value
    _record(event.type, outcome, result, telemetry)
    # Every applied delivery answers this: rendered directly (the outcome is one of ours, the counts integers).
    answer = (
        f'{{"outcome":"{outcome}","type":{quote(event.type)},"userId":{quote(result.user_id)},'
        f'"upserted":{result.upserted},"disconnected":{result.disconnected}}}'
    )
    return json_text_response(200, answer)


def _record(event_type: str, outcome: str, result: SyncResult, telemetry: Telemetry) -> None:
    """The event's one log line and its counts."""
    telemetry.info(
        "event processed",
        event_type=event_type,
        user_id=result.user_id,
        outcome=outcome,
        upserted=result.upserted,
        disconnected=result.disconnected,
        malformed_accounts=result.malformed_accounts,
    )
    if result.changed:
        telemetry.count("EventsApplied")
    else:
        telemetry.count("EventsIgnored")
        telemetry.count(f"EventsIgnored_{outcome}")
    if result.upserted:
        telemetry.count("ConnectionsUpserted", result.upserted)
    if result.disconnected:
        telemetry.count("ConnectionsDisconnected", result.disconnected)
    if result.malformed_accounts:
        telemetry.count("MalformedAccounts", result.malformed_accounts)


def _report_unmapped(providers: tuple[str, ...], telemetry: Telemetry) -> None:
    """Once per event: accounts not stored because no platform is mapped to their provider (names only, no PII)."""
    names = sorted(set(providers))
    hint = "map custom providers with PROVIDER_ALIASES (docs/oauth-setup.md)"
    telemetry.info("accounts of unmapped providers not stored", providers=names, accounts=len(providers), hint=hint)
    telemetry.count("UnmappedProviderAccounts", len(providers))
