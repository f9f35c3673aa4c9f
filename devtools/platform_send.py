"""Sign and send what Meta and TikTok send to the platform callbacks: `python -m devtools.platform_send`.

- `meta-deletion --user-id ID`: a data-deletion request, `signed_request` signed with META_APP_SECRET as Meta does.
- `meta-status CODE`: GET the status URL of a request.
- `tiktok-deauthorize --open-id ID [--reason N]`: an `authorization.removed` event signed with TIKTOK_CLIENT_SECRET.
Against a running `make dev` nothing else is needed: its address comes from the stack's state file and its local
secrets from its Secrets Manager (moto). `--base-url`, `--secret`, or exported META_APP_SECRET / TIKTOK_CLIENT_SECRET
take precedence.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Final

import boto3
from social_connections.cli.local_stack import NoLocalStackError, read_state

from devtools.testkit.aws import DUMMY_AWS_ENVIRONMENT

DEFAULT_BASE_URL: Final = "http://127.0.0.1:3000"
# The local stack's secrets by variable: moto's Secrets Manager holds them under the template's logical ids.
LOCAL_SECRET_NAMES: Final = {"META_APP_SECRET": "MetaAppSecret", "TIKTOK_CLIENT_SECRET": "TikTokClientSecret"}
META_PATH: Final = "/platforms/meta/data-deletion"
TIKTOK_PATH: Final = "/platforms/tiktok/webhook"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def meta_signed_request(
    secret: str, user_id: str, *, issued_at: int | None = None, algorithm: str = "HMAC-SHA256"
) -> str:
    """`base64url(HMAC-SHA256(encoded payload, app secret)).base64url(payload)`, as Meta builds it."""
    payload = {"algorithm": algorithm, "issued_at": int(time.time()) if issued_at is None else issued_at}
    payload["user_id"] = user_id
    encoded = _b64url(json.dumps(payload, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), encoded.encode("ascii"), hashlib.sha256).digest()
    return f"{_b64url(signature)}.{encoded}"


def meta_form_body(signed_request: str) -> bytes:
    return urllib.parse.urlencode({"signed_request": signed_request}).encode("ascii")


def tiktok_event_body(
    open_id: str, *, event: str = "authorization.removed", reason: int = 1, create_time: int | None = None
) -> bytes:
    """The documented envelope; `content` is itself a JSON string."""
    envelope = {
        "client_key": "local_client_key",
        "event": event,
        "create_time": int(time.time()) if create_time is None else create_time,
        "user_openid": open_id,
        "content": json.dumps({"reason": reason}),
    }
    return json.dumps(envelope).encode()


def tiktok_signature(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The TikTok-Signature header: `t=<unix seconds>,s=<hex HMAC-SHA256 of "<t>.<body>" with the client secret>`."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},s={digest}"


def send(url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One request; any HTTP status is an answer, only connection failures raise."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=body, method="POST" if body is not None else "GET", headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 - scheme checked above
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw or b"{}")
    except ValueError:
        return status, {"raw": raw.decode("utf-8", errors="replace")}


def _secret(given: str | None, variable: str) -> str:
    value = given or os.environ.get(variable, "").strip() or _local_stack_secret(variable)
    if not value:
        raise SystemExit(f"{variable} is not set and no make dev is running: export it, or pass --secret")
    return value


def _local_stack_secret(variable: str) -> str:
    """The running `make dev`'s own secret, read from its moto Secrets Manager; empty when there is none."""
    try:
        state = read_state()
    except NoLocalStackError:
        return ""
    client = boto3.client(
        "secretsmanager",
        endpoint_url=state.endpoint_url,
        region_name=state.region,
        aws_access_key_id=DUMMY_AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
    )
    return str(client.get_secret_value(SecretId=LOCAL_SECRET_NAMES[variable])["SecretString"])


def _base_url(given: str | None) -> str:
    if given:
        return given.rstrip("/")
    try:
        return read_state().webhook_url.split("/webhooks/", 1)[0]
    except NoLocalStackError:
        return DEFAULT_BASE_URL


def _run(args: argparse.Namespace) -> tuple[int, Any]:
    base = _base_url(args.base_url)
    if args.command == "meta-deletion":
        signed = meta_signed_request(_secret(args.secret, "META_APP_SECRET"), args.user_id)
        form = {"content-type": "application/x-www-form-urlencoded"}
        return send(base + META_PATH, body=meta_form_body(signed), headers=form)
    if args.command == "meta-status":
        return send(f"{base}{META_PATH}/{urllib.parse.quote(args.code)}")
    body = tiktok_event_body(args.open_id, event=args.event, reason=args.reason)
    signature = tiktok_signature(_secret(args.secret, "TIKTOK_CLIENT_SECRET"), body)
    return send(
        base + TIKTOK_PATH, body=body, headers={"content-type": "application/json", "tiktok-signature": signature}
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.platform_send", description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", help="the HTTP API (default: the running make dev's)")
    parser.add_argument("--secret", help="signing secret (default: META_APP_SECRET / TIKTOK_CLIENT_SECRET)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("meta-deletion", help="a signed data-deletion request").add_argument("--user-id", required=True)
    commands.add_parser("meta-status", help="a request's status page").add_argument("code")
    tiktok = commands.add_parser("tiktok-deauthorize", help="a signed authorization.removed event")
    tiktok.add_argument("--open-id", required=True)
    tiktok.add_argument("--reason", type=int, default=1, help="TikTok's reason code, 0-5 (default 1)")
    tiktok.add_argument("--event", default="authorization.removed")
    args = parser.parse_args(argv)
    status, answer = _run(args)
    print(status, json.dumps(answer, indent=2))
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
