"""HttpRequest reads what API Gateway matched (routeKey), so a named stage or a custom domain's mapping still routes."""

from __future__ import annotations

from social_connections.http_api import HttpRequest

from devtools.testkit.deliveries import http_api_event


def test_the_route_key_not_the_raw_path_names_the_route():
    staged = http_api_event("{}", {}, stage="prod")
    assert staged["rawPath"] == "/prod/webhooks/clerk"
    assert HttpRequest.from_event(staged).route_key == "POST /webhooks/clerk"
    # A custom domain's API mapping (https://hooks.example.com/clerk-sync/webhooks/clerk): rawPath has the base path.
    mapped = http_api_event("{}", {})
    mapped["rawPath"] = "/clerk-sync/webhooks/clerk"
    assert HttpRequest.from_event(mapped).route_key == "POST /webhooks/clerk"


def test_a_missing_or_odd_route_key_matches_nothing():
    event = http_api_event("{}", {})
    del event["routeKey"]
    assert HttpRequest.from_event(event).route_key == ""
    assert HttpRequest.from_event({**event, "routeKey": 7}).route_key == ""
    assert HttpRequest.from_event(http_api_event("{}", {}, route_key="$default")).route_key == "$default"
