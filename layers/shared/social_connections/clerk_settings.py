"""How to reach Clerk's Backend API, read from the environment and validated once at start (reconcile, the CLI).

The secret key itself is read only when a client is made (`secret_key()`): given directly in CLERK_SECRET_KEY (local
runs, tests) or, deployed, from the Secrets Manager secret named by CLERK_SECRET_KEY_ID.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final, NamedTuple
from urllib.parse import urlsplit

from social_connections.settings import SettingsError, positive_int

DEFAULT_API_URL: Final = "https://api.clerk.com/v1"
DEFAULT_MAX_REQUESTS_PER_10S: Final = 90
SECRET_MAX_AGE_SECONDS: Final = 300


class ClerkApiSettings(NamedTuple):
    api_url: str = DEFAULT_API_URL
    max_requests_per_10s: int = DEFAULT_MAX_REQUESTS_PER_10S
    secret_key_value: str = ""
    secret_key_id: str = ""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ClerkApiSettings:
        env = os.environ if environ is None else environ
        api_url = env.get("CLERK_API_URL", "").strip() or DEFAULT_API_URL
        if urlsplit(api_url).scheme not in {"http", "https"} or not urlsplit(api_url).hostname:
            raise SettingsError(f"CLERK_API_URL must be an http(s) URL, got {api_url!r}")
        settings = cls(
            api_url=api_url,
            max_requests_per_10s=positive_int(env, "CLERK_API_MAX_REQUESTS_PER_10S", DEFAULT_MAX_REQUESTS_PER_10S),
            secret_key_value=env.get("CLERK_SECRET_KEY", "").strip(),
            secret_key_id=env.get("CLERK_SECRET_KEY_ID", "").strip(),
        )
        if not (settings.secret_key_value or settings.secret_key_id):
            raise SettingsError("neither CLERK_SECRET_KEY nor CLERK_SECRET_KEY_ID is set")
        return settings

    def secret_key(self) -> str:
        """The key itself; SettingsError (naming the variable) when Secrets Manager has no usable value."""
        if self.secret_key_value:
            return self.secret_key_value
        # Imported here: only deployed runs read Secrets Manager.
        from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415

        try:
            value = parameters.get_secret(self.secret_key_id, max_age=SECRET_MAX_AGE_SECONDS)
        except parameters.GetParameterError:
            raise SettingsError("cannot read the Clerk secret key named by CLERK_SECRET_KEY_ID") from None
        if not isinstance(value, str) or not value.strip():
            raise SettingsError("the secret named by CLERK_SECRET_KEY_ID holds no Clerk secret key yet")
        return value.strip()
