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

from social_connections.cli.local_stack import NoLocalStackError, read_state

from devtools.clerk_payloads import deleted_event, external_account, to_body, user_event
from devtools.local_state import last_delivery, save_last_delivery
from devtools.testkit.deliveries import http_api_event, svix_headers


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


def _created(user_id: str, now: int) -> dict[str, Any]:
    accounts = [
        external_account(f"eac_{user_id}_x", "oauth_x", updated_at=now, username="ada_x"),
        external_account(f"eac_{user_id}_ig", "oauth_instagram", updated_at=now, username="ada.ig"),
        external_account(f"eac_{user_id}_tt", "oauth_custom_tiktok", updated_at=now, username="ada.tt"),
        external_account(f"eac_{user_id}_gh", "oauth_github", updated_at=now),
    ]
    return user_event("user.created", user_id, updated_at=now, accounts=accounts)


def _updated(user_id: str, now: int) -> dict[str, Any]:
    """Instagram unlinked and the TikTok grant expired; X unchanged."""
    accounts = [
        external_account(f"eac_{user_id}_x", "oauth_x", updated_at=now, username="ada_x"),
        external_account(f"eac_{user_id}_tt", "oauth_custom_tiktok", updated_at=now, status="expired"),
    ]
    return user_event("user.updated", user_id, updated_at=now, accounts=accounts)


def _deleted(user_id: str, now: int) -> dict[str, Any]:
    return deleted_event(user_id, timestamp=now)


EXAMPLES: Final[dict[str, Callable[[str, int], dict[str, Any]]]] = {
    "created": _created,
    "updated": _updated,
    "deleted": _deleted,
}
LATE_BY_MILLIS: Final = 60 * 60 * 1000


def _body(args: argparse.Namespace) -> str:
    if args.example:
        return to_body(EXAMPLES[args.example](args.user, _now_millis() - (LATE_BY_MILLIS if args.late else 0)))
    if args.file == "-":
        return sys.stdin.read()
    return Path(args.file).read_text(encoding="utf-8")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=".venv/bin/python -m devtools.send",
        description="Sign a Clerk payload as Svix does and POST it to the running `make dev` (or --url).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", help="a payload file, sent byte for byte ('-' reads stdin)")
    source.add_argument(
        "--example",
        choices=sorted(EXAMPLES),
        help="a built-in payload for --user with updated_at = now, so every send is a new event",
    )
    source.add_argument(
        "--repeat",
        action="store_true",
        help="send the last delivery made to the running `make dev` again: same svix-id, same bytes, signed anew as "
        "Svix's retries are (a true duplicate: it changes nothing)",
    )
    parser.add_argument("--user", default="user_local", help="Clerk user id of the built-in examples (user_local)")
    parser.add_argument(
        "--late",
        action="store_true",
        help="with --example: updated_at one hour ago, older than what a send just now stored (answered `stale`)",
    )
    parser.add_argument("--url", help="webhook URL (default: $WEBHOOK_URL, else the running `make dev`'s)")
    parser.add_argument("--message-id", help="svix-id to send (default: a new msg_... each time; see --repeat)")
    parser.add_argument(
        "--sam-event", action="store_true", help="print the signed API Gateway event (for sam local invoke) instead"
    )
    return parser


def _exported_secret() -> str:
    # Several secrets (a rotation) may be configured; Svix signs with each, one is enough here.
    return re.split(r"[\s,]+", os.environ.get("CLERK_WEBHOOK_SECRET", "").strip())[0]


def _receiver(parser: argparse.ArgumentParser, url: str | None) -> tuple[str, str]:
    """URL and signing secret: --url or $WEBHOOK_URL with $CLERK_WEBHOOK_SECRET, else the running stack's own."""
    url = url or os.environ.get("WEBHOOK_URL")
    if url:
        if not _exported_secret():
            parser.error(f"set CLERK_WEBHOOK_SECRET to the signing secret of {url}")
        return url, _exported_secret()
    try:
        state = read_state()
    except NoLocalStackError as error:
        parser.exit(2, f"{error}; or pass --url with CLERK_WEBHOOK_SECRET set\n")
    secret = state.secret or _exported_secret()
    if not secret:
        parser.error("the running stack verifies with the CLERK_WEBHOOK_SECRET exported in its shell: export it here")
    return state.webhook_url, secret


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.late and not args.example:
        parser.error("--late changes the built-in examples only: use it with --example")
    if args.sam_event:
        if not _exported_secret():
            parser.error("set CLERK_WEBHOOK_SECRET (the value in events/env.json, or your deployed stack's)")
        body = _body(args)
        headers = {
            **svix_headers(_exported_secret(), body, message_id=args.message_id),
            "content-type": "application/json",
        }
        print(json.dumps(http_api_event(body, headers), indent=2))
        return 0
    url, secret = _receiver(parser, args.url)
    message_id, body = args.message_id, ""
    if args.repeat:
        last = last_delivery()
        if last is None:
            parser.exit(2, "nothing to repeat: send something first (make send EXAMPLE=created)\n")
        message_id, body = last
    else:
        body = _body(args)
    try:
        result = deliver(url, secret, body, message_id=message_id)
    except OSError as error:
        print(f"could not reach {url}: {error} (is make dev still running?)", file=sys.stderr)
        return 2
    if not (args.url or os.environ.get("WEBHOOK_URL")):
        save_last_delivery(result.message_id, body, url)  # kept beside the stack's state file, for --repeat
    print(f"{result.status} {result.message_id} {json.dumps(result.body)}")
    return 0 if result.status < 300 else 1


if __name__ == "__main__":
    raise SystemExit(main())
