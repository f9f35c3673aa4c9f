"""The Clerk client's settings and its rate ceiling, without a network (the HTTP paths: tests/integration)."""

from __future__ import annotations

import pytest
from social_connections.clerk_api import RateCeiling
from social_connections.clerk_settings import DEFAULT_API_URL, DEFAULT_MAX_REQUESTS_PER_10S, ClerkApiSettings
from social_connections.settings import SettingsError


def test_defaults_and_values_are_read():
    settings = ClerkApiSettings.from_environment({"CLERK_SECRET_KEY": " sk_test_1 "})
    assert (settings.api_url, settings.max_requests_per_10s) == (DEFAULT_API_URL, DEFAULT_MAX_REQUESTS_PER_10S)
    assert settings.secret_key() == "sk_test_1"
    custom = ClerkApiSettings.from_environment(
        {
            "CLERK_SECRET_KEY_ID": "arn:x",
            "CLERK_API_URL": "http://127.0.0.1:9/v1",
            "CLERK_API_MAX_REQUESTS_PER_10S": "9",
        },
    )
    assert (custom.api_url, custom.max_requests_per_10s, custom.secret_key_id) == ("http://127.0.0.1:9/v1", 9, "arn:x")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "neither CLERK_SECRET_KEY nor CLERK_SECRET_KEY_ID is set"),
        ({"CLERK_SECRET_KEY": "k", "CLERK_API_MAX_REQUESTS_PER_10S": "many"}, "CLERK_API_MAX_REQUESTS_PER_10S must be"),
        ({"CLERK_SECRET_KEY": "k", "CLERK_API_MAX_REQUESTS_PER_10S": "0"}, "CLERK_API_MAX_REQUESTS_PER_10S must be"),
        ({"CLERK_SECRET_KEY": "k", "CLERK_API_URL": "api.clerk.com"}, "CLERK_API_URL must be an http"),
    ],
)
def test_bad_settings_name_the_variable(environ, message):
    with pytest.raises(SettingsError, match=message):
        ClerkApiSettings.from_environment(environ)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_ceiling_lets_the_limit_through_per_ten_seconds_then_waits_for_the_window():
    time = FakeTime()
    ceiling = RateCeiling(3, clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        ceiling.acquire()
    assert time.slept == []
    time.now = 4.0
    ceiling.acquire()
    assert time.slept == [pytest.approx(6.0)]
    # The three starts at 0 s have left the window: two more go at once, the next waits for the 10 s start to leave.
    ceiling.acquire()
    ceiling.acquire()
    assert time.slept == [pytest.approx(6.0)]
    ceiling.acquire()
    assert time.slept == [pytest.approx(6.0), pytest.approx(10.0)]
