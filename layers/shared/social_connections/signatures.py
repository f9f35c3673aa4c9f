"""Svix signature verification of Clerk deliveries, on the exact raw body, with every configured secret.

`standardwebhooks` is the verification core that `svix.Webhook` wraps; using it directly keeps the svix API client
(and its imports) out of the Lambda. It reads only `webhook-*` headers, so `svix-*` ones are mapped onto them here.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import Final, NamedTuple

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError

HEADER_NAMES: Final = ("id", "timestamp", "signature")
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the format prefix, not a secret
_SECRET_SEPARATORS = re.compile(r"[\s,]+")


class InvalidSignatureError(Exception):
    """Missing or malformed headers, a timestamp outside the tolerance, or no matching signature."""


class SecretConfigurationError(Exception):
    """No usable signing secret is configured: our fault, never the sender's."""


class DeliveryHeaders(NamedTuple):
    message_id: str
    timestamp: str
    signature: str


def delivery_headers(headers: Mapping[str, str]) -> DeliveryHeaders:
    """The svix-* headers, or their Standard Webhooks aliases (svix-* win, as in the svix library)."""
    found = _header_values(headers)
    if found is None:  # API Gateway lowercases header names; anything else is looked up again without case
        found = _header_values({name.lower(): value for name, value in headers.items()})
    if found is None:
        raise InvalidSignatureError("missing signature headers")
    return DeliveryHeaders(*found)


def _header_values(headers: Mapping[str, str]) -> tuple[str, str, str] | None:
    message_id, timestamp, signature = (
        headers.get(f"svix-{name}") or headers.get(f"webhook-{name}") for name in HEADER_NAMES
    )
    if message_id and timestamp and signature:
        return message_id, timestamp, signature
    return None


class SignatureVerifier:
    """Verifies against each configured secret in turn, so a rotation never drops a delivery."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self._webhooks = [Webhook(secret) for secret in secrets]

    @classmethod
    def from_config(cls, value: str) -> SignatureVerifier:
        """Secrets separated by spaces or commas, each with or without the `whsec_` prefix."""
        secrets = [part for part in _SECRET_SEPARATORS.split(value) if part]
        if not secrets:
            raise SecretConfigurationError("no webhook signing secret configured")
        try:
            for secret in secrets:
                # standardwebhooks decodes leniently (skipping bad characters), which would hide a mistyped secret.
                key = secret.removeprefix(SECRET_PREFIX)
                base64.b64decode(key + "=" * (-len(key) % 4), validate=True)
            return cls(secrets)
        except (EmptyWebhookSecretError, ValueError) as error:
            # The message would not contain the secret, but say nothing about it at all to be sure.
            raise SecretConfigurationError("a configured webhook signing secret is not valid base64") from error

    def verify(self, body: bytes, headers: DeliveryHeaders) -> None:
        """Raise InvalidSignatureError unless one secret signed `body` with these headers within ±5 minutes."""
        standard_headers = {
            "webhook-id": headers.message_id,
            "webhook-timestamp": headers.timestamp,
            "webhook-signature": headers.signature,
        }
        for webhook in self._webhooks:
            try:
                webhook.verify(body, standard_headers, json_parse=False)
            except (WebhookVerificationError, ValueError):
                # ValueError covers binascii.Error and malformed `v1,...` entries, which the library does not wrap.
                continue
            return
        raise InvalidSignatureError("no matching signature")
