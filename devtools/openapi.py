"""docs/openapi.json, generated from the connections API's code: its routes (`connections_api.ROUTES`), the pydantic
models it validates and answers with, and the input patterns it checks. `python -m devtools.openapi` writes it;
tests/infrastructure/test_openapi.py fails when the checked-in document and the code differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from social_connections.connections_api import ROUTES
from social_connections.connections_api_input import MAX_RESULT_BODY_BYTES
from social_connections.connections_api_models import (
    ACCOUNT_ID_PATTERN,
    USER_ID_PATTERN,
    AccessToken,
    ApiError,
    ConnectionList,
    GatewayMessage,
    PublishResult,
    ResultRecorded,
)
from social_connections.providers import Platform

DOCUMENT_PATH: Final = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"
REF: Final = "#/components/schemas/{model}"
PARAMETERS: Final = {
    "userId": {"type": "string", "pattern": USER_ID_PATTERN},
    "platform": {"type": "string", "enum": [platform.value for platform in Platform]},
    "externalAccountId": {"type": "string", "pattern": ACCOUNT_ID_PATTERN},
}
SECURITY: Final[dict[str, list[dict[str, list[str]]]]] = {"GET /me/connections": [{"clerkSessionToken": []}]}
SUMMARIES: Final = {
    "GET /me/connections": "The signed-in user's connections (Clerk session token)",
    "GET /users/{userId}/connections": "A user's connections (internal, SigV4)",
    "POST /users/{userId}/connections/{platform}/{externalAccountId}/results": "Record a publish success or failure",
    "GET /users/{userId}/connections/{platform}/token": "A fresh OAuth access token from Clerk (never stored)",
}
# Answers per route besides 200; 401/403 are API Gateway's own (JWT or SigV4 refused).
ERRORS: Final = {
    "GET /me/connections": (401, 404, 503),
    "GET /users/{userId}/connections": (400, 403, 404, 503),
    "POST /users/{userId}/connections/{platform}/{externalAccountId}/results": (400, 403, 404, 503),
    "GET /users/{userId}/connections/{platform}/token": (400, 403, 404, 409, 500, 503),
}
OK_MODELS: Final = {
    "GET /me/connections": ConnectionList,
    "GET /users/{userId}/connections": ConnectionList,
    "POST /users/{userId}/connections/{platform}/{externalAccountId}/results": ResultRecorded,
    "GET /users/{userId}/connections/{platform}/token": AccessToken,
}


def _json(model: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model=model)}}},
    }
    if headers:
        answer["headers"] = headers
    return answer


def _error_answer(status: int) -> dict[str, Any]:
    if status in {401, 403}:
        return _json("GatewayMessage", "API Gateway refused the caller" if status == 403 else "No valid session token")
    descriptions = {
        400: "Malformed path, query or body; the reason names the field",
        404: "No such user (or a deleted one), connection or route",
        409: "Clerk has no token for this account: the user must reconnect it (recorded as a failure)",
        500: "The token service is misconfigured (our side)",
        503: "DynamoDB or Clerk unavailable, or Clerk rate limiting: retry after Retry-After seconds",
    }
    retry = {"Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"}, "required": True}}
    return _json("ApiError", descriptions[status], retry if status == 503 else None)


def _operation(route: str) -> dict[str, Any]:
    _, _, path = route.partition(" ")
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": PARAMETERS[name]} for name in names
    ]
    if route.endswith("/token"):
        about = "Which account, when the user has several on the platform"
        parameters.append(
            {
                "name": "externalAccountId",
                "in": "query",
                "required": False,
                "schema": PARAMETERS["externalAccountId"],
                "description": about,
            }
        )
    ok_model = OK_MODELS[route].__name__
    no_store = {"Cache-Control": {"schema": {"type": "string", "const": "no-store"}, "required": True}}
    operation: dict[str, Any] = {
        "summary": SUMMARIES[route],
        "operationId": ROUTES[route].__name__.strip("_"),
        "security": SECURITY.get(route, [{"sigv4": []}]),
        "responses": {"200": _json(ok_model, "OK", no_store if ok_model == "AccessToken" else None)}
        | {str(status): _error_answer(status) for status in ERRORS[route]},
    }
    if parameters:
        operation["parameters"] = parameters
    if route.startswith("POST "):
        body_schema = {"$ref": REF.format(model="PublishResult")}
        operation["requestBody"] = {
            "required": True,
            "description": f"At most {MAX_RESULT_BODY_BYTES} bytes",
            "content": {"application/json": {"schema": body_schema}},
        }
    return operation


def build_document() -> dict[str, Any]:
    answers: tuple[type[BaseModel], ...] = (ConnectionList, ResultRecorded, AccessToken, ApiError, GatewayMessage)
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(model, "serialization") for model in answers]
    _, schemas = models_json_schema([*models, (PublishResult, "validation")], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        method, _, path = route.partition(" ")
        paths.setdefault(path, {})[method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Clerk social connections API",
            "version": "1.0.0",
            "description": "Apps list a user's linked social accounts, report publish results and get fresh OAuth "
            "tokens. See docs/connections-api.md.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {
                "clerkSessionToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "sigv4": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "AWS Signature Version 4 (service execute-api)",
                },
            },
        },
    }


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=False) + "\n"


def main() -> int:
    DOCUMENT_PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {DOCUMENT_PATH.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
