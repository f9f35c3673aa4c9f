"""POST /webhooks/clerk: the Lambda adapter of `social_connections.receive_clerk_webhook`.

Routing and our own failures only: DynamoDB or an exhausted retry budget is a 503 and a signing secret that cannot be
read a 500, so Svix redelivers and the retry converges (nothing is marked applied before every row is written).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from social_connections import container
from social_connections.apply_clerk_event import ConcurrencyExhaustedError
from social_connections.http_api import HttpRequest, json_response
from social_connections.receive_clerk_webhook import receive_clerk_webhook
from social_connections.signatures import SecretConfigurationError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

ROUTE_KEY: Final = "POST /webhooks/clerk"

logger = Logger()
metrics = Metrics()
container.current().settings.require_webhook_secret_source()  # bad settings fail the cold start, not each delivery
if container.current().settings.plaintext_secret_ignored:
    logger.warning("CLERK_WEBHOOK_SECRET is ignored: CLERK_WEBHOOK_SECRET_ID is set and Secrets Manager wins")


def _failed(status: int, message: str, answer: str, **details: str) -> dict[str, object]:
    logger.error(message, extra=details)
    metrics.add_metric(name="EventsFailed", unit=MetricUnit.Count, value=1)
    return json_response(status, error=answer)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, object], context: LambdaContext) -> dict[str, object]:
    request = HttpRequest.from_event(event)
    if request.route_key != ROUTE_KEY:
        logger.warning("no such route", extra={"route_key": request.route_key})
        return json_response(404, error="not found")
    try:
        return receive_clerk_webhook(request, container.current())
    except (ClientError, BotoCoreError, ConcurrencyExhaustedError) as error:
        retry = "could not record the event; asking Svix to retry"
        return _failed(503, retry, "temporarily unable to record the event", error_type=type(error).__name__)
    except SecretConfigurationError as error:
        return _failed(
            500, "webhook signing secret is misconfigured", "webhook receiver is misconfigured", reason=str(error)
        )
