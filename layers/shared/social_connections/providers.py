"""The provider mapping: which Clerk OAuth provider strings are which social platform.

This is the only place that knows provider names. To support another platform, add a row.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Platform(StrEnum):
    TWITTER = "twitter"
    INSTAGRAM = "instagram"
    TIKTOK = "tiktok"


# Clerk sends the prefixed form (`oauth_x`) in webhooks; its frontend and some fixtures use the bare form (`x`).
PROVIDER_PLATFORMS: Final[dict[str, Platform]] = {
    "oauth_x": Platform.TWITTER,
    "oauth_twitter": Platform.TWITTER,
    "x": Platform.TWITTER,
    "twitter": Platform.TWITTER,
    "oauth_instagram": Platform.INSTAGRAM,
    "instagram": Platform.INSTAGRAM,
    "oauth_tiktok": Platform.TIKTOK,
    "tiktok": Platform.TIKTOK,
    "oauth_custom_tiktok": Platform.TIKTOK,
}


def platform_for(provider: str | None) -> Platform | None:
    """The platform a Clerk provider string maps to, or None for providers this service ignores (google, github...)."""
    if not provider:
        return None
    return PROVIDER_PLATFORMS.get(provider.strip().lower())
