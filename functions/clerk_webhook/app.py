"""POST /webhooks/clerk: the Lambda adapter of `social_connections.receive_clerk_webhook`.

Routing and our own failures only: DynamoDB or an exhausted retry budget is a 503 and a signing secret that cannot be
read a 500, so Svix redelivers and the retry converges (nothing is marked applied before every row is written).
Logs and metrics go through `social_connections.telemetry` (Powertools' format at a fraction of its cost, B2).
"""

from __future__ import annotations

from typing import Final

from botocore.exceptions import BotoCoreError, ClientError
from social_connections import container
from social_connections.apply_clerk_event import ConcurrencyExhaustedError
from social_connections.http_api import HttpRequest, json_response
from social_connections.receive_clerk_webhook import receive_clerk_webhook
from social_connections.signatures import SecretConfigurationError
from social_connections.telemetry import LambdaContextLike, Telemetry

ROUTE_KEY: Final = "POST /webhooks/clerk"

telemetry = Telemetry()
container.current().settings.require_webhook_secret_source()  # bad settings fail the cold start, not each delivery
if container.current().settings.plaintext_secret_ignored:
    telemetry.warning("CLERK_WEBHOOK_SECRET is ignored: CLERK_WEBHOOK_SECRET_ID is set and Secrets Manager wins")


def _failed(status: int, message: str, answer: str, **details: str) -> dict[str, object]:
    telemetry.error(message, **details)
    telemetry.count("EventsFailed")
    return json_response(status, error=answer)


def _request_id(event: dict[str, object]) -> str | None:
    context = event.get("requestContext")
    request_id = context.get("requestId") if isinstance(context, dict) else None
    return request_id if isinstance(request_id, str) else None


def lambda_handler(event: dict[str, object], context: LambdaContextLike) -> dict[str, object]:
    telemetry.start(context, correlation_id=_request_id(event))
    try:
        return _answer(HttpRequest.from_event(event))
    finally:
        telemetry.flush()


def _answer(request: HttpRequest) -> dict[str, object]:
    if request.route_key != ROUTE_KEY:
        telemetry.warning("no such route", route_key=request.route_key)
        return json_response(404, error="not found")
    try:
        return receive_clerk_webhook(request, container.current(), telemetry)
    except (ClientError, BotoCoreError, ConcurrencyExhaustedError) as error:
        retry = "could not record the event; asking Svix to retry"
        return _failed(503, retry, "temporarily unable to record the event", error_type=type(error).__name__)
    except SecretConfigurationError as error:
        return _failed(
            500, "webhook signing secret is misconfigured", "webhook receiver is misconfigured", reason=str(error)
        )
