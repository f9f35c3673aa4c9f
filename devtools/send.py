"""Sign a Clerk payload as Svix does and POST it to the webhook: `make send` (`python -m devtools.send`).

The body goes out byte for byte as given (a file, stdin, or a built-in example stamped with the current time), so the
signature covers exactly what the receiver verifies.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from devtools.clerk_payloads import deleted_event, external_account, to_body, user_event
from devtools.testkit.deliveries import http_api_event, svix_headers

DEFAULT_URL: Final = "http://127.0.0.1:3000/webhooks/clerk"


@dataclass(frozen=True, slots=True)
class Delivery:
    status: int
    body: dict[str, Any]
    message_id: str


def deliver(
    url: str,
    secret: str,
    body: str,
    *,
    message_id: str | None = None,
    timestamp: datetime | None = None,
    timeout: float = 15.0,
) -> Delivery:
    """POST one signed delivery; any HTTP status is an answer, only connection failures raise."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    headers = svix_headers(secret, body, message_id=message_id, timestamp=timestamp)
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=body.encode("utf-8"),
        method="POST",
        headers={**headers, "content-type": "application/json", "user-agent": "Svix-Webhooks/1.0 (local sender)"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        parsed = {"raw": raw.decode("utf-8", errors="replace")}
    return Delivery(status, parsed if isinstance(parsed, dict) else {"body": parsed}, headers["svix-id"])


def _now_millis() -> int:
    return int(time.time() * 1000)


def _created(user_id: str) -> dict[str, Any]:
    now = _now_millis()
    accounts = [
        external_account(f"eac_{user_id}_x", "oauth_x", updated_at=now, username="ada_x"),
        external_account(f"eac_{user_id}_ig", "oauth_instagram", updated_at=now, username="ada.ig"),
        external_account(f"eac_{user_id}_tt", "oauth_custom_tiktok", updated_at=now, username="ada.tt"),
        external_account(f"eac_{user_id}_gh", "oauth_github", updated_at=now),
    ]
    return user_event("user.created", user_id, updated_at=now, accounts=accounts)


def _updated(user_id: str) -> dict[str, Any]:
    """Instagram unlinked and the TikTok grant expired; X unchanged."""
    now = _now_millis()
    accounts = [
        external_account(f"eac_{user_id}_x", "oauth_x", updated_at=now, username="ada_x"),
        external_account(f"eac_{user_id}_tt", "oauth_custom_tiktok", updated_at=now, status="expired"),
    ]
    return user_event("user.updated", user_id, updated_at=now, accounts=accounts)


def _deleted(user_id: str) -> dict[str, Any]:
    return deleted_event(user_id, timestamp=_now_millis())


EXAMPLES: Final[dict[str, Callable[[str], dict[str, Any]]]] = {
    "created": _created,
    "updated": _updated,
    "deleted": _deleted,
}


def _body(args: argparse.Namespace) -> str:
    if args.example:
        return to_body(EXAMPLES[args.example](args.user))
    if args.file == "-":
        return sys.stdin.read()
    return Path(args.file).read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.send", description="Sign a Clerk payload and POST it.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", help="payload file sent byte for byte ('-' reads stdin)")
    source.add_argument("--example", choices=sorted(EXAMPLES), help="a built-in payload stamped with the current time")
    parser.add_argument("--user", default="user_local", help="Clerk user id of the built-in examples")
    parser.add_argument("--url", default=os.environ.get("WEBHOOK_URL", DEFAULT_URL), help="webhook URL")
    parser.add_argument("--message-id", help="svix-id to send (repeat one to see duplicate handling)")
    parser.add_argument(
        "--sam-event", action="store_true", help="print the signed API Gateway event (for sam local invoke) instead"
    )
    args = parser.parse_args(argv)
    secret = os.environ.get("CLERK_WEBHOOK_SECRET", "").strip()
    if not secret:
        parser.error("set CLERK_WEBHOOK_SECRET (`make dev` prints the export line)")
    # Several secrets (a rotation) may be configured; Svix signs with each, one is enough here.
    signing_secret = re.split(r"[\s,]+", secret)[0]
    if args.sam_event:
        body = _body(args)
        headers = {**svix_headers(signing_secret, body, message_id=args.message_id), "content-type": "application/json"}
        print(json.dumps(http_api_event(body, headers), indent=2))
        return 0
    try:
        result = deliver(args.url, signing_secret, _body(args), message_id=args.message_id)
    except OSError as error:
        print(f"could not reach {args.url}: {error} (is `make dev` running?)", file=sys.stderr)
        return 2
    print(f"{result.status} {result.message_id} {json.dumps(result.body)}")
    return 0 if result.status < 300 else 1


if __name__ == "__main__":
    raise SystemExit(main())
