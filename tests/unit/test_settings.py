"""Settings are validated once, at cold start: a bad value names its variable instead of failing every event."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from social_connections.settings import DEFAULT_ERROR_THRESHOLD, Settings, SettingsError, require_event_bus

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_and_values_are_read():
    settings = Settings.from_environment({"TABLE_NAME": " t ", "ERROR_THRESHOLD": "5", "CLERK_WEBHOOK_SECRET": "w"})
    assert (settings.table_name, settings.error_threshold, settings.webhook_secret) == ("t", 5, "w")
    assert Settings.from_environment({"TABLE_NAME": "t"}).error_threshold == DEFAULT_ERROR_THRESHOLD


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "TABLE_NAME is not set"),
        ({"TABLE_NAME": "  "}, "TABLE_NAME is not set"),
        ({"TABLE_NAME": "t", "ERROR_THRESHOLD": "abc"}, "ERROR_THRESHOLD must be an integer >= 1, got 'abc'"),
        ({"TABLE_NAME": "t", "ERROR_THRESHOLD": "0"}, "ERROR_THRESHOLD must be an integer >= 1, got 0"),
        ({"TABLE_NAME": "t", "ERROR_THRESHOLD": "2.5"}, "ERROR_THRESHOLD must be an integer >= 1"),
    ],
)
def test_bad_settings_name_the_variable(environ, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_environment(environ)


def test_the_stream_function_needs_a_bus():
    with pytest.raises(SettingsError, match="EVENT_BUS_NAME is not set"):
        require_event_bus(Settings.from_environment({"TABLE_NAME": "t", "EVENT_BUS_NAME": " "}))
    require_event_bus(Settings.from_environment({"TABLE_NAME": "t", "EVENT_BUS_NAME": "bus"}))


def test_the_webhook_needs_a_secret_source():
    with pytest.raises(SettingsError, match="CLERK_WEBHOOK_SECRET"):
        Settings.from_environment({"TABLE_NAME": "t"}).require_webhook_secret_source()
    Settings.from_environment({"TABLE_NAME": "t", "CLERK_WEBHOOK_SECRET_ID": "arn"}).require_webhook_secret_source()


def test_a_secrets_manager_id_wins_over_a_plaintext_secret_and_says_so():
    both = Settings.from_environment(
        {"TABLE_NAME": "t", "CLERK_WEBHOOK_SECRET": "whsec_x", "CLERK_WEBHOOK_SECRET_ID": "a"}
    )
    assert (both.webhook_secret, both.webhook_secret_id, both.plaintext_secret_ignored) == ("", "a", True)
    # sam local sets CLERK_WEBHOOK_SECRET_ID to "" (events/env.json): the direct secret is then the source.
    local = Settings.from_environment(
        {"TABLE_NAME": "t", "CLERK_WEBHOOK_SECRET": "whsec_x", "CLERK_WEBHOOK_SECRET_ID": ""}
    )
    assert (local.webhook_secret, local.plaintext_secret_ignored) == ("whsec_x", False)
    deployed = Settings.from_environment(
        {"TABLE_NAME": "t", "CLERK_WEBHOOK_SECRET": " ", "CLERK_WEBHOOK_SECRET_ID": "a"}
    )
    assert deployed.plaintext_secret_ignored is False  # the template declares it empty: nothing to warn about


@pytest.mark.parametrize(
    ("module", "environ"),
    [
        ("functions.connection_stream.app", {"TABLE_NAME": "t", "ERROR_THRESHOLD": "abc", "EVENT_BUS_NAME": "b"}),
        ("functions.connection_stream.app", {"TABLE_NAME": "t"}),
        ("functions.clerk_webhook.app", {"TABLE_NAME": "t"}),
        ("functions.reconcile.app", {"TABLE_NAME": "t"}),
    ],
)
def test_a_function_with_bad_settings_fails_its_cold_start(module, environ):
    env = {"PATH": "", "PYTHONPATH": f"{ROOT}:{ROOT / 'layers/shared'}", "AWS_DEFAULT_REGION": "us-east-1", **environ}
    completed = subprocess.run(  # noqa: S603 - our own interpreter importing our own module
        [sys.executable, "-c", f"import {module}"], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert completed.returncode != 0
    assert "SettingsError" in completed.stderr
