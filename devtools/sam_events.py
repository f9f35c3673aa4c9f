"""Signed API Gateway events for `sam local invoke ClerkWebhookFunction -e events/apigw.user.created.json`.

A Svix signature is accepted for 5 minutes only, so a signed event file goes stale almost at once. `make resign-events`
(`python -m devtools.sam_events`) rebuilds each `apigw.user.*.json` from its raw payload `user.*.json`, signed now with
the ClerkWebhookFunction secret in `events/env.json`. A file's svix-id is kept, as Svix keeps it across the retries of
one message; the body is the payload file byte for byte, so the signature covers exactly what the function verifies.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from social_connections.signatures import SecretConfigurationError, SignatureVerifier

from devtools.testkit.deliveries import http_api_event, svix_headers

REPO: Final = Path(__file__).resolve().parent.parent
EVENTS_DIR: Final = REPO / "events"
ENV_VARS_FILE: Final = EVENTS_DIR / "env.json"
WEBHOOK_FUNCTION: Final = "ClerkWebhookFunction"
PAYLOAD_PATTERN: Final = "user.*.json"
EVENT_PREFIX: Final = "apigw."
SIGNATURE_TOLERANCE: Final = timedelta(minutes=5)
REQUEST_HEADERS: Final = {"content-type": "application/json", "user-agent": "Svix-Webhooks/1.0"}


def payload_files(events_dir: Path = EVENTS_DIR) -> list[Path]:
    """The raw Clerk payloads (`user.created.json`, ...) that get an API Gateway event each."""
    return sorted(events_dir.glob(PAYLOAD_PATTERN))


def event_path(payload: Path, out_dir: Path) -> Path:
    return out_dir / f"{EVENT_PREFIX}{payload.name}"


def signing_secret(env_vars_file: Path = ENV_VARS_FILE) -> str:
    """The webhook function's CLERK_WEBHOOK_SECRET in a `sam local --env-vars` file (the first, if a rotation)."""
    variables = json.loads(env_vars_file.read_text(encoding="utf-8")).get(WEBHOOK_FUNCTION, {})
    configured = str(variables.get("CLERK_WEBHOOK_SECRET", "")).strip()
    if not configured:
        raise ValueError(f"{env_vars_file} has no {WEBHOOK_FUNCTION}.CLERK_WEBHOOK_SECRET")
    try:
        SignatureVerifier.from_config(configured)  # a placeholder or mistyped value fails here, not at invoke time
    except SecretConfigurationError as error:
        raise ValueError(f"{env_vars_file}: CLERK_WEBHOOK_SECRET is not a whsec_<base64> secret") from error
    return re.split(r"[\s,]+", configured)[0]


def _existing_message_id(path: Path) -> str | None:
    try:
        headers = json.loads(path.read_text(encoding="utf-8")).get("headers", {})
    except (OSError, ValueError):
        return None
    message_id = headers.get("svix-id") if isinstance(headers, dict) else None
    return message_id if isinstance(message_id, str) and message_id else None


def signed_event(
    body: str, secret: str, *, message_id: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event carrying `body` as Svix would POST it, signed at `now`."""
    headers = {**svix_headers(secret, body, message_id=message_id, timestamp=now), **REQUEST_HEADERS}
    return http_api_event(body, headers)


def resign(
    *,
    events_dir: Path = EVENTS_DIR,
    out_dir: Path | None = None,
    env_vars_file: Path = ENV_VARS_FILE,
    only: Sequence[str] = (),
    now: datetime | None = None,
) -> list[Path]:
    """Write `apigw.<payload>` for each payload (or those named in `only`, e.g. "user.created"); returns the files."""
    secret = signing_secret(env_vars_file)
    target = out_dir or events_dir
    payloads = payload_files(events_dir)
    if only:
        known = {payload.name.removesuffix(".json"): payload for payload in payloads}
        unknown = sorted(set(only) - known.keys())
        if unknown:
            raise ValueError(f"no payload {', '.join(unknown)} in {events_dir} (have: {', '.join(sorted(known))})")
        payloads = [known[name] for name in only]
    written: list[Path] = []
    for payload in payloads:
        path = event_path(payload, target)
        body = payload.read_text(encoding="utf-8")
        message_id = _existing_message_id(path) or _existing_message_id(event_path(payload, events_dir))
        event = signed_event(body, secret, message_id=message_id, now=now)
        path.write_text(json.dumps(event, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=".venv/bin/python -m devtools.sam_events",
        description="Re-sign the API Gateway events for sam local invoke with the current time.",
    )
    parser.add_argument("names", nargs="*", help="payloads to sign, e.g. user.created (default: every user.*.json)")
    parser.add_argument("--events-dir", type=Path, default=EVENTS_DIR, help="where the raw payloads are")
    parser.add_argument("--out-dir", type=Path, help="where to write apigw.*.json (default: the events directory)")
    parser.add_argument(
        "--env-vars", type=Path, default=ENV_VARS_FILE, help="sam local --env-vars file with the secret"
    )
    args = parser.parse_args(argv)
    now = datetime.now(tz=UTC)
    try:
        written = resign(
            events_dir=args.events_dir, out_dir=args.out_dir, env_vars_file=args.env_vars, only=args.names, now=now
        )
    except (OSError, ValueError) as error:
        print(f"cannot sign the events: {error}", file=sys.stderr)
        return 2
    valid_until = (now + SIGNATURE_TOLERANCE).strftime("%H:%M:%S UTC")
    for path in written:
        print(f"signed {_shown(path)} (valid until {valid_until})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
