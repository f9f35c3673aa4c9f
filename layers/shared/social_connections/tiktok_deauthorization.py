"""TikTok's webhook: verify the TikTok-Signature, and on `authorization.removed` move the named account's
connections to `expired` with the reason recorded. Other event types are acknowledged and ignored.

`POST /platforms/tiktok/webhook`. TikTok retries for 72 h and may repeat or reorder events: the write is conditional
on the row's state and on the account not having been verified again since, so every order converges.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from social_connections.clock import now_iso
from social_connections.http_api import HttpRequest, json_response
from social_connections.platform_signatures import (
    CallbackPayloadError,
    CallbackSignatureError,
    parse_tiktok_event,
    secret_list,
    verify_tiktok_signature,
)
from social_connections.platform_store import PlatformStore
from social_connections.providers import Platform

AUTHORIZATION_REMOVED: Final = "authorization.removed"
TIKTOK_ROUTE: Final = "POST /platforms/tiktok/webhook"
MAX_BODY_BYTES: Final = 64 * 1024
# TikTok's documented reason codes of authorization.removed.
REASONS: Final = {
    0: "unknown",
    1: "user disconnected the app in TikTok",
    2: "user's account deleted",
    3: "user's age changed",
    4: "user's account banned",
    5: "developer revoked the authorization",
}

logger = Logger(child=True)
metrics = Metrics()


def receive_tiktok_webhook(
    request: HttpRequest, store: PlatformStore, client_secret: Callable[[], str], clock: Callable[[], float] = time.time
) -> dict[str, object]:
    """413 too large, 401 unsigned, stale or wrongly signed, 400 signed garbage, 200 applied or ignored."""
    body = request.body
    if body is not None and len(body) > MAX_BODY_BYTES:
        return json_response(413, error="payload too large")
    header = next((value for name, value in request.headers.items() if name.lower() == "tiktok-signature"), None)
    try:
        if body is None or header is None:
            raise CallbackSignatureError("no TikTok-Signature header or no readable body")
        verify_tiktok_signature(body, header, secret_list(client_secret()), clock())
        event = parse_tiktok_event(body)
    except CallbackSignatureError as rejection:
        logger.warning("tiktok webhook signature rejected", extra={"reason": str(rejection)})
        metrics.add_metric(name="PlatformSignatureRejected", unit=MetricUnit.Count, value=1)
        return json_response(401, error="invalid signature")
    except CallbackPayloadError as invalid:
        logger.warning("signed tiktok delivery is not a valid event", extra={"reason": str(invalid)})
        return json_response(400, error="not a valid TikTok event")
    if event.event != AUTHORIZATION_REMOVED:
        logger.info("tiktok event type not handled; acknowledged", extra={"event_type": event.event})
        return json_response(200, outcome="ignored", event=event.event)
    reason_text = REASONS.get(event.reason if event.reason is not None else 0, "unknown")
    reason = f"TikTok authorization removed: {reason_text} (reason {event.reason})"
    rows = store.find_platform_account(Platform.TIKTOK, event.user_openid)
    revoked_at_ms = event.create_time * 1000 + 999  # the end of the event's second: TikTok counts whole seconds
    expired = sum(
        store.mark_revoked(row.user_id, row.key, revoked_at_ms=revoked_at_ms, reason=reason, at=now_iso())
        for row in rows
    )
    logger.info("tiktok authorization removed", extra={"rows": len(rows), "expired": expired, "reason": event.reason})
    metrics.add_metric(name="ConnectionsRevokedByPlatform", unit=MetricUnit.Count, value=expired)
    return json_response(200, outcome="applied", event=event.event, rows=len(rows), expired=expired)
