"""Configuration from the environment and the AWS clients built from it, created once per Lambda container.

Clients are built lazily (first invocation, not import) so that the handler's import stays cheap and tests can
swap the environment; `reset()` forgets them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config

from social_connections.repository import ConnectionsRepository
from social_connections.signatures import SecretConfigurationError, SignatureVerifier

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DEFAULT_ERROR_THRESHOLD: Final = 3
SECRET_MAX_AGE_SECONDS: Final = 300

# Svix gives up on a delivery after 15 s: 3 attempts of at most 1 s connect + 2 s read, plus standard-mode backoff,
# keep one call within about 12 s (tests/reliability computes it), and the function timeout (12 s) bounds the whole
# request below 15 s.
DYNAMODB_CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=1,
    read_timeout=2,
    tcp_keepalive=True,
)


def table_name() -> str:
    name = os.environ.get("TABLE_NAME", "")
    if not name:
        raise RuntimeError("TABLE_NAME is not set")
    return name


def error_threshold() -> int:
    return int(os.environ.get("ERROR_THRESHOLD", DEFAULT_ERROR_THRESHOLD))


@lru_cache(maxsize=1)
def dynamodb_client() -> DynamoDBClient:
    # A local endpoint (moto server) comes from botocore's own AWS_ENDPOINT_URL_DYNAMODB variable.
    return boto3.client("dynamodb", config=DYNAMODB_CLIENT_CONFIG)


@lru_cache(maxsize=1)
def repository() -> ConnectionsRepository:
    return ConnectionsRepository(table_name(), dynamodb_client())


def signing_secrets() -> str:
    """CLERK_WEBHOOK_SECRET when set (local, tests), else the Secrets Manager secret CLERK_WEBHOOK_SECRET_ID names."""
    direct = os.environ.get("CLERK_WEBHOOK_SECRET", "").strip()
    if direct:
        return direct
    secret_id = os.environ.get("CLERK_WEBHOOK_SECRET_ID", "").strip()
    if not secret_id:
        raise SecretConfigurationError("neither CLERK_WEBHOOK_SECRET nor CLERK_WEBHOOK_SECRET_ID is set")
    # Imported here: only deployed functions read Secrets Manager, and the import costs cold-start time.
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415

    try:
        value = parameters.get_secret(secret_id, max_age=SECRET_MAX_AGE_SECONDS)
    except parameters.GetParameterError as error:
        # Typically the stack's secret before the operator has set its value: a 500, which Svix retries.
        raise SecretConfigurationError("cannot read the webhook signing secret from Secrets Manager") from error
    if not isinstance(value, str):
        raise SecretConfigurationError("the webhook signing secret must be a string secret")
    return value


@lru_cache(maxsize=4)
def _verifier_for(secrets: str) -> SignatureVerifier:
    return SignatureVerifier.from_config(secrets)


def signature_verifier() -> SignatureVerifier:
    return _verifier_for(signing_secrets())


def reset() -> None:
    """Forget cached clients and verifiers (tests, and the local stack after changing the environment)."""
    dynamodb_client.cache_clear()
    repository.cache_clear()
    _verifier_for.cache_clear()
