"""A typed Python client of the connections API for other services, signing each call with SigV4 through botocore.

    client = ConnectionsApiClient("https://abc123.execute-api.eu-west-1.amazonaws.com")
    for connection in client.connections("user_2abc").connections: ...
    client.report("user_2abc", Platform.TWITTER, "eac_123", ok=False, error="rate limited")
    token = client.access_token("user_2abc", Platform.TWITTER).token   # use it, never store or log it

Credentials and region come from botocore's usual chain (the caller's role on Lambda). Against `make dev` (a loopback
URL) calls go unsigned when no credentials are configured: the local stack accepts them, API Gateway would not.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Final, TypeVar

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import NoCredentialsError
from pydantic import BaseModel, ValidationError

from social_connections.connections_api_models import AccessToken, ConnectionList, ResultRecorded
from social_connections.providers import Platform

SERVICE: Final = "execute-api"
TIMEOUT_SECONDS: Final = 20.0
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
Answer = TypeVar("Answer", bound=BaseModel)


class ConnectionsApiError(Exception):
    """The API answered something other than 200: its status, its reason, and Retry-After when it gave one."""

    def __init__(self, status: int, reason: str, retry_after: int | None = None) -> None:
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


class ConnectionsApiClient:
    def __init__(
        self, base_url: str, *, region: str | None = None, session: botocore.session.Session | None = None
    ) -> None:
        self._base = base_url.rstrip("/")
        self._session = session or botocore.session.get_session()
        self._region = region or self._session.get_config_variable("region") or "us-east-1"

    def connections(self, user_id: str) -> ConnectionList:
        return self._call("GET", f"/users/{_part(user_id)}/connections", ConnectionList)

    def report(
        self, user_id: str, platform: Platform, external_account_id: str, *, ok: bool, error: str | None = None
    ) -> ResultRecorded:
        """Record a publish result: `ok=True`, or `ok=False` with the error text."""
        path = f"/users/{_part(user_id)}/connections/{platform.value}/{_part(external_account_id)}/results"
        body = {"ok": True} if ok else {"ok": False, "error": error}
        return self._call("POST", path, ResultRecorded, body)

    def access_token(self, user_id: str, platform: Platform, external_account_id: str | None = None) -> AccessToken:
        """A fresh token from Clerk; ConnectionsApiError 409 means the user must reconnect the account."""
        path = f"/users/{_part(user_id)}/connections/{platform.value}/token"
        if external_account_id is not None:
            path += "?" + urllib.parse.urlencode({"externalAccountId": external_account_id})
        return self._call("GET", path, AccessToken)

    def _call(self, method: str, path: str, answer: type[Answer], body: object = None) -> Answer:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json", **({"Content-Type": "application/json"} if data else {})}
        request = AWSRequest(method=method, url=self._base + path, data=data, headers=headers)
        credentials = self._session.get_credentials()
        if credentials is None and not _is_loopback(self._base):
            raise NoCredentialsError()
        if credentials is not None:
            SigV4Auth(credentials, SERVICE, self._region).add_auth(request)
        prepared = urllib.request.Request(  # noqa: S310 - the API's URL, given by the caller
            self._base + path, data=data, method=method, headers=dict(request.headers.items())
        )
        try:
            with urllib.request.urlopen(prepared, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise _api_error(error) from None
        try:
            return answer.model_validate_json(raw)
        except ValidationError:
            raise ConnectionsApiError(200, f"the answer is not a {answer.__name__}") from None


def _part(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _is_loopback(url: str) -> bool:
    return urllib.parse.urlsplit(url).hostname in LOOPBACK_HOSTS


def _api_error(error: urllib.error.HTTPError) -> ConnectionsApiError:
    try:
        body = json.loads(error.read())
    except ValueError:
        body = {}
    reason = body.get("error") or body.get("message") if isinstance(body, dict) else None
    retry = error.headers.get("Retry-After")
    return ConnectionsApiError(
        error.code, str(reason or error.reason), int(retry) if retry and retry.isdigit() else None
    )
