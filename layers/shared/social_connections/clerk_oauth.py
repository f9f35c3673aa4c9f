"""What Clerk's `GET /users/{id}/oauth_access_tokens/{provider}` answers, read into typed values.

The token is a secret: its dataclass field is left out of repr, and nothing here logs or formats it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class OAuthToken:
    """One of a user's OAuth access tokens for a provider, as Clerk just issued or refreshed it."""

    external_account_id: str
    token: str = field(repr=False)
    # Unix seconds, as Clerk gives it; None when the provider's token does not expire (or Clerk does not say).
    expires_at: int | None
    scopes: tuple[str, ...]


def oauth_tokens_from(body: object) -> list[OAuthToken]:
    """The tokens in Clerk's answer (a JSON array); ValueError when it is not that shape."""
    if not isinstance(body, list):
        raise ValueError("not a JSON array")
    return [_token(entry) for entry in body]


def _token(entry: object) -> OAuthToken:
    if not isinstance(entry, dict):
        raise ValueError("an entry is not an object")
    account, token = entry.get("external_account_id"), entry.get("token")
    if not isinstance(account, str) or not isinstance(token, str) or not token:
        raise ValueError("an entry has no external_account_id or token")
    expires = entry.get("expires_at")
    scopes = entry.get("scopes")
    return OAuthToken(
        external_account_id=account,
        token=token,
        expires_at=expires if isinstance(expires, int) and not isinstance(expires, bool) else None,
        scopes=tuple(str(scope) for scope in scopes) if isinstance(scopes, list) else (),
    )


def clerk_error_code(raw: bytes) -> str:
    """The first `errors[].code` of a Clerk error body ("" when there is none); only Clerk's own code, never a value."""
    try:
        body = json.loads(raw)
    except ValueError:
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    code = first.get("code") if isinstance(first, dict) else None
    return code[:100] if isinstance(code, str) else ""
