"""The dependencies a Lambda container builds once: settings, the DynamoDB client, the store, the signature verifier.

Handlers ask for `current()`; it is built from the environment on first use (at import, so bad settings fail the
cold start). Tests and the local stack build their own with `Container(settings, dynamodb=...)` and `use()` it.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Final

import boto3

from social_connections.clerk_settings import ClerkApiSettings
from social_connections.providers import ProviderMap
from social_connections.settings import Settings
from social_connections.storage import DYNAMODB_CLIENT_CONFIG, DynamoDBConnectionStore
from social_connections.storage.platform_store import DynamoDBPlatformStore

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from mypy_boto3_dynamodb import DynamoDBClient

    from social_connections.clerk_api import ClerkClient
    from social_connections.event_bus import StatusEventPublisher
    from social_connections.signatures import SignatureVerifier

SECRET_MAX_AGE_SECONDS: Final = 300
# botocore's defaults (60 s timeouts, legacy retries) would outlast Svix's 15 s: a slow read must end in a counted 500.
SECRETS_MANAGER_CLIENT_CONFIG: Final = DYNAMODB_CLIENT_CONFIG


class Container:
    def __init__(
        self,
        settings: Settings,
        *,
        dynamodb: DynamoDBClient | None = None,
        publisher: StatusEventPublisher | None = None,
    ) -> None:
        self.settings = settings
        self._dynamodb = dynamodb
        self._publisher = publisher

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        # A local endpoint (moto server) comes from botocore's own AWS_ENDPOINT_URL_DYNAMODB variable.
        return self._dynamodb or boto3.client("dynamodb", config=DYNAMODB_CLIENT_CONFIG)

    @cached_property
    def store(self) -> DynamoDBConnectionStore:
        return DynamoDBConnectionStore(self.settings.table_name, self.dynamodb)

    @cached_property
    def clerk_api(self) -> ClerkApiSettings:
        """How to reach Clerk's Backend API (reconciliation); SettingsError names the variable that is wrong."""
        return ClerkApiSettings.from_environment()

    @cached_property
    def secrets(self) -> SecretsProvider:
        # Imported here: only deployed functions read Secrets Manager, and the import costs cold-start time.
        from aws_lambda_powertools.utilities.parameters import SecretsProvider  # noqa: PLC0415

        # Region and a local endpoint (AWS_ENDPOINT_URL) come from the SDK's own settings, as for DynamoDB.
        return SecretsProvider(boto_config=SECRETS_MANAGER_CLIENT_CONFIG)

    @cached_property
    def platform_store(self) -> DynamoDBPlatformStore:
        return DynamoDBPlatformStore(self.settings.table_name, self.dynamodb)

    @cached_property
    def providers(self) -> ProviderMap:
        return ProviderMap(dict(self.settings.provider_aliases))

    def meta_app_secret(self) -> str:
        """Meta's app secret(s) for data-deletion callbacks; read again after SECRET_MAX_AGE_SECONDS."""
        return self._platform_secret(self.settings.meta_app_secret, self.settings.meta_app_secret_id, "META_APP_SECRET")

    def tiktok_client_secret(self) -> str:
        """TikTok's client secret(s) for webhook signatures; read again after SECRET_MAX_AGE_SECONDS."""
        settings = self.settings
        return self._platform_secret(
            settings.tiktok_client_secret, settings.tiktok_client_secret_id, "TIKTOK_CLIENT_SECRET"
        )

    def _platform_secret(self, direct: str, secret_id: str, variable: str) -> str:
        from social_connections.platform_signatures import CallbackSecretError  # noqa: PLC0415

        if not secret_id:
            if not direct:
                raise CallbackSecretError(f"neither {variable} nor {variable}_ID is set")
            return direct
        # The deployed source wins over a plaintext copy, as for the webhook's secret.
        from aws_lambda_powertools.utilities.parameters import GetParameterError  # noqa: PLC0415

        try:
            value = self.secrets.get(secret_id, max_age=SECRET_MAX_AGE_SECONDS)
        except GetParameterError as error:
            raise CallbackSecretError(f"cannot read {variable} from Secrets Manager") from error
        if not isinstance(value, str) or not value.strip():
            raise CallbackSecretError(f"{variable} in Secrets Manager must be a non-empty string")
        return value

    @cached_property
    def clerk_client(self) -> ClerkClient:
        """One Backend API client per container, so its rate ceiling spans invocations (the connections API)."""
        from social_connections.clerk_api import ClerkClient  # noqa: PLC0415 - only the token route needs it

        return ClerkClient(self.clerk_api, self.clerk_api.secret_key())

    @cached_property
    def publisher(self) -> StatusEventPublisher:
        """Status-change events to EventBridge; the client is built on the first event, not at cold start."""
        if self._publisher is not None:
            return self._publisher
        from social_connections.event_bus import EVENTS_CLIENT_CONFIG, EventBridgePublisher  # noqa: PLC0415

        return EventBridgePublisher(self.settings.event_bus_name, boto3.client("events", config=EVENTS_CLIENT_CONFIG))

    def signature_verifier(self) -> SignatureVerifier:
        """A verifier for the current secret(s): read again after SECRET_MAX_AGE_SECONDS, so a rotation is seen."""
        return _verifier_for(self._signing_secrets())

    def _signing_secrets(self) -> str:
        # Imported here: the stream function never verifies signatures.
        from social_connections.signatures import SecretConfigurationError  # noqa: PLC0415

        if self.settings.webhook_secret:
            return self.settings.webhook_secret
        if not self.settings.webhook_secret_id:
            raise SecretConfigurationError("neither CLERK_WEBHOOK_SECRET nor CLERK_WEBHOOK_SECRET_ID is set")
        from aws_lambda_powertools.utilities.parameters import GetParameterError  # noqa: PLC0415

        try:
            value = self.secrets.get(self.settings.webhook_secret_id, max_age=SECRET_MAX_AGE_SECONDS)
        except GetParameterError as error:
            # Typically the stack's secret before the operator has set its value: a 500, which Svix retries.
            raise SecretConfigurationError("cannot read the webhook signing secret from Secrets Manager") from error
        if not isinstance(value, str):
            raise SecretConfigurationError("the webhook signing secret must be a string secret")
        return value


@lru_cache(maxsize=4)
def _verifier_for(secrets: str) -> SignatureVerifier:
    from social_connections.signatures import SignatureVerifier  # noqa: PLC0415

    return SignatureVerifier.from_config(secrets)


_current: Container | None = None


def current() -> Container:
    """This process's container, built from the environment the first time."""
    global _current  # noqa: PLW0603 - one container per Lambda execution environment, on purpose
    if _current is None:
        _current = Container(Settings.from_environment())
    return _current


def use(container: Container | None) -> None:
    """Make `container` the one handlers get (tests, the local stack); None builds afresh from the environment."""
    global _current  # noqa: PLW0603
    _current = container
