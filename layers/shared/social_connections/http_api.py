"""API Gateway HTTP API (payload format 2.0) events in, responses out: what every HTTP-triggered handler needs.

The event is read directly rather than through Powertools' event handler: importing that package loads every
resolver it has, a sixth of `import boto3` of cold start for one route (docs/performance.md).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NamedTuple

from social_connections.json_text import json_object

NO_PARAMETERS: Final[Mapping[str, str]] = MappingProxyType({})  # a shared default no caller can change


class HttpRequest(NamedTuple):
    # The route API Gateway matched ("POST /webhooks/clerk"): unlike rawPath, it carries no stage name or
    # custom-domain base path, so a named stage or an API mapping routes as the $default stage does.
    route_key: str
    headers: dict[str, str]
    # The exact bytes the client sent; None when the base64 flag lies about the body.
    body: bytes | None
    # What API Gateway matched and checked on the route: its `{name}` segments (pathParameters, e.g. {"code": ...} for
    # GET /platforms/meta/data-deletion/{code}), the query, and the `sub` of a session token its JWT authorizer
    # accepted (None on routes without one).
    path_parameters: Mapping[str, str] = NO_PARAMETERS
    query: Mapping[str, str] = NO_PARAMETERS
    jwt_subject: str | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, object]) -> HttpRequest:
        # Lambda hands the event over as plain JSON objects: dict checks, not Mapping's slower ABC checks.
        route_key = event.get("routeKey")
        headers = event.get("headers")
        return cls(
            route_key=route_key if type(route_key) is str else "",
            headers=_string_map(headers),
            body=_raw_body(event.get("body"), base64_encoded=bool(event.get("isBase64Encoded"))),
            path_parameters=_string_map(event.get("pathParameters")),
            query=_string_map(event.get("queryStringParameters")),
            jwt_subject=_jwt_subject(event.get("requestContext")),
        )


_TEXT_ONLY: Final = frozenset({str})


def _string_map(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    kinds = set(map(type, value))
    kinds.update(map(type, value.values()))
    if kinds <= _TEXT_ONLY:
        return value  # API Gateway's maps are text already: no copy
    return {str(k): str(v) for k, v in value.items()}


def _jwt_subject(context: object) -> str | None:
    authorizer = context.get("authorizer") if isinstance(context, dict) else None
    jwt = authorizer.get("jwt") if isinstance(authorizer, dict) else None
    claims = jwt.get("claims") if isinstance(jwt, dict) else None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) and subject else None


def _raw_body(body: object, *, base64_encoded: bool) -> bytes | None:
    body = body or ""
    if not isinstance(body, str):
        return None
    try:
        return base64.b64decode(body, validate=True) if base64_encoded else body.encode("utf-8")
    except (binascii.Error, ValueError):  # also UnicodeEncodeError from lone surrogates
        return None


def json_response(status: int, /, **fields: object) -> dict[str, object]:
    """An HTTP API (payload 2.0) response with a JSON body (rendered directly: every webhook delivery gets one)."""
    return json_text_response(status, json_object(fields))


def json_text_response(status: int, body: str) -> dict[str, object]:
    """An HTTP API (payload 2.0) response whose JSON body the caller rendered."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": body,
        "isBase64Encoded": False,
    }


def json_body_response(status: int, body: object, headers: Mapping[str, str] | None = None) -> dict[str, object]:
    """An HTTP API (payload 2.0) response with any JSON body and extra headers (Cache-Control, Retry-After)."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }
