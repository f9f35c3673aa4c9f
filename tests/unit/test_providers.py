"""The provider mapping as Clerk sends providers today, and PROVIDER_ALIASES checked once at cold start."""

from __future__ import annotations

import pytest
from social_connections.providers import (
    DEFAULT_PROVIDER_ALIASES,
    Platform,
    ProviderAliasError,
    ProviderMap,
    parse_provider_aliases,
)
from social_connections.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("provider", "platform"),
    [
        ("oauth_x", Platform.TWITTER),
        ("oauth_twitter", Platform.TWITTER),  # X's deprecated OAuth 1.0a connection
        ("oauth_tiktok", Platform.TIKTOK),
        ("oauth_instagram", Platform.INSTAGRAM),
        ("oauth_custom_instagram", None),  # custom providers come only through aliases
        ("oauth_google", None),
    ],
)
def test_built_in_providers(provider, platform):
    assert ProviderMap().platform_for(provider) is platform


def test_the_default_aliases_map_the_custom_instagram_and_tiktok_providers():
    defaults = ProviderMap(parse_provider_aliases(DEFAULT_PROVIDER_ALIASES))
    assert defaults.platform_for("oauth_custom_instagram") is Platform.INSTAGRAM
    assert defaults.platform_for("oauth_custom_tiktok") is Platform.TIKTOK
    assert defaults.platform_for("oauth_custom_other") is None


def test_aliases_are_pairs_separated_by_commas_or_spaces():
    assert parse_provider_aliases(" oauth_custom_ig=instagram, OAUTH_CUSTOM_TT=TikTok\noauth_custom_x2=twitter ") == {
        "oauth_custom_ig": Platform.INSTAGRAM,
        "oauth_custom_tt": Platform.TIKTOK,
        "oauth_custom_x2": Platform.TWITTER,
    }
    assert parse_provider_aliases("") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("oauth_custom_ig", "expected oauth_custom_<key>=<platform>"),
        ("oauth_google=instagram", "expected oauth_custom_<key>=<platform>"),
        ("oauth_custom_ig=facebook", "the platform must be one of twitter, instagram, tiktok"),
        ("oauth_custom_a=tiktok,oauth_custom_a=instagram", "mapped to two platforms"),
    ],
)
def test_bad_aliases_say_what_is_wrong(text, message):
    with pytest.raises(ProviderAliasError, match=message):
        parse_provider_aliases(text)


def test_settings_read_provider_aliases_and_name_the_variable_when_wrong():
    unset = Settings.from_environment({"TABLE_NAME": "t"})
    assert dict(unset.provider_aliases) == parse_provider_aliases(DEFAULT_PROVIDER_ALIASES)
    assert Settings.from_environment({"TABLE_NAME": "t", "PROVIDER_ALIASES": ""}).provider_aliases == ()
    custom = Settings.from_environment({"TABLE_NAME": "t", "PROVIDER_ALIASES": "oauth_custom_ig=instagram"})
    assert custom.provider_aliases == (("oauth_custom_ig", Platform.INSTAGRAM),)
    with pytest.raises(SettingsError, match=r"PROVIDER_ALIASES: .*oauth_custom_ig=nowhere"):
        Settings.from_environment({"TABLE_NAME": "t", "PROVIDER_ALIASES": "oauth_custom_ig=nowhere"})
