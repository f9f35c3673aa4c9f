"""The connections API's input checks: path parameters and the result body, each failure a 400 with its reason.

Reasons name the field and the rule, never echo the value: a body may hold anything a caller typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from pydantic import ValidationError

from social_connections.connections_api_models import ACCOUNT_ID_PATTERN, USER_ID_PATTERN, PublishResult
from social_connections.model import ConnectionKey
from social_connections.providers import Platform

MAX_RESULT_BODY_BYTES: Final = 16 * 1024
_USER_ID: Final = re.compile(USER_ID_PATTERN)
_ACCOUNT_ID: Final = re.compile(ACCOUNT_ID_PATTERN)


class BadRequestError(ValueError):
    """The request cannot be answered as sent; the message says why (a 400)."""


def user_id_from(parameters: Mapping[str, str]) -> str:
    user_id = parameters.get("userId", "")
    if not _USER_ID.fullmatch(user_id):
        raise BadRequestError("userId must be a Clerk user id (user_ followed by letters, digits or _)")
    return user_id


def platform_from(parameters: Mapping[str, str]) -> Platform:
    try:
        return Platform(parameters.get("platform", ""))
    except ValueError:
        raise BadRequestError(f"platform must be one of {', '.join(p.value for p in Platform)}") from None


def account_id_from(value: str, name: str = "externalAccountId") -> str:
    if not _ACCOUNT_ID.fullmatch(value):
        raise BadRequestError(f"{name} must be Clerk's account id (letters, digits or _, at most 128)")
    return value


def connection_key_from(parameters: Mapping[str, str]) -> ConnectionKey:
    return ConnectionKey(platform_from(parameters), account_id_from(parameters.get("externalAccountId", "")))


def publish_result_from(body: bytes | None) -> PublishResult:
    if not body:
        raise BadRequestError('the body must be {"ok": true} or {"ok": false, "error": "..."}')
    if len(body) > MAX_RESULT_BODY_BYTES:
        raise BadRequestError(f"the body must be at most {MAX_RESULT_BODY_BYTES} bytes")
    try:
        return PublishResult.model_validate_json(body)
    except ValidationError as invalid:
        raise BadRequestError(_reason(invalid)) from None


def _reason(invalid: ValidationError) -> str:
    first = invalid.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"
