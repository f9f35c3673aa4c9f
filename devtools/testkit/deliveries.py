"""Clerk deliveries as Svix sends them (signed by the real svix signer) and HTTP API events as Lambda receives them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from svix.webhooks import Webhook

from devtools.testkit.aws import LambdaContextStub


def new_secret() -> str:
    """A fresh signing secret in Clerk's `whsec_<base64>` format."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def svix_headers(
    secret: str, body: str, *, message_id: str | None = None, timestamp: datetime | None = None
) -> dict[str, str]:
    """The three svix-* headers Svix sends with `body` (a fresh id and the current time unless given)."""
    message_id = message_id or new_message_id()
    timestamp = timestamp or datetime.now(tz=UTC)
    signature = Webhook(secret).sign(message_id, timestamp, body)
    return {
        "svix-id": message_id,
        "svix-timestamp": str(int(timestamp.timestamp())),
        "svix-signature": signature,
    }


def sign_bytes(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The Svix v1 signature over raw bytes, for bodies the svix library cannot sign (it only takes text)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def http_api_event(
    body: str | bytes,
    headers: Mapping[str, str],
    *,
    base64_encoded: bool = False,
    path: str = "/webhooks/clerk",
    method: str = "POST",
    request_id: str | None = None,
    route_key: str | None = None,
    stage: str = "$default",
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event as Lambda receives it.

    `route_key` is the route API Gateway matched (default: the method and path, as for the template's routes); a
    named `stage` shows in the raw path (`/prod/webhooks/clerk`) but never in the route key."""
    raw = body.encode() if isinstance(body, str) else body
    if base64_encoded:
        encoded_body = base64.b64encode(raw).decode()
    else:
        encoded_body = raw.decode("utf-8", errors="surrogateescape") if isinstance(body, bytes) else body
    now = datetime.now(tz=UTC)
    request_id = request_id or secrets.token_hex(8)
    route_key = route_key or f"{method} {path}"
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", "Svix-Webhooks/1.0"),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": stage,
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": encoded_body,
        "isBase64Encoded": base64_encoded,
    }


def signed_event(
    secret: str,
    body: str,
    *,
    message_id: str | None = None,
    timestamp: datetime | None = None,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """A delivery exactly as Svix sends it, as the HTTP API hands it to the function."""
    headers = svix_headers(secret, body, message_id=message_id, timestamp=timestamp)
    return http_api_event(body, headers, base64_encoded=base64_encoded)


@dataclass
class HttpResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def invoke_http(handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any]) -> HttpResponse:
    """Call an HTTP handler as Lambda would and read its answer as API Gateway relays it."""
    raw = handler(event, LambdaContextStub())
    text = raw.get("body") or "{}"
    try:
        body = json.loads(text)
    except ValueError:
        body = {"raw": text}
    return HttpResponse(status=raw["statusCode"], body=body, headers=raw.get("headers") or {})
