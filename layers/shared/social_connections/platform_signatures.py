"""Pure checks of what Meta and TikTok send: Meta's `signed_request` and TikTok's `TikTok-Signature` header.

Both are HMAC-SHA256 with a secret the platform shares with us (Meta's app secret, TikTok's client secret), compared
in constant time. Several secrets (spaces or commas between them) are all tried, so a rotation loses nothing.
No I/O and no clock here: the caller passes the secrets and the current time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

SIGNED_REQUEST_ALGORITHM: Final = "HMAC-SHA256"
TIKTOK_TOLERANCE_SECONDS: Final = 300
CONFIRMATION_CODE_HEX: Final = 20
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_PLATFORM_USER_ID: Final = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_SEPARATORS: Final = re.compile(r"[\s,]+")


class CallbackSignatureError(Exception):
    """Unsigned, wrongly signed, stale or of another algorithm: answered 401, nothing written."""


class CallbackPayloadError(Exception):
    """Correctly signed, but not what the platform documents: answered 400, nothing written."""


class CallbackSecretError(Exception):
    """No usable secret is configured or readable: our fault, answered 5xx so the platform retries."""


def secret_list(value: str) -> list[bytes]:
    """The configured secrets, each as the HMAC key the platform uses (its text as UTF-8)."""
    secrets = [part.encode() for part in _SEPARATORS.split(value) if part]
    if not secrets:
        raise CallbackSecretError("no secret configured")
    return secrets


# ---- Meta: signed_request = base64url(signature) "." base64url(JSON payload) ---------------------------------------


@dataclass(frozen=True, slots=True)
class MetaDeletionRequest:
    user_id: str
    issued_at: int | None
    # Derived from the signed payload with the secret: the same request always gets the same, unguessable code.
    confirmation_code: str


def _b64url(text: str) -> bytes:
    if not _BASE64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_signed_request(signed_request: str, secrets: Sequence[bytes]) -> MetaDeletionRequest:
    """Check the signature over the encoded payload, then read `user_id` and `issued_at` from it."""
    encoded_signature, dot, encoded_payload = signed_request.strip().partition(".")
    try:
        signature = _b64url(encoded_signature)
        payload_bytes = _b64url(encoded_payload)
    except (ValueError, binascii.Error):
        raise CallbackSignatureError("signed_request is not two base64url parts") from None
    if not dot or len(signature) != hashlib.sha256().digest_size:
        raise CallbackSignatureError("signed_request has no HMAC-SHA256 signature")
    message = encoded_payload.encode("ascii")
    secret = next(
        (key for key in secrets if hmac.compare_digest(hmac.new(key, message, hashlib.sha256).digest(), signature)),
        None,
    )
    if secret is None:
        raise CallbackSignatureError("no matching signature")
    try:
        payload = json.loads(payload_bytes)
    except (ValueError, UnicodeDecodeError):
        raise CallbackPayloadError("the signed payload is not JSON") from None
    if not isinstance(payload, dict):
        raise CallbackPayloadError("the signed payload is not an object")
    algorithm = payload.get("algorithm")
    if not isinstance(algorithm, str) or algorithm.upper() != SIGNED_REQUEST_ALGORITHM:
        raise CallbackSignatureError("unsupported signature algorithm")
    user_id = payload.get("user_id")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if not isinstance(user_id, str) or not _PLATFORM_USER_ID.fullmatch(user_id):
        raise CallbackPayloadError("the signed payload has no valid user_id")
    issued_at = payload.get("issued_at")
    if issued_at is not None and (not isinstance(issued_at, int) or isinstance(issued_at, bool) or issued_at < 0):
        raise CallbackPayloadError("issued_at is not a time in seconds")
    code = hmac.new(secret, b"confirmation-code." + message, hashlib.sha256).hexdigest()[:CONFIRMATION_CODE_HEX]
    return MetaDeletionRequest(user_id=user_id, issued_at=issued_at, confirmation_code=code)


def is_confirmation_code(text: str) -> bool:
    return len(text) == CONFIRMATION_CODE_HEX and all(char in "0123456789abcdef" for char in text)


# ---- TikTok: TikTok-Signature: t=<unix seconds>,s=<hex HMAC-SHA256 of "<t>.<raw body>"> -------------------------


@dataclass(frozen=True, slots=True)
class TikTokEvent:
    event: str
    user_openid: str
    create_time: int
    # `content` is a JSON string; for authorization.removed it holds the reason code (0-5).
    reason: int | None


def verify_tiktok_signature(body: bytes, header: str | None, secrets: Sequence[bytes], now: float) -> None:
    """Raise CallbackSignatureError unless one secret signed `<t>.<body>` and t is within the tolerance of now."""
    timestamp, signatures = _signature_header(header or "")
    if abs(now - int(timestamp)) > TIKTOK_TOLERANCE_SECONDS:
        raise CallbackSignatureError("timestamp outside the tolerance")
    message = timestamp.encode() + b"." + body
    for key in secrets:
        expected = hmac.new(key, message, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, candidate) for candidate in signatures):
            return
    raise CallbackSignatureError("no matching signature")


def _signature_header(header: str) -> tuple[str, list[str]]:
    timestamp = ""
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamp = value.strip()
        elif name == "s":
            signatures.append(value.strip().lower())
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12) or not signatures:
        raise CallbackSignatureError("missing or malformed TikTok-Signature header")
    return timestamp, signatures


def parse_tiktok_event(body: bytes) -> TikTokEvent:
    """The documented envelope: client_key, event, create_time (s), user_openid, content (a JSON string)."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise CallbackPayloadError("the body is not JSON") from None
    if not isinstance(envelope, dict):
        raise CallbackPayloadError("the body is not an object")
    event, openid, created = envelope.get("event"), envelope.get("user_openid"), envelope.get("create_time")
    if not isinstance(event, str) or not event or len(event) > 128:
        raise CallbackPayloadError("event is missing")
    if not isinstance(openid, str) or not _PLATFORM_USER_ID.fullmatch(openid):
        raise CallbackPayloadError("user_openid is missing or malformed")
    if not isinstance(created, int) or isinstance(created, bool) or created < 0:
        raise CallbackPayloadError("create_time is not a time in seconds")
    return TikTokEvent(event=event, user_openid=openid, create_time=created, reason=_reason(envelope.get("content")))


def _reason(content: object) -> int | None:
    if not isinstance(content, str):
        return None
    try:
        decoded = json.loads(content)
    except ValueError:
        return None
    reason = decoded.get("reason") if isinstance(decoded, dict) else None
    return reason if isinstance(reason, int) and not isinstance(reason, bool) else None
