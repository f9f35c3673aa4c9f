"""The connections API for apps: a user's connections, publish results, and fresh OAuth tokens from Clerk.

Routed on the routeKey API Gateway matched, after it checked the caller (a Clerk session token on /me, SigV4 on the
internal routes). Reads go through the store's `read_user`; results are recorded with `record_publish_failure` and
`record_publish_success`, and the stream function turns them into `error` transitions. DynamoDB failures propagate:
the handler answers 503. A token is returned to the caller and nowhere else: never stored, never logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from aws_lambda_powertools import Logger

from social_connections.clerk_api import ClerkApiError, ClerkAuthError, ClerkRateLimitedError, ClerkRefusedError
from social_connections.clerk_oauth import OAuthToken
from social_connections.clock import iso_from_millis
from social_connections.connection_store import ConnectionStore
from social_connections.connections_api_input import (
    BadRequestError,
    account_id_from,
    connection_key_from,
    platform_from,
    publish_result_from,
    user_id_from,
)
from social_connections.connections_api_models import AccessToken, ApiError, Connection, ConnectionList, ResultRecorded
from social_connections.http_api import HttpRequest, json_body_response
from social_connections.model import ConnectionStatus, ProfileStatus, StoredConnection, StoredUser
from social_connections.settings import SettingsError

# When Clerk is unreachable (no Retry-After of its own to pass on), callers try again after this many seconds.
UNREACHABLE_RETRY_AFTER: Final = 5
NO_STORE: Final = {"Cache-Control": "no-store"}

logger = Logger(child=True)
Answer = dict[str, object]


class TokenSource(Protocol):
    def oauth_access_tokens(self, user_id: str, provider: str) -> list[OAuthToken]: ...


@dataclass(frozen=True)
class ApiDependencies:
    store: ConnectionStore
    # Built on first use: only the token route needs Clerk's secret key.
    tokens: Callable[[], TokenSource]


class NotFoundError(LookupError):
    """No such user (or a deleted one), or no such connection: a 404."""


def handle_connections_request(request: HttpRequest, dependencies: ApiDependencies) -> Answer:
    route = ROUTES.get(request.route_key)
    if route is None:
        return _error(404, "no such route")
    try:
        return route(request, dependencies)
    except BadRequestError as bad:
        return _error(400, str(bad))
    except NotFoundError as missing:
        return _error(404, str(missing))


def _my_connections(request: HttpRequest, dependencies: ApiDependencies) -> Answer:
    if request.jwt_subject is None:
        # API Gateway's authorizer guards the route; reaching here without claims means it is misconfigured.
        return _error(401, "no signed-in user")
    return _connections_of(request.jwt_subject, dependencies)


def _user_connections(request: HttpRequest, dependencies: ApiDependencies) -> Answer:
    return _connections_of(user_id_from(request.path_parameters), dependencies)


def _connections_of(user_id: str, dependencies: ApiDependencies) -> Answer:
    rows = sorted(
        _active_user(dependencies.store, user_id).connections.values(),
        key=lambda row: (row.key.platform.value, row.key.external_account_id),
    )
    answer = ConnectionList(userId=user_id, connections=[Connection.of(row) for row in rows])
    return json_body_response(200, answer.model_dump(mode="json"))


def _record_result(request: HttpRequest, dependencies: ApiDependencies) -> Answer:
    user_id = user_id_from(request.path_parameters)
    key = connection_key_from(request.path_parameters)
    result = publish_result_from(request.body)
    if key not in _active_user(dependencies.store, user_id).connections:
        raise NotFoundError("no such connection")
    if result.ok:
        # False here only means there was nothing to reset: the success is recorded either way.
        dependencies.store.record_publish_success(user_id, key)
    elif not dependencies.store.record_publish_failure(user_id, key, result.error or ""):
        raise NotFoundError("no such connection")
    logger.info("publish result recorded", extra={"user_id": user_id, "platform": key.platform.value, "ok": result.ok})
    recorded = ResultRecorded(
        userId=user_id,
        platform=key.platform,
        externalAccountId=key.external_account_id,
        recorded="success" if result.ok else "failure",
    )
    return json_body_response(200, recorded.model_dump(mode="json"))


def _token(request: HttpRequest, dependencies: ApiDependencies) -> Answer:
    user_id = user_id_from(request.path_parameters)
    row = _token_connection(request, _active_user(dependencies.store, user_id))
    provider = row.details.provider if row.details.provider.startswith("oauth_") else f"oauth_{row.details.provider}"
    try:
        tokens = dependencies.tokens().oauth_access_tokens(user_id, provider)
    except ClerkRefusedError as refused:
        return _refused(dependencies.store, user_id, row, refused.code or f"HTTP {refused.status}")
    except ClerkRateLimitedError as limited:
        return _unavailable("Clerk is rate limiting token requests", limited.retry_after)
    except (ClerkAuthError, SettingsError) as misconfigured:
        logger.error("cannot ask Clerk for tokens", extra={"reason": str(misconfigured)})
        return _error(500, "the token service is misconfigured")
    except ClerkApiError as failure:
        logger.warning("Clerk unreachable for a token", extra={"reason": str(failure)})
        return _unavailable("Clerk is unreachable", UNREACHABLE_RETRY_AFTER)
    accounts = {row.key.external_account_id, row.details.clerk_account_id}
    token = next((token for token in tokens if token.external_account_id in accounts), None)
    if token is None:
        return _refused(dependencies.store, user_id, row, "no token for this account")
    expires = iso_from_millis(token.expires_at * 1000) if token.expires_at is not None else None
    answer = AccessToken(
        externalAccountId=row.key.external_account_id, token=token.token, expiresAt=expires, scopes=list(token.scopes)
    )
    return json_body_response(200, answer.model_dump(mode="json"), NO_STORE)


def _token_connection(request: HttpRequest, user: StoredUser) -> StoredConnection:
    """The connection whose token is asked for: the user's one live account on the platform, or the one named."""
    platform = platform_from(request.path_parameters)
    named = request.query.get("externalAccountId")
    live = [
        row
        for row in user.connections.values()
        if row.key.platform is platform and row.status is not ConnectionStatus.DISCONNECTED
    ]
    if named is not None:
        live = [row for row in live if row.key.external_account_id == account_id_from(named)]
    if not live:
        raise NotFoundError(f"no connected {platform.value} account")
    if len(live) > 1:
        raise BadRequestError(f"several {platform.value} accounts: name one with ?externalAccountId=")
    return live[0]


