"""The provider mapping: which Clerk OAuth provider strings are which social platform.

Built-in providers are one table here; custom providers (`oauth_custom_<key>`) are mapped by the deployment through
`PROVIDER_ALIASES`, parsed once at cold start (settings) into a ProviderMap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
}

# The template parameter's default: Instagram only works through a custom provider in Clerk today.
DEFAULT_PROVIDER_ALIASES: Final = "oauth_custom_instagram=instagram,oauth_custom_tiktok=tiktok"
CUSTOM_PROVIDER: Final = re.compile(r"oauth_custom_[a-z0-9_-]{1,64}")
_ALIAS_SEPARATORS: Final = re.compile(r"[\s,]+")


class ProviderAliasError(ValueError):
    """PROVIDER_ALIASES is not a list of `oauth_custom_<key>=<platform>` pairs."""


def parse_provider_aliases(text: str) -> dict[str, Platform]:
    """`oauth_custom_a=instagram,oauth_custom_b=tiktok` (commas or spaces) -> {provider: platform}."""
    aliases: dict[str, Platform] = {}
    for pair in _ALIAS_SEPARATORS.split(text.strip()):
        if not pair:
            continue
        provider, separator, platform_name = (part.strip().lower() for part in pair.partition("="))
        if not separator or not CUSTOM_PROVIDER.fullmatch(provider):
            raise ProviderAliasError(f"expected oauth_custom_<key>=<platform>, got {pair!r}")
        try:
            platform = Platform(platform_name)
        except ValueError:
            known = ", ".join(item.value for item in Platform)
            raise ProviderAliasError(f"{pair!r}: the platform must be one of {known}") from None
        if aliases.setdefault(provider, platform) is not platform:
            raise ProviderAliasError(f"{provider} is mapped to two platforms")
    return aliases


class ProviderMap:
    """The built-in providers plus a deployment's aliases; lookups ignore case and surrounding spaces."""

    def __init__(self, aliases: Mapping[str, Platform] | None = None) -> None:
        self._platforms = {**PROVIDER_PLATFORMS, **(aliases or {})}

    def platform_for(self, provider: str | None) -> Platform | None:
        """The platform a provider string maps to, or None for providers this service ignores (google, github...)."""
        if not provider:
            return None
        return self._platforms.get(provider.strip().lower())

    def providers(self) -> dict[str, Platform]:
        return dict(self._platforms)


DEFAULT_PROVIDERS: Final = ProviderMap(parse_provider_aliases(DEFAULT_PROVIDER_ALIASES))


def platform_for(provider: str | None) -> Platform | None:
    """The platform under the default mapping (built-ins and the template's default aliases)."""
    return DEFAULT_PROVIDERS.platform_for(provider)
