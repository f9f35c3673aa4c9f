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
    # Signing secret(s) given directly (local runs, tests); else the Secrets Manager id that holds them.
    webhook_secret: str = ""
    webhook_secret_id: str = ""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        table_name = env.get("TABLE_NAME", "").strip()
        if not table_name:
            raise SettingsError("TABLE_NAME is not set")
        return cls(
            table_name=table_name,
            error_threshold=_positive_int(env, "ERROR_THRESHOLD", DEFAULT_ERROR_THRESHOLD),
            webhook_secret=env.get("CLERK_WEBHOOK_SECRET", "").strip(),
            webhook_secret_id=env.get("CLERK_WEBHOOK_SECRET_ID", "").strip(),
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
