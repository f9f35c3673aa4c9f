"""The functions' configuration, read from the environment and validated once, at cold start.

A wrong value fails the function's start with a message naming the variable, instead of failing every event later.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final, NamedTuple

from social_connections.providers import (
    DEFAULT_PROVIDER_ALIASES,
    Platform,
    ProviderAliasError,
    ProviderMap,
    parse_provider_aliases,
)

DEFAULT_ERROR_THRESHOLD: Final = 3


class SettingsError(ValueError):
    """A variable is missing or malformed: the deployment's fault, reported at start."""


class Settings(NamedTuple):
    table_name: str
    error_threshold: int = DEFAULT_ERROR_THRESHOLD
    # Signing secret(s) given directly (local runs, tests), used only while no Secrets Manager id is set.
    webhook_secret: str = ""
    webhook_secret_id: str = ""
    # A direct secret was set next to an id and dropped: the handler warns at cold start (never with the value).
    plaintext_secret_ignored: bool = False
    # Custom provider -> platform pairs from PROVIDER_ALIASES (unset: the template's default pairs).
    provider_aliases: tuple[tuple[str, Platform], ...] = ()
    # The platform callbacks' secrets, given directly (local runs, tests) or as Secrets Manager ids.
    meta_app_secret: str = ""
    meta_app_secret_id: str = ""
    tiktok_client_secret: str = ""
    tiktok_client_secret_id: str = ""
    # Where Meta's status URLs point (a custom domain); empty: the host the request came to.
    public_base_url: str = ""
    # The EventBridge bus that receives `Connection Status Changed` events (the stream function's).
    event_bus_name: str = ""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        table_name = env.get("TABLE_NAME", "").strip()
        if not table_name:
            raise SettingsError("TABLE_NAME is not set")
        secret, secret_id = env.get("CLERK_WEBHOOK_SECRET", "").strip(), env.get("CLERK_WEBHOOK_SECRET_ID", "").strip()
        return cls(
            table_name=table_name,
            error_threshold=positive_int(env, "ERROR_THRESHOLD", DEFAULT_ERROR_THRESHOLD),
            # The deployed source wins: a plaintext copy left in the environment must not silently replace it.
            webhook_secret="" if secret_id else secret,
            webhook_secret_id=secret_id,
            plaintext_secret_ignored=bool(secret and secret_id),
            provider_aliases=_provider_aliases(env),
            meta_app_secret=env.get("META_APP_SECRET", "").strip(),
            meta_app_secret_id=env.get("META_APP_SECRET_ID", "").strip(),
            tiktok_client_secret=env.get("TIKTOK_CLIENT_SECRET", "").strip(),
            tiktok_client_secret_id=env.get("TIKTOK_CLIENT_SECRET_ID", "").strip(),
            public_base_url=env.get("PUBLIC_BASE_URL", "").strip().rstrip("/"),
            event_bus_name=env.get("EVENT_BUS_NAME", "").strip(),
        )

    def require_webhook_secret_source(self) -> None:
        """The webhook cannot verify anything without a secret or the id of one."""
        if not (self.webhook_secret or self.webhook_secret_id):
            raise SettingsError("neither CLERK_WEBHOOK_SECRET nor CLERK_WEBHOOK_SECRET_ID is set")


def require_event_bus(settings: Settings) -> None:
    """The stream function cannot publish status changes without a bus: refused at its start, not per record."""
    if not settings.event_bus_name:
        raise SettingsError("EVENT_BUS_NAME is not set")


def positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    """An integer >= 1 from the environment, the default when unset; SettingsError naming the variable otherwise."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        number = int(text)
    except ValueError:
        raise SettingsError(f"{name} must be an integer >= 1, got {text!r}") from None
    if number < 1:
        raise SettingsError(f"{name} must be an integer >= 1, got {number}")
    return number


def provider_map(environ: Mapping[str, str] | None = None) -> ProviderMap:
    """The providers PROVIDER_ALIASES asks for (the operator's command, outside a Lambda); SettingsError if wrong."""
    return ProviderMap(dict(_provider_aliases(os.environ if environ is None else environ)))


def _provider_aliases(env: Mapping[str, str]) -> tuple[tuple[str, Platform], ...]:
    text = env.get("PROVIDER_ALIASES")
    try:
        aliases = parse_provider_aliases(DEFAULT_PROVIDER_ALIASES if text is None else text)
    except ProviderAliasError as error:
        raise SettingsError(f"PROVIDER_ALIASES: {error}") from None
    return tuple(sorted(aliases.items()))
