"""The connections API's request and response bodies (pydantic): what the code validates and answers, and what
docs/openapi.json is generated from (`python -m devtools.openapi`), so the document cannot drift from the code."""

from __future__ import annotations

from typing import Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, StrictBool, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from social_connections.model import ConnectionStatus, StoredConnection
from social_connections.providers import Platform

# What the table keeps of an error text (storage cuts at 500): a longer one is refused rather than cut.
MAX_ERROR_TEXT: Final = 500
USER_ID_PATTERN: Final = r"^user_[A-Za-z0-9_]{1,100}$"
ACCOUNT_ID_PATTERN: Final = r"^[A-Za-z0-9_]{1,128}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Connection(_Body):
    """One linked social account, as apps see it: no e-mail address or names."""

    platform: Platform
    externalAccountId: str
    status: ConnectionStatus
    username: str | None
    imageUrl: str | None
    connectedAt: str | None
    updatedAt: str | None
    errorCount: int = Field(ge=0)
    lastError: str | None

    @classmethod
    def of(cls, row: StoredConnection) -> Connection:
        return cls(
            platform=row.key.platform,
            externalAccountId=row.key.external_account_id,
            status=row.status,
            username=row.details.platform_username,
            imageUrl=row.details.image_url,
            connectedAt=row.times.connected_at,
            updatedAt=row.times.updated_at,
            errorCount=row.error_count,
            lastError=row.times.last_error,
        )


class ConnectionList(_Body):
    userId: str
    connections: list[Connection]


class PublishResult(_Body):
    """What a service reports after posting: `{"ok": true}` or `{"ok": false, "error": "..."}`."""

    ok: StrictBool
    error: str | None = Field(default=None, min_length=1, max_length=MAX_ERROR_TEXT)

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        # The rule below (error exactly when ok is false) stated in the schema itself, for clients and schemathesis.
        error = {"type": "string", "minLength": 1, "maxLength": MAX_ERROR_TEXT}
        return {
            "title": "PublishResult",
            "oneOf": [
                {"type": "object", "properties": {"ok": {"const": True}}, "required": ["ok"]},
                {"type": "object", "properties": {"ok": {"const": False}, "error": error}, "required": ["ok", "error"]},
            ],
            "unevaluatedProperties": False,
        }

    @model_validator(mode="after")
    def _error_only_on_failure(self) -> Self:
        if self.ok and self.error is not None:
            raise ValueError("error is only allowed when ok is false")
        if not self.ok and self.error is None:
            raise ValueError("error is required when ok is false")
        return self


class ResultRecorded(_Body):
    userId: str
    platform: Platform
    externalAccountId: str
    recorded: Literal["success", "failure"]


class AccessToken(_Body):
    """A fresh OAuth access token from Clerk; never stored, never logged, answered with Cache-Control: no-store."""

    externalAccountId: str
    token: str = Field(repr=False)
    expiresAt: str | None
    scopes: list[str]


class ApiError(_Body):
    error: str
    # True when only the user can fix it: the account must be connected again in the app (Clerk refused a token).
    reconnect: bool | None = None


class GatewayMessage(_Body):
    """API Gateway's own answers (no token, wrong signature, throttled): its `{"message": ...}` body."""

    message: str
