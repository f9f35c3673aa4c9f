"""Svix verification on raw bytes; signed by the real svix signer and checked against Svix's test vector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from social_connections import signatures
from social_connections.signatures import (
    InvalidSignatureError,
    SecretConfigurationError,
    SignatureVerifier,
    delivery_headers,
)

from devtools.testkit.deliveries import new_secret, svix_headers

BODY = '{"type":"user.created","data":{"id":"user_1","updated_at":1}}'
# Svix's documented test vector (secret, message, and the signature Svix computed for them).
VECTOR_SECRET = "whsec_plJ3nmyCDGBKInavdOK15jsl"
VECTOR_BODY = b'{"event_type":"ping","data":{"success":true}}'
VECTOR_HEADERS = {
    "svix-id": "msg_loFOjxBNrRLzqYUf",
    "svix-timestamp": "1731705121",
    "svix-signature": "v1,rAvfW3dJ/X/qxhsaXPOyyCGmRKsaKWcsNccKXlIktD0=",
}


@pytest.fixture
def at_vector_time(monkeypatch):
    """The verifier's clock at the vector's signing time, so the HMAC is checked and not only the timestamp."""
    signed_at = int(VECTOR_HEADERS["svix-timestamp"]) + 30
    monkeypatch.setattr(signatures, "time", SimpleNamespace(time=lambda: float(signed_at)))


def test_svix_documented_test_vector_is_accepted_at_its_time(at_vector_time):
    SignatureVerifier.from_config(VECTOR_SECRET).verify(VECTOR_BODY, delivery_headers(VECTOR_HEADERS))


def test_svix_documented_test_vector_fails_with_one_byte_changed(at_vector_time):
    verifier = SignatureVerifier.from_config(VECTOR_SECRET)
    with pytest.raises(InvalidSignatureError):
        verifier.verify(VECTOR_BODY.replace(b"true", b"True"), delivery_headers(VECTOR_HEADERS))


def test_svix_documented_test_vector_is_stale_today():
    verifier = SignatureVerifier.from_config(VECTOR_SECRET)
    with pytest.raises(InvalidSignatureError):
        verifier.verify(VECTOR_BODY, delivery_headers(VECTOR_HEADERS))


def test_valid_signature_passes_and_any_byte_change_fails():
    secret = new_secret()
    verifier = SignatureVerifier.from_config(secret)
    headers = delivery_headers(svix_headers(secret, BODY))
    verifier.verify(BODY.encode(), headers)
    with pytest.raises(InvalidSignatureError):
        verifier.verify(BODY.encode() + b" ", headers)


def test_svix_headers_win_over_webhook_aliases():
    headers = delivery_headers({"svix-id": "a", "svix-timestamp": "1", "svix-signature": "s", "webhook-id": "b"})
    assert headers.message_id == "a"
    aliases = delivery_headers({"Webhook-Id": "b", "WEBHOOK-TIMESTAMP": "2", "webhook-signature": "t"})
    assert (aliases.message_id, aliases.timestamp, aliases.signature) == ("b", "2", "t")


@pytest.mark.parametrize("missing", ["svix-id", "svix-timestamp", "svix-signature"])
def test_missing_or_empty_header(missing):
    headers = {"svix-id": "a", "svix-timestamp": "1", "svix-signature": "s"}
    with pytest.raises(InvalidSignatureError):
        delivery_headers({k: v for k, v in headers.items() if k != missing})
    with pytest.raises(InvalidSignatureError):
        delivery_headers({**headers, missing: ""})


@pytest.mark.parametrize("config", ["", "  ,  ", "whsec_", "whsec_***", "not base64 at all!"])
def test_unusable_secret_configuration_is_our_error(config):
    with pytest.raises(SecretConfigurationError):
        SignatureVerifier.from_config(config)


def test_every_configured_secret_is_tried_and_no_other():
    first, second, unknown = new_secret(), new_secret(), new_secret()
    verifier = SignatureVerifier.from_config(f"{first}\n{second.removeprefix('whsec_')}")
    accepted = []
    for secret in (first, second, unknown):
        try:
            verifier.verify(BODY.encode(), delivery_headers(svix_headers(secret, BODY)))
        except InvalidSignatureError:
            continue
        accepted.append(secret)
    assert accepted == [first, second]


@pytest.mark.parametrize("skew", [timedelta(minutes=-5, seconds=-5), timedelta(minutes=5, seconds=5)])
def test_tolerance_is_five_minutes_both_ways(skew):
    secret = new_secret()
    headers = svix_headers(secret, BODY, timestamp=datetime.now(tz=UTC) + skew)
    with pytest.raises(InvalidSignatureError):
        SignatureVerifier.from_config(secret).verify(BODY.encode(), delivery_headers(headers))


@pytest.mark.parametrize("timestamp", ["", "soon", "nan", "inf", "-inf", "1e400"])
def test_a_timestamp_that_is_not_a_time_is_refused(timestamp):
    secret = new_secret()
    headers = delivery_headers({**svix_headers(secret, BODY), "svix-timestamp": timestamp or " "})
    with pytest.raises(InvalidSignatureError):
        SignatureVerifier.from_config(secret).verify(BODY.encode(), headers)


def test_any_v1_entry_may_match_and_other_versions_or_malformed_entries_are_skipped():
    secret = new_secret()
    headers = svix_headers(secret, BODY)
    valid = headers["svix-signature"]
    verifier = SignatureVerifier.from_config(secret)
    for offered in (f"v1,AAAA {valid}", f"garbage v2,{valid[3:]} v1,%%% {valid}", f"{valid} v1,AAAA"):
        verifier.verify(BODY.encode(), delivery_headers({**headers, "svix-signature": offered}))
    for offered in (valid.replace("v1,", "v2,"), valid.replace("v1,", "V1,"), "v1,", valid[3:]):
        with pytest.raises(InvalidSignatureError):
            verifier.verify(BODY.encode(), delivery_headers({**headers, "svix-signature": offered}))


def test_the_signed_text_holds_whole_seconds_as_the_signer_writes_them(at_vector_time):
    headers = {**VECTOR_HEADERS, "svix-timestamp": VECTOR_HEADERS["svix-timestamp"] + ".9"}
    SignatureVerifier.from_config(VECTOR_SECRET).verify(VECTOR_BODY, delivery_headers(headers))


def test_a_message_id_that_is_not_utf8_text_is_unsigned_not_an_error():
    secret = new_secret()
    headers = delivery_headers({**svix_headers(secret, BODY), "svix-id": "msg_\ud800"})
    with pytest.raises(InvalidSignatureError):
        SignatureVerifier.from_config(secret).verify(BODY.encode(), headers)
