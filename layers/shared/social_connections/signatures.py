"""Svix signature verification of Clerk deliveries, on the exact raw body, with every configured secret.

The Standard Webhooks scheme (what `svix.Webhook` and `standardwebhooks` implement): HMAC-SHA256 with the base64
secret over `{id}.{timestamp}.{body}`, any `v1,<base64>` entry of the signature header, compared in constant time,
the timestamp within five minutes either way. Written here on the body's bytes rather than through
`standardwebhooks`, whose `verify` decodes the body to text and encodes it again and checks the clock through
datetime: a third of this function's cost on every delivery (docs/performance.md, B2). tests/unit/test_signatures.py
checks it against Svix's published test vector and the real `svix` signer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import time
from collections.abc import Mapping, Sequence
from typing import Final, NamedTuple

HEADER_NAMES: Final = ("id", "timestamp", "signature")
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the format prefix, not a secret
TOLERANCE_SECONDS: Final = 5 * 60
_SECRET_SEPARATORS = re.compile(r"[\s,]+")
_BASE64_NOISE = re.compile(r"[^A-Za-z0-9+/]")


class InvalidSignatureError(Exception):
    """Missing or malformed headers, a timestamp outside the tolerance, or no matching signature."""


class SecretConfigurationError(Exception):
    """No usable signing secret is configured: our fault, never the sender's."""


class DeliveryHeaders(NamedTuple):
    message_id: str
    timestamp: str
    signature: str


def delivery_headers(headers: Mapping[str, str]) -> DeliveryHeaders:
    """The svix-* headers, or their Standard Webhooks aliases (svix-* win, as in the svix library); names match
    without case, and of two names that differ only in case the later one counts."""
    lowered = {name.lower(): value for name, value in headers.items()}
    found = [lowered.get(f"svix-{name}") or lowered.get(f"webhook-{name}") for name in HEADER_NAMES]
    message_id, timestamp, signature = found
    if not (message_id and timestamp and signature):
        raise InvalidSignatureError("missing signature headers")
    return DeliveryHeaders(message_id, timestamp, signature)


class SignatureVerifier:
    """Verifies against each configured secret in turn, so a rotation never drops a delivery."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self._keys = [_key(secret) for secret in secrets]

    @classmethod
    def from_config(cls, value: str) -> SignatureVerifier:
        """Secrets separated by spaces or commas, each with or without the `whsec_` prefix."""
        secrets = [part for part in _SECRET_SEPARATORS.split(value) if part]
        if not secrets:
            raise SecretConfigurationError("no webhook signing secret configured")
        try:
            return cls(secrets)
        except ValueError as error:  # strict base64: a lenient decode would hide a mistyped secret
            # The message would not contain the secret, but say nothing about it at all to be sure.
            raise SecretConfigurationError("a configured webhook signing secret is not valid base64") from error

    def verify(self, body: bytes, headers: DeliveryHeaders) -> None:
        """Raise InvalidSignatureError unless one secret signed `body` with these headers within ±5 minutes."""
        try:
            seconds = float(headers.timestamp)
            signed_at = math.floor(seconds)  # the signed text holds whole seconds, as the signer writes them
        except (ValueError, OverflowError) as error:  # not a number, NaN, infinity
            raise InvalidSignatureError("malformed timestamp") from error
        now = time.time()
        if seconds < now - TOLERANCE_SECONDS or seconds > now + TOLERANCE_SECONDS:
            raise InvalidSignatureError("timestamp outside the tolerance")
        offered = _offered_signatures(headers.signature)
        try:
            prefix = f"{headers.message_id}.{signed_at}.".encode()
        except UnicodeEncodeError as error:  # a lone surrogate in the id: no signer could have signed it
            raise InvalidSignatureError("message id is not text a signer can sign") from error
        for key in self._keys:
            mac = hmac.new(key, prefix, hashlib.sha256)
            mac.update(body)
            expected = mac.digest()
            for signature in offered:
                if hmac.compare_digest(expected, signature):
                    return
        raise InvalidSignatureError("no matching signature")


def _key(secret: str) -> bytes:
    """The HMAC key of one configured secret: its base64 after the optional `whsec_` prefix."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    if not key:
        raise SecretConfigurationError("a configured webhook signing secret is empty")
    return key


def _offered_signatures(header: str) -> list[bytes]:
    """The decoded `v1` entries of a signature header (space-separated `version,base64`); others are ignored."""
    offered = []
    for entry in header.split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            # Lenient as base64 decoders are: characters outside the alphabet (padding too) are dropped first.
            offered.append(base64.b64decode(_BASE64_NOISE.sub("", encoded) + "=="))
        except (binascii.Error, ValueError):
            continue  # a malformed entry is skipped: another may still match
    return offered
