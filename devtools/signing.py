"""Sign Clerk payloads exactly as Clerk's Svix sender does, and wrap them as API Gateway HTTP API events."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from svix.webhooks import Webhook


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


def http_api_event(
    body: str | bytes,
    headers: Mapping[str, str],
    *,
    base64_encoded: bool = False,
    path: str = "/webhooks/clerk",
    method: str = "POST",
    request_id: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event as Lambda receives it."""
    raw = body.encode() if isinstance(body, str) else body
    if base64_encoded:
        encoded_body = base64.b64encode(raw).decode()
    else:
        encoded_body = raw.decode("utf-8", errors="surrogateescape") if isinstance(body, bytes) else body
    now = datetime.now(tz=UTC)
    request_id = request_id or secrets.token_hex(8)
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", "Svix-Webhooks/1.0"),
            },
            "requestId": request_id,
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": encoded_body,
        "isBase64Encoded": base64_encoded,
    }
