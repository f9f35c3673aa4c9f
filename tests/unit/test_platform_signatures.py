"""Meta's signed_request and TikTok's TikTok-Signature, checked against vectors built here with plain hmac."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from social_connections.platform_signatures import (
    CallbackPayloadError,
    CallbackSecretError,
    CallbackSignatureError,
    is_confirmation_code,
    parse_tiktok_event,
    secret_list,
    verify_signed_request,
    verify_tiktok_signature,
)

META_SECRET = b"0123456789abcdef0123456789abcdef"
TIKTOK_SECRET = b"tiktok-client-secret"
NOW = 1_790_000_000


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed_request(payload: dict | bytes, secret: bytes = META_SECRET) -> str:
    """Meta's format, written out from its documentation: base64url(HMAC-SHA256(encoded payload)).encoded payload."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    encoded = b64url(raw)
    return b64url(hmac.new(secret, encoded.encode(), hashlib.sha256).digest()) + "." + encoded


def meta_payload(**fields: object) -> dict:
    return {"algorithm": "HMAC-SHA256", "issued_at": NOW, "user_id": "17841400000000001", **fields}


def test_a_meta_request_signed_with_the_app_secret_is_read():
    request = verify_signed_request(signed_request(meta_payload()), [META_SECRET])
    assert (request.user_id, request.issued_at) == ("17841400000000001", NOW)
    assert is_confirmation_code(request.confirmation_code)


def test_a_known_vector_verifies():
    # Computed by hand once: HMAC-SHA256 of the encoded payload below with key "secret".
    encoded = b64url(b'{"algorithm":"HMAC-SHA256","issued_at":1,"user_id":"42"}')
    signature = b64url(hmac.new(b"secret", encoded.encode(), hashlib.sha256).digest())
    assert verify_signed_request(f"{signature}.{encoded}", [b"secret"]).user_id == "42"


def test_the_confirmation_code_is_stable_for_a_replay_and_differs_between_requests():
    first = verify_signed_request(signed_request(meta_payload()), [META_SECRET]).confirmation_code
    again = verify_signed_request(signed_request(meta_payload()), [META_SECRET]).confirmation_code
    other = verify_signed_request(signed_request(meta_payload(issued_at=NOW + 1)), [META_SECRET]).confirmation_code
    assert first == again != other


def test_any_configured_secret_verifies_during_a_rotation():
    assert verify_signed_request(signed_request(meta_payload()), [b"old", META_SECRET]).user_id


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no-dot",
        ".",
        "abc.def",  # a signature too short for HMAC-SHA256
        "!!!." + b64url(b"{}"),
        signed_request(meta_payload(), secret=b"another secret"),
    ],
)
def test_unsigned_or_wrongly_signed_meta_requests_are_rejected(text):
    with pytest.raises(CallbackSignatureError):
        verify_signed_request(text, [META_SECRET])


def test_a_tampered_meta_payload_is_rejected():
    signature, _ = signed_request(meta_payload()).split(".")
    tampered = b64url(json.dumps(meta_payload(user_id="99999")).encode())
    with pytest.raises(CallbackSignatureError):
        verify_signed_request(f"{signature}.{tampered}", [META_SECRET])


@pytest.mark.parametrize("algorithm", ["HMAC-SHA1", "none", "", None, 256])
def test_other_algorithms_are_rejected_even_when_the_hmac_matches(algorithm):
    with pytest.raises(CallbackSignatureError, match="algorithm"):
        verify_signed_request(signed_request(meta_payload(algorithm=algorithm)), [META_SECRET])


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[1, 2]", meta_payload(user_id=None), meta_payload(user_id="a b"), meta_payload(issued_at="x")],
)
def test_signed_garbage_is_a_payload_error(payload):
    with pytest.raises(CallbackPayloadError):
        verify_signed_request(signed_request(payload), [META_SECRET])


def test_a_numeric_user_id_is_read_as_text():
    assert verify_signed_request(signed_request(meta_payload(user_id=42)), [META_SECRET]).user_id == "42"


def test_no_secret_is_our_configuration_error():
    with pytest.raises(CallbackSecretError):
        secret_list("  ,  ")
    assert secret_list("a b,c") == [b"a", b"b", b"c"]


# ---- TikTok ----------------------------------------------------------------------------------------------------


def tiktok_header(body: bytes, timestamp: int = NOW, secret: bytes = TIKTOK_SECRET) -> str:
    """TikTok's documented scheme, written out: hex HMAC-SHA256 over "<t>.<body>" with the client secret."""
    return f"t={timestamp},s={hmac.new(secret, f'{timestamp}.'.encode() + body, hashlib.sha256).hexdigest()}"


BODY = json.dumps(
    {
        "client_key": "ck",
        "event": "authorization.removed",
        "create_time": NOW - 5,
        "user_openid": "act.example12345",
        "content": json.dumps({"reason": 1}),
    }
).encode()


def test_a_tiktok_delivery_signed_with_the_client_secret_verifies():
    verify_tiktok_signature(BODY, tiktok_header(BODY), [TIKTOK_SECRET], NOW + 10)
    verify_tiktok_signature(
        BODY, tiktok_header(BODY).upper().replace("T=", "t=").replace(",S=", ",s="), [TIKTOK_SECRET], NOW
    )


@pytest.mark.parametrize(
    ("header", "now"),
    [
        (tiktok_header(BODY), NOW + 301),  # too old
        (tiktok_header(BODY), NOW - 301),  # from the future
        (tiktok_header(BODY, secret=b"wrong"), NOW),
        (tiktok_header(BODY + b" "), NOW),  # signed another body
        (tiktok_header(BODY).replace(f"t={NOW}", f"t={NOW + 1}"), NOW),  # timestamp moved after signing
        ("", NOW),
        ("s=abc", NOW),
        (f"t={NOW}", NOW),
        (f"t=abc,s={'0' * 64}", NOW),
    ],
)
def test_stale_tampered_or_malformed_tiktok_signatures_are_rejected(header, now):
    with pytest.raises(CallbackSignatureError):
        verify_tiktok_signature(BODY, header, [TIKTOK_SECRET], now)


def test_the_tiktok_event_is_read_with_its_reason():
    event = parse_tiktok_event(BODY)
    assert (event.event, event.user_openid, event.create_time, event.reason) == (
        "authorization.removed",
        "act.example12345",
        NOW - 5,
        1,
    )
    assert parse_tiktok_event(BODY.replace(b'"{\\"reason\\": 1}"', b'"not json"')).reason is None


@pytest.mark.parametrize(
    "body",
    [b"nope", b"[]", b'{"event": "authorization.removed", "create_time": 1}', b'{"event": 1, "user_openid": "a"}'],
)
def test_signed_tiktok_garbage_is_a_payload_error(body):
    with pytest.raises(CallbackPayloadError):
        parse_tiktok_event(body)