def _refused(store: ConnectionStore, user_id: str, row: StoredConnection, reason: str) -> Answer:
    """Clerk has no token to give (refresh token missing, revoked, ...): a failure on the row; the user reconnects."""
    store.record_publish_failure(user_id, row.key, f"Clerk gave no OAuth token: {reason}")
    logger.warning(
        "Clerk refused a token", extra={"user_id": user_id, "platform": row.key.platform.value, "reason": reason}
    )
    body = ApiError(error=f"Clerk has no token for this account ({reason}): the user must reconnect it", reconnect=True)
    return json_body_response(409, body.model_dump(mode="json", exclude_none=True), NO_STORE)


def _active_user(store: ConnectionStore, user_id: str) -> StoredUser:
    user = store.read_user(user_id)
    if user.profile is None or user.profile.status is ProfileStatus.DELETED:
        raise NotFoundError("no such user")
    return user


def _unavailable(reason: str, retry_after: int) -> Answer:
    body = ApiError(error=f"{reason}; try again later").model_dump(mode="json", exclude_none=True)
    return json_body_response(503, body, {"Retry-After": str(retry_after), **NO_STORE})


def _error(status: int, reason: str) -> Answer:
    return json_body_response(status, ApiError(error=reason).model_dump(mode="json", exclude_none=True))


ROUTES: Final[dict[str, Callable[[HttpRequest, ApiDependencies], Answer]]] = {
    "GET /me/connections": _my_connections,
    "GET /users/{userId}/connections": _user_connections,
    "POST /users/{userId}/connections/{platform}/{externalAccountId}/results": _record_result,
    "GET /users/{userId}/connections/{platform}/token": _token,
}
