"""The local stand-in for Clerk's session tokens and API Gateway's JWT authorizer, for `make dev` and tests.

A fresh RSA key per local stack: it signs RS256 session tokens (as Clerk's Frontend API does), its public half is
served as a JWKS, and `verify` checks what API Gateway's JWT authorizer checks: signature, `iss`, `aud`, `exp`, `nbf`.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_LIFETIME_SECONDS: Final = 3600


class LocalJwtIssuer:
    def __init__(self, issuer: str, audience: str) -> None:
        self.issuer = issuer
        self.audience = audience
        self.key_id = "local-" + secrets.token_hex(4)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def mint(
        self,
        subject: str,
        *,
        issuer: str | None = None,
        audience: str | None = None,
        lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS,
    ) -> str:
        """A session token for `subject`, signed by this stack's key (issuer/audience overridable for tests)."""
        now = int(time.time())
        claims = {
            "sub": subject,
            "iss": issuer or self.issuer,
            "aud": audience or self.audience,
            "azp": "http://localhost:5173",
            "sid": "sess_local",
            "iat": now,
            "nbf": now - 5,
            "exp": now + lifetime_seconds,
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.key_id})

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**public, "kid": self.key_id, "alg": "RS256", "use": "sig"}]}

    def verify(self, authorization: str | None) -> dict[str, Any] | None:
        """The claims of a valid bearer token (the `Bearer ` prefix optional, as API Gateway allows), else None."""
        if not authorization:
            return None
        token = authorization.removeprefix("Bearer ").strip()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "sub"]},
            )
        except jwt.PyJWTError:
            return None
        return claims
