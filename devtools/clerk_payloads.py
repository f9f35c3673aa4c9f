"""Clerk webhook payloads shaped like the documented ones, for tests, the demo and the sender.

The envelope and user fields follow Clerk's OpenAPI examples (`user.updated`, `user.deleted`); external accounts
follow the `ExternalAccountWithVerification` schema. Values are invented.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

PROVIDERS = {"twitter": "oauth_x", "instagram": "oauth_instagram", "tiktok": "oauth_custom_tiktok"}


def external_account(
    account_id: str,
    provider: str,
    *,
    updated_at: int,
    status: str | None = "verified",
    provider_user_id: str | None = None,
    username: str | None = None,
    email: str = "",
    scopes: str = "",
    legacy_google_shape: bool = False,
) -> dict[str, Any]:
    """One `external_accounts[]` entry; `legacy_google_shape` gives the `google_account` object with an idn_ id."""
    entry: dict[str, Any] = {
        "object": "google_account" if legacy_google_shape else "external_account",
        "id": account_id,
        "provider": provider,
        "identification_id": "idn_" + account_id.removeprefix("eac_"),
        "provider_user_id": provider_user_id or str(zlib.crc32(account_id.encode())),
        "approved_scopes": scopes,
        "email_address": email,
        "email_address_verified": None,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "image_url": "https://img.clerk.com/placeholder",
        "username": username,
        "phone_number": None,
        "public_metadata": {},
        "label": None,
        "created_at": updated_at,
        "updated_at": updated_at,
        "verification": None
        if status is None
        else {
            "object": "verification_oauth",
            "status": status,
            "strategy": provider if provider.startswith("oauth_") else f"oauth_{provider}",
            "attempts": None,
            "expire_at": updated_at + 600_000,
        },
    }
    if legacy_google_shape:
        entry["external_account_id"] = "eac_" + account_id.removeprefix("idn_")
    return entry


def user_event(event_type: str, user_id: str, *, updated_at: int, accounts: list[Any] | None = None) -> dict[str, Any]:
    """A user.created / user.updated envelope with a full user snapshot."""
    return {
        "event_attributes": {"http_request": {"client_ip": "192.0.2.10", "user_agent": "Mozilla/5.0"}},
        "object": "event",
        "type": event_type,
        "instance_id": "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
        "timestamp": updated_at,
        "data": {
            "object": "user",
            "id": user_id,
            "external_id": None,
            "primary_email_address_id": "idn_primary",
            "primary_phone_number_id": None,
            "primary_web3_wallet_id": None,
            "username": "ada",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "image_url": "https://img.clerk.com/placeholder",
            "has_image": True,
            "public_metadata": {},
            "private_metadata": None,
            "unsafe_metadata": {},
            "email_addresses": [
                {
                    "id": "idn_primary",
                    "object": "email_address",
                    "email_address": "ada@example.com",
                    "reserved": False,
                    "verification": {"status": "verified", "strategy": "email_code"},
                    "linked_to": [],
                }
            ],
            "phone_numbers": [],
            "web3_wallets": [],
            "passkeys": [],
            "password_enabled": False,
            "two_factor_enabled": False,
            "totp_enabled": False,
            "backup_code_enabled": False,
            "mfa_enabled_at": None,
            "mfa_disabled_at": None,
            "external_accounts": accounts or [],
            "saml_accounts": [],
            "enterprise_accounts": [],
            "last_sign_in_at": updated_at,
            "banned": False,
            "locked": False,
            "lockout_expires_in_seconds": None,
            "verification_attempts_remaining": None,
            "updated_at": updated_at,
            "created_at": 1716883200000,
            "delete_self_enabled": True,
            "create_organization_enabled": True,
            "last_active_at": updated_at,
            "legal_accepted_at": None,
        },
    }


def deleted_event(user_id: str, *, timestamp: int = 1716883200000) -> dict[str, Any]:
    return {
        "event_attributes": {"http_request": {"client_ip": "192.0.2.10", "user_agent": "Mozilla/5.0"}},
        "object": "event",
        "type": "user.deleted",
        "instance_id": "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
        "timestamp": timestamp,
        "data": {"object": "user", "id": user_id, "deleted": True},
    }


def to_body(payload: dict[str, Any]) -> str:
    """Serialize like a sender would; the signature covers exactly these bytes."""
    return json.dumps(payload, separators=(",", ":"))
