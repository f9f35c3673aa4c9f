"""The functions' configuration, read from the environment and validated once, at cold start.

A wrong value fails the function's start with a message naming the variable, instead of failing every event later.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

DEFAULT_ERROR_THRESHOLD: Final = 3


class SettingsError(ValueError):
    """A variable is missing or malformed: the deployment's fault, reported at start."""


@dataclass(frozen=True, slots=True)
class Settings:
    table_name: str
    error_threshold: int = DEFAULT_ERROR_THRESHOLD
    # Signing secret(s) given directly (local runs, tests), used only while no Secrets Manager id is set.
    webhook_secret: str = ""
    webhook_secret_id: str = ""
    # A direct secret was set next to an id and dropped: the handler warns at cold start (never with the value).
    plaintext_secret_ignored: bool = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        table_name = env.get("TABLE_NAME", "").strip()
        if not table_name:
            raise SettingsError("TABLE_NAME is not set")
        secret, secret_id = env.get("CLERK_WEBHOOK_SECRET", "").strip(), env.get("CLERK_WEBHOOK_SECRET_ID", "").strip()
        return cls(
            table_name=table_name,
            error_threshold=_positive_int(env, "ERROR_THRESHOLD", DEFAULT_ERROR_THRESHOLD),
            # The deployed source wins: a plaintext copy left in the environment must not silently replace it.
            webhook_secret="" if secret_id else secret,
            webhook_secret_id=secret_id,
            plaintext_secret_ignored=bool(secret and secret_id),
        )

    def require_webhook_secret_source(self) -> None:
        """The webhook cannot verify anything without a secret or the id of one."""
        if not (self.webhook_secret or self.webhook_secret_id):
            raise SettingsError("neither CLERK_WEBHOOK_SECRET nor CLERK_WEBHOOK_SECRET_ID is set")


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
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
