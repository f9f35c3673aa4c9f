"""docs/openapi.json is what the code answers: generated from its models, its routes are the template's."""

from __future__ import annotations

import json

from social_connections.connections_api import ROUTES

from devtools.openapi import DOCUMENT_PATH, build_document, render
from devtools.testkit.template import read_template


def test_the_checked_in_document_matches_the_code():
    assert DOCUMENT_PATH.read_text(encoding="utf-8") == render(), "run `python -m devtools.openapi` and commit"


def test_the_document_is_openapi_31_with_every_route_of_the_function_and_template():
    document = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    assert document["openapi"] == "3.1.0"
    documented = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    template = {f"{r.method} {r.path}" for r in read_template().functions["ConnectionsApiFunction"].routes}
    assert documented == set(ROUTES) == template


def test_token_answers_say_no_store_and_503_says_retry_after():
    token = build_document()["paths"]["/users/{userId}/connections/{platform}/token"]["get"]["responses"]
    assert token["200"]["headers"]["Cache-Control"]["schema"]["const"] == "no-store"
    assert token["503"]["headers"]["Retry-After"]["required"] is True
    assert token["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/ApiError")
