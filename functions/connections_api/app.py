"""The connections API for apps: the Lambda adapter of `social_connections.connections_api`.

API Gateway has already checked the caller (JWT authorizer on /me, AWS_IAM on the internal routes). Our own failures
only: DynamoDB unavailable is a 503 with Retry-After, so a caller retries; nothing here ever logs a token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from social_connections import container
from social_connections.connections_api import ApiDependencies, handle_connections_request
from social_connections.http_api import HttpRequest, json_body_response

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

DYNAMODB_RETRY_AFTER: Final = "2"

logger = Logger()
metrics = Metrics()
container.current().clerk_api  # noqa: B018 - no Clerk key source or a bad ceiling fails the cold start


def _dependencies() -> ApiDependencies:
    built = container.current()
    return ApiDependencies(store=built.store, tokens=lambda: built.clerk_client)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, object], context: LambdaContext) -> dict[str, object]:
    request = HttpRequest.from_event(event)
    logger.append_keys(route=request.route_key)
    try:
        answer = handle_connections_request(request, _dependencies())
    except (ClientError, BotoCoreError) as error:
        logger.error("the table is unavailable", extra={"error_type": type(error).__name__})
        metrics.add_metric(name="ApiTableFailures", unit=MetricUnit.Count, value=1)
        return json_body_response(503, {"error": "temporarily unavailable"}, {"Retry-After": DYNAMODB_RETRY_AFTER})
    status = answer.get("statusCode")
    metrics.add_metric(name=f"Api{status}", unit=MetricUnit.Count, value=1)
    return answer
