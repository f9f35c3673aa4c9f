"""Meta's data-deletion callback and TikTok's webhook: the Lambda adapter of `meta_data_deletion` and
`tiktok_deauthorization`.

Routing and our own failures only: DynamoDB unavailable is a 503 and a secret that cannot be read a 500, so the
platform retries (every write is idempotent, so a retry converges).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from social_connections import container
from social_connections.http_api import HttpRequest, json_response
from social_connections.meta_data_deletion import (
    DATA_DELETION_ROUTE,
    STATUS_ROUTE,
    data_deletion_status,
    receive_data_deletion,
)
from social_connections.platform_signatures import CallbackSecretError
from social_connections.tiktok_deauthorization import TIKTOK_ROUTE, receive_tiktok_webhook

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
container.current()  # bad settings fail the cold start, not each callback


def _failed(status: int, message: str, answer: str, **details: str) -> dict[str, object]:
    logger.error(message, extra=details)
    metrics.add_metric(name="PlatformCallbacksFailed", unit=MetricUnit.Count, value=1)
    return json_response(status, error=answer)


def _route(request: HttpRequest) -> dict[str, object]:
    dependencies = container.current()
    store = dependencies.platform_store
    # Routed on routeKey, which carries no stage name or custom-domain base path (as the Clerk webhook is).
    if request.route_key == DATA_DELETION_ROUTE:
        base_url = dependencies.settings.public_base_url
        return receive_data_deletion(request, store, dependencies.meta_app_secret, base_url)
    if request.route_key == STATUS_ROUTE:
        return data_deletion_status(request, store)
    if request.route_key == TIKTOK_ROUTE:
        return receive_tiktok_webhook(request, store, dependencies.tiktok_client_secret)
    logger.warning("no such route", extra={"route_key": request.route_key})
    return json_response(404, error="not found")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, object], context: LambdaContext) -> dict[str, object]:
    try:
        return _route(HttpRequest.from_event(event))
    except (ClientError, BotoCoreError) as error:
        return _failed(503, "could not record the callback", "temporarily unavailable", error_type=type(error).__name__)
    except CallbackSecretError as error:
        return _failed(500, "platform secret is misconfigured", "callback receiver is misconfigured", reason=str(error))
