"""The hand-written Clerk event validation: one named test per rule the former pydantic models enforced.

Summaries are `location: pydantic error type`, at most ten, never an input value. The property test at the end
checks the fast one-expression account check against `account_problems` and against what the generator intended.
"""

from __future__ import annotations

import json
import re
import string
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from social_connections.clerk_event_rules import MAX_SUMMARY_ITEMS
from social_connections.clerk_events import (
    ClerkUser,
    DeletedUser,
    ExternalAccount,
    InvalidEventError,
    UnhandledEvent,
    UserDeletedEvent,
    UserSnapshotEvent,
    Verification,
    account_problems,
    parse_clerk_event,
    parse_clerk_user,
    parse_external_account,
)

from devtools.clerk_payloads import deleted_event, external_account, to_body, user_event

T0 = 1_716_883_200_000
USER = "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S"
EMAIL = "ada.secret@example.com"
SECRET = "whsec_MfKQ9r8GKY+rTwjUPD8ILPZIo2La/Sw="  # base64: not a valid id either
TEXT_FIELDS = (
    "provider_user_id",
    "username",
    "email_address",
    "first_name",
    "last_name",
    "image_url",
    "avatar_url",
    "approved_scopes",
)
# Written independently of the module's constant: the rule as the issue states it.
ID_RULE = re.compile(r"[A-Za-z0-9_-]{1,128}")
BAD_IDS = {
    "newline-at-end": "user_1\n",
    "newline-at-start": "\nuser_1",
    "129-chars": "u" * 129,
    "unicode-letter": "user_n\u00e4sty",
    "unicode-digits": "\u0661\u0662\u0663",
    "key-separator": "USER#user_1",
    "empty": "",
    "space": "user 1",
    "dot": "user.1",
    "nul": "user_1\x00",
}
NOT_INTEGERS = {"true": True, "false": False, "one-float": 1.0, "float-1.7e12": 1.7e12, "string": str(T0), "list": []}
NOT_STRINGS = {"integer": 123, "float": 1.5, "boolean": True, "list": ["a"], "object": {"a": "b"}}


def body(payload: object) -> bytes:
    return json.dumps(payload).encode()


def snapshot_body(data: dict[str, Any], event_type: str = "user.updated") -> bytes:
    return body({"type": event_type, "object": "event", "data": data})


def summary_of(parse: Callable[[Any], object], raw: object) -> list[str]:
    with pytest.raises(InvalidEventError) as caught:
        parse(raw)
    assert str(caught.value) == "; ".join(caught.value.summary)
    return caught.value.summary


def account(**changes: object) -> dict[str, Any]:
    """A documented-shape X account (with an e-mail address) with the given fields replaced."""
    raw = external_account("eac_x1", "oauth_x", updated_at=T0, username="ada_x", email=EMAIL, scopes="tweet.read")
    raw.update(changes)
    return raw


def without(raw: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: value for name, value in raw.items() if name not in names}


# ---- valid events ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", ["user.created", "user.updated"])
def test_a_user_snapshot_parses_to_a_snapshot_event_with_id_version_and_raw_accounts(event_type):
    accounts: list[object] = [account(), external_account("eac_ig1", "oauth_instagram", updated_at=T0 + 1)]
    event = parse_clerk_event(to_body(user_event(event_type, USER, updated_at=T0, accounts=list(accounts))).encode())
    assert event == UserSnapshotEvent(event_type, ClerkUser(USER, T0, accounts))
    assert type(event) is UserSnapshotEvent and type(event.data) is ClerkUser


def test_user_deleted_parses_to_a_deleted_event_with_only_the_id():
    event = parse_clerk_event(to_body(deleted_event(USER)).encode())
    assert event == UserDeletedEvent("user.deleted", DeletedUser(USER))
    assert type(event) is UserDeletedEvent and type(event.data) is DeletedUser


def test_user_deleted_needs_no_updated_at_and_ignores_a_bad_one():
    for data in ({"id": USER}, {"id": USER, "updated_at": "not a version", "external_accounts": 5}):
        assert parse_clerk_event(body({"type": "user.deleted", "data": data})) == UserDeletedEvent(
            "user.deleted", DeletedUser(USER)
        )


@pytest.mark.parametrize(
    "event_type", ["session.created", "organization.updated", "email.created", "user.Created", "user.created ", ""]
)
def test_an_unhandled_event_type_is_acknowledged_whatever_its_data(event_type):
    for payload in ({"type": event_type}, {"type": event_type, "data": None}, {"type": event_type, "data": [1]}):
        event = parse_clerk_event(body(payload))
        assert event == UnhandledEvent(event_type) and type(event) is UnhandledEvent


def test_unknown_keys_are_ignored_in_the_event_the_user_the_account_and_the_verification():
    entry = account(brand_new_field={"nested": [1, 2]})
    entry["verification"]["next_step"] = "none"
    data = {"id": USER, "updated_at": T0, "external_accounts": [entry], "future": None, "external_id": "ext_1"}
    event = parse_clerk_event(body({"type": "user.created", "data": data, "api_version": 3, "timestamp": "x"}))
    assert event == UserSnapshotEvent("user.created", ClerkUser(USER, T0, [entry]))
    assert parse_external_account(entry).verification == Verification("verified", "oauth_x")


def test_missing_external_accounts_means_an_empty_list():
    event = parse_clerk_event(snapshot_body({"id": USER, "updated_at": T0}))
    assert isinstance(event, UserSnapshotEvent)
    assert event.data.external_accounts == []


def test_external_account_entries_stay_raw_so_one_bad_entry_does_not_refuse_the_event():
    entries: list[object] = [account(), None, 7, "x", {"id": "bad#id"}, [account()]]
    event = parse_clerk_event(snapshot_body({"id": USER, "updated_at": T0, "external_accounts": entries}))
    assert isinstance(event, UserSnapshotEvent)
    assert event.data.external_accounts == entries


def test_duplicate_keys_keep_the_last_value_like_every_json_parser_here():
    raw = b'{"type":"session.created","type":"user.deleted","data":{"id":"user_1"}}'
    assert parse_clerk_event(raw) == UserDeletedEvent("user.deleted", DeletedUser("user_1"))


def test_whitespace_around_the_json_value_is_allowed():
    assert parse_clerk_event(b' \t\r\n{"type":"session.created"}\n ') == UnhandledEvent("session.created")


# ---- strictness: updated_at, ids, type, data -----------------------------------------------------------------------


@pytest.mark.parametrize("value", [*NOT_INTEGERS.values(), None], ids=[*NOT_INTEGERS, "null"])
def test_a_boolean_a_float_a_string_or_null_is_not_an_integer_updated_at(value):
    raw = snapshot_body({"id": USER, "updated_at": value})
    assert summary_of(parse_clerk_event, raw) == ["data.updated_at: int_type"]


@pytest.mark.parametrize(
    ("value", "kind"), [(0, "greater_than"), (-5, "greater_than"), (10**15, "less_than"), (10**4000, "less_than")]
)
def test_updated_at_must_be_above_zero_and_below_ten_to_the_fifteenth(value, kind):
    assert summary_of(parse_clerk_event, snapshot_body({"id": USER, "updated_at": value})) == [
        f"data.updated_at: {kind}"
    ]


@pytest.mark.parametrize("value", [1, T0, 10**15 - 1])
def test_updated_at_bounds_are_exclusive_and_every_value_between_is_accepted(value):
    event = parse_clerk_event(snapshot_body({"id": USER, "updated_at": value}))
    assert isinstance(event, UserSnapshotEvent) and event.data.updated_at == value


def test_a_snapshot_without_id_or_updated_at_says_missing_for_each():
    assert summary_of(parse_clerk_event, snapshot_body({})) == ["data.id: missing", "data.updated_at: missing"]


@pytest.mark.parametrize("value", [*NOT_STRINGS.values(), None], ids=[*NOT_STRINGS, "null"])
def test_a_number_or_anything_else_is_not_a_string_user_id(value):
    assert summary_of(parse_clerk_event, snapshot_body({"id": value, "updated_at": T0})) == ["data.id: string_type"]
    deleted = body({"type": "user.deleted", "data": {"id": value}})
    assert summary_of(parse_clerk_event, deleted) == ["data.id: string_type"]


@pytest.mark.parametrize("user_id", list(BAD_IDS.values()), ids=list(BAD_IDS))
def test_user_ids_must_match_the_clerk_id_pattern_as_a_whole_string(user_id):
    snapshot = snapshot_body({"id": user_id, "updated_at": T0})
    assert summary_of(parse_clerk_event, snapshot) == ["data.id: string_pattern_mismatch"]
    deleted = body({"type": "user.deleted", "data": {"id": user_id}})
    assert summary_of(parse_clerk_event, deleted) == ["data.id: string_pattern_mismatch"]


@pytest.mark.parametrize("user_id", ["u" * 128, "A-z_0-9", "-", "_", "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S"])
def test_ids_of_one_to_128_allowed_characters_are_accepted(user_id):
    snapshot = parse_clerk_event(snapshot_body({"id": user_id, "updated_at": T0}))
    deleted = parse_clerk_event(body({"type": "user.deleted", "data": {"id": user_id}}))
    assert isinstance(snapshot, UserSnapshotEvent) and snapshot.data.id == user_id
    assert deleted == UserDeletedEvent("user.deleted", DeletedUser(user_id))


def test_a_missing_type_is_refused():
    assert summary_of(parse_clerk_event, body({"data": {"id": USER, "updated_at": T0}})) == ["type: missing"]


@pytest.mark.parametrize("value", [*NOT_STRINGS.values(), None], ids=[*NOT_STRINGS, "null"])
def test_a_type_that_is_not_a_string_is_refused(value):
    assert summary_of(parse_clerk_event, body({"type": value})) == ["type: string_type"]


@pytest.mark.parametrize("event_type", ["user.created", "user.updated", "user.deleted"])
def test_a_handled_event_needs_its_data_object(event_type):
    assert summary_of(parse_clerk_event, body({"type": event_type})) == ["data: missing"]
    not_objects: tuple[object, ...] = (None, [], "user_1", 1, True)
    for data in not_objects:
        assert summary_of(parse_clerk_event, body({"type": event_type, "data": data})) == ["data: model_type"]


@pytest.mark.parametrize("value", [None, {}, "[]", 5], ids=["null", "object", "string", "number"])
def test_external_accounts_must_be_a_list_when_present(value):
    raw = snapshot_body({"id": USER, "updated_at": T0, "external_accounts": value})
    assert summary_of(parse_clerk_event, raw) == ["data.external_accounts: list_type"]


# ---- JSON --------------------------------------------------------------------------------------------------------

VALID = to_body(user_event("user.updated", USER, updated_at=T0, accounts=[account()]))
JSON_INVALID = {
    "empty-body": b"",
    "whitespace-only": b" \n",
    "invalid-utf8": b'{"type":"user.deleted","data":{"id":"u\xff"}}',
    "latin-1": VALID.replace("Ada", "Ad\u00e9").encode("latin-1"),
    "utf-16-with-bom": VALID.encode("utf-16"),
    "utf-16-le-without-bom": VALID.encode("utf-16-le"),
    "utf-8-bom": b"\xef\xbb\xbf" + VALID.encode(),
    "lone-high-surrogate-escape": VALID.replace('"ada_x"', '"\\ud800"').encode(),
    "lone-low-surrogate-escape": VALID.replace('"ada_x"', '"\\udc00"').encode(),
    "high-surrogate-then-letter": VALID.replace('"ada_x"', '"\\ud83d\\u0041"').encode(),
    "lone-surrogate-in-a-key": b'{"type":"session.created","\\uDBFF":1}',
    "nan": VALID[:-1].encode() + b',"x":NaN}',
    "infinity": VALID[:-1].encode() + b',"x":Infinity}',
    "minus-infinity": VALID[:-1].encode() + b',"x":-Infinity}',
    "nesting-100k-deep-arrays": b"[" * 100_000 + b"]" * 100_000,
    "nesting-100k-deep-objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "nesting-100k-deep-in-an-ignored-field": VALID[:-1].encode() + b',"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "5000-digit-integer": b"1" * 5000,
    "5000-digit-updated-at": VALID.replace(f'"updated_at":{T0}', '"updated_at":' + "1" * 5000).encode(),
    "trailing-garbage": VALID.encode() + b" x",
    "two-values": VALID.encode() * 2,
    "control-character-in-a-string": b'{"type":"session\x01created"}',
    "single-quotes": b"{'type':'session.created'}",
    "leading-zero": b'{"type":"session.created","n":01}',
    "gzip-magic": b"\x1f\x8b\x08\x00" + VALID.encode(),
}
NOT_OBJECTS = {
    "top-level-array": "[" + VALID + "]",
    "top-level-string": json.dumps(VALID),
    "top-level-null": "null",
    "top-level-number": "1716883200000",
    "top-level-true": "true",
    "empty-array": "[]",
}


@pytest.mark.parametrize("raw", list(JSON_INVALID.values()), ids=list(JSON_INVALID))
def test_a_body_that_is_not_strict_json_is_json_invalid(raw):
    assert summary_of(parse_clerk_event, raw) == [": json_invalid"]


@pytest.mark.parametrize("raw", [text.encode() for text in NOT_OBJECTS.values()], ids=list(NOT_OBJECTS))
def test_a_json_value_that_is_not_an_object_is_model_type(raw):
    assert summary_of(parse_clerk_event, raw) == [": model_type"]


def test_a_valid_surrogate_pair_escape_is_accepted_and_decoded():
    event = parse_clerk_event(b'{"type":"x\\ud83d\\ude00","data":"\\uD83D\\uDE00"}')
    assert event == UnhandledEvent("x\U0001f600")


def test_an_escaped_backslash_before_u_d800_is_text_not_a_surrogate():
    assert parse_clerk_event(b'{"type":"\\\\ud800"}') == UnhandledEvent("\\ud800")


def test_a_nul_escape_and_a_huge_float_in_an_ignored_field_are_accepted():
    raw = VALID[:-1] + ',"x":"a\\u0000b","y":1e400}'
    assert parse_clerk_event(raw.encode()) == parse_clerk_event(VALID.encode())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


def _mutated(raw: bytes, position: int, byte: int) -> bytes:
    at = position % (len(raw) + 1)
    return raw[:at] + bytes([byte]) + raw[at + 1 :]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.builds(_mutated, st.just(VALID.encode()), st.integers(0, len(VALID)), st.integers(0, 255)),
    )
)
@example(b"[" * 100_000)
@example(b'"\\ud800"')
def test_no_exception_but_invalid_event_error_escapes(raw):
    try:
        event = parse_clerk_event(raw)
    except InvalidEventError as error:
        assert 1 <= len(error.summary) <= MAX_SUMMARY_ITEMS
        assert all(re.fullmatch(r"[a-z_.]*: [a-z_]+", item) for item in error.summary), error.summary
    else:
        assert isinstance(event, UserSnapshotEvent | UserDeletedEvent | UnhandledEvent)


# ---- summaries ---------------------------------------------------------------------------------------------------


def test_a_summary_lists_every_problem_in_field_order():
    raw = snapshot_body({"id": 5, "updated_at": 0, "external_accounts": {}})
    assert summary_of(parse_clerk_event, raw) == [
        "data.id: string_type",
        "data.updated_at: greater_than",
        "data.external_accounts: list_type",
    ]


def test_a_summary_has_at_most_ten_items():
    broken: dict[str, object] = dict.fromkeys(("id", "external_account_id", "provider", *TEXT_FIELDS), 1)
    broken.update(updated_at=1.5, verification={"status": 1, "strategy": 2})
    summary = summary_of(parse_external_account, broken)
    assert len(summary) == MAX_SUMMARY_ITEMS == 10
    assert summary == [
        "id: string_type",
        "external_account_id: string_type",
        "provider: string_type",
        *(f"{name}: string_type" for name in TEXT_FIELDS[:7]),
    ]
    assert account_problems(broken) == summary


CARRIERS = {
    "user-id": lambda value: snapshot_body({"id": value, "updated_at": T0}),
    "user-version": lambda value: snapshot_body({"id": USER, "updated_at": value}),
    "deleted-id": lambda value: body({"type": "user.deleted", "data": {"id": value}}),
    "event-type": lambda value: body({"type": [value]}),
    "data": lambda value: body({"type": "user.created", "data": value}),
    "non-json": lambda value: b'{"type":"user.created","x":"' + value.encode() + b'",NaN}',
    "lone-surrogate": lambda value: b'{"type":"' + value.encode() + b'\\ud800"}',
    "invalid-utf8": lambda value: b'{"type":"' + value.encode() + b'\xff"}',
}


@pytest.mark.parametrize("secret_value", [EMAIL, SECRET])
@pytest.mark.parametrize("carrier", list(CARRIERS.values()), ids=list(CARRIERS))
def test_a_summary_never_contains_an_input_value(carrier, secret_value):
    with pytest.raises(InvalidEventError) as caught:
        parse_clerk_event(carrier(secret_value))
    # The whole formatted exception, chained causes included, is what a log line with exc_info would show.
    shown = "".join(traceback.format_exception(caught.value))
    assert secret_value not in shown and secret_value not in repr(caught.value.summary)
    assert "ada.secret" not in shown and "MfKQ9r8" not in shown


@pytest.mark.parametrize("field", ["id", "external_account_id", "provider", *TEXT_FIELDS, "updated_at"])
def test_an_account_summary_never_contains_an_input_value(field):
    raw = account(**{field: [EMAIL, SECRET]})
    summary = summary_of(parse_external_account, raw)
    assert summary == [f"{field}: {'int_type' if field == 'updated_at' else 'string_type'}"]
    shown = repr(summary) + repr(account_problems(raw))
    assert EMAIL not in shown and SECRET not in shown


# ---- external accounts -------------------------------------------------------------------------------------------


def test_a_valid_account_maps_every_field_to_its_attribute():
    raw = {
        "object": "external_account",
        "id": "eac_1",
        "provider": "oauth_x",
        **{name: f"value-of-{name}" for name in TEXT_FIELDS},
        "updated_at": T0,
        "verification": {"status": "verified", "strategy": "oauth_x", "attempts": None},
    }
    parsed = parse_external_account(raw)
    assert parsed == ExternalAccount(
        id="eac_1",
        external_account_id=None,
        provider="oauth_x",
        **{name: f"value-of-{name}" for name in TEXT_FIELDS},
        updated_at=T0,
        verification=Verification(status="verified", strategy="oauth_x"),
    )
    assert account_problems(raw) == []


def test_account_id_is_the_id_without_an_external_account_id():
    assert parse_external_account(account()).account_id == "eac_x1"
    assert parse_external_account(account(external_account_id=None)).account_id == "eac_x1"


def test_account_id_is_the_external_account_id_when_present():
    legacy = external_account("idn_g1", "oauth_google", updated_at=T0, legacy_google_shape=True)
    parsed = parse_external_account(legacy)
    assert (parsed.id, parsed.external_account_id, parsed.account_id) == ("idn_g1", "eac_g1", "eac_g1")


def test_optional_account_fields_may_be_absent_or_null():
    minimal = {"id": "eac_1", "provider": "oauth_x", "updated_at": T0}
    nulls = {**minimal, "external_account_id": None, "verification": None, **dict.fromkeys(TEXT_FIELDS)}
    expected = ExternalAccount(
        id="eac_1",
        external_account_id=None,
        provider="oauth_x",
        **dict.fromkeys(TEXT_FIELDS),
        updated_at=T0,
        verification=None,
    )
    assert parse_external_account(minimal) == expected
    assert parse_external_account(nulls) == expected


@pytest.mark.parametrize("field", ["id", "provider", "updated_at"])
def test_a_required_account_field_that_is_missing_says_missing(field):
    assert summary_of(parse_external_account, without(account(), field)) == [f"{field}: missing"]


@pytest.mark.parametrize(
    ("field", "kind"), [("id", "string_type"), ("provider", "string_type"), ("updated_at", "int_type")]
)
def test_a_required_account_field_that_is_null_is_the_wrong_type(field, kind):
    assert summary_of(parse_external_account, account(**{field: None})) == [f"{field}: {kind}"]


@pytest.mark.parametrize("field", ["id", "external_account_id"])
@pytest.mark.parametrize("value", list(BAD_IDS.values()), ids=list(BAD_IDS))
def test_account_ids_must_match_the_clerk_id_pattern(field, value):
    assert summary_of(parse_external_account, account(**{field: value})) == [f"{field}: string_pattern_mismatch"]


@pytest.mark.parametrize("field", ["id", "external_account_id", "provider", *TEXT_FIELDS])
@pytest.mark.parametrize("value", list(NOT_STRINGS.values()), ids=list(NOT_STRINGS))
def test_account_text_fields_must_be_json_strings(field, value):
    assert summary_of(parse_external_account, account(**{field: value})) == [f"{field}: string_type"]


def test_provider_and_optional_texts_are_any_string_even_empty_or_unicode():
    raw = account(provider="", username="\u00e4\u0000 #", email_address="", approved_scopes="a b#c")
    parsed = parse_external_account(raw)
    assert (parsed.provider, parsed.username, parsed.email_address) == ("", "\u00e4\u0000 #", "")


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        *((value, "int_type") for value in NOT_INTEGERS.values()),
        (0, "greater_than"),
        (-1, "greater_than"),
        (10**15, "less_than"),
    ],
    ids=[*NOT_INTEGERS, "zero", "negative", "ten-to-the-fifteenth"],
)
def test_account_updated_at_follows_the_user_version_rules(value, kind):
    assert summary_of(parse_external_account, account(updated_at=value)) == [f"updated_at: {kind}"]


def test_verification_may_be_null_absent_or_an_object():
    assert parse_external_account(account(verification=None)).verification is None
    assert parse_external_account(without(account(), "verification")).verification is None
    assert parse_external_account(account(verification={})).verification == Verification(None, None)
    nulls = {"status": None, "strategy": None, "attempts": 3}
    assert parse_external_account(account(verification=nulls)).verification == Verification(None, None)
    full = {"object": "verification_oauth", "status": "expired", "strategy": "oauth_x", "expire_at": T0}
    assert parse_external_account(account(verification=full)).verification == Verification("expired", "oauth_x")


@pytest.mark.parametrize("value", ["verified", [], [{"status": "verified"}], 1, True])
def test_a_verification_that_is_not_an_object_is_model_type(value):
    assert summary_of(parse_external_account, account(verification=value)) == ["verification: model_type"]


@pytest.mark.parametrize("field", ["status", "strategy"])
@pytest.mark.parametrize("value", list(NOT_STRINGS.values()), ids=list(NOT_STRINGS))
def test_verification_status_and_strategy_must_be_strings_or_null(field, value):
    raw = account(verification={"status": "verified", "strategy": "oauth_x", field: value})
    assert summary_of(parse_external_account, raw) == [f"verification.{field}: string_type"]


@pytest.mark.parametrize("value", [None, [], "eac_1", 1, True, [{"id": "eac_1"}]])
def test_an_account_entry_that_is_not_an_object_is_model_type(value):
    assert summary_of(parse_external_account, value) == [": model_type"]


def test_account_problems_lists_each_bad_field_in_field_order():
    raw = account(id="eac#1", provider=None, username=5, updated_at=True, verification={"strategy": 1})
    assert account_problems(raw) == [
        "id: string_pattern_mismatch",
        "provider: string_type",
        "username: string_type",
        "updated_at: int_type",
        "verification.strategy: string_type",
    ]
    assert summary_of(parse_external_account, raw) == account_problems(raw)


# ---- parse_clerk_user: one user of the Backend API's list (same rules, no `data.` prefix) --------------------------


def test_parse_clerk_user_reads_a_user_object_like_the_snapshot_data():
    data = user_event("user.updated", USER, updated_at=T0, accounts=[account()])["data"]
    assert parse_clerk_user(data) == ClerkUser(USER, T0, [account()])


def test_parse_clerk_user_reports_locations_without_a_prefix():
    assert summary_of(parse_clerk_user, {"id": "u#1", "updated_at": 1.0, "external_accounts": None}) == [
        "id: string_pattern_mismatch",
        "updated_at: int_type",
        "external_accounts: list_type",
    ]


def test_parse_clerk_user_refuses_a_non_object_user():
    assert summary_of(parse_clerk_user, None) == ["(user): missing"]
    not_objects: tuple[object, ...] = ([], "user_1", 1)
    for value in not_objects:
        assert summary_of(parse_clerk_user, value) == ["(user): model_type"]


# ---- property: the fast account check agrees with account_problems and with the generator -------------------------

_non_strings = st.one_of(
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.none(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.none(), max_size=2),
)
_good_ids = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=128)
_bad_id_strings = st.sampled_from(list(BAD_IDS.values())) | st.text(max_size=12).filter(
    lambda text: ID_RULE.fullmatch(text) is None
)
_ABSENT = object()
# A field's value (or _ABSENT) and the problem it must cause: None for a valid value.
Choice = tuple[object, str | None]


def _as(values: st.SearchStrategy[Any], kind: str | None) -> st.SearchStrategy[Choice]:
    return values.map(lambda value: (value, kind))


def _optional_text(*, valid: bool) -> st.SearchStrategy[Choice]:
    if valid:
        return _as(st.text(max_size=8) | st.none() | st.just(_ABSENT), None)
    return _as(_non_strings, "string_type")


def _verification_choices(draw: st.DrawFn, *, valid: bool) -> tuple[object, list[str]]:
    shape = draw(st.sampled_from(["absent", "null", "object"] if valid else ["not-an-object", "object"]))
    if shape == "absent":
        return _ABSENT, []
    if shape == "null":
        return None, []
    if shape == "not-an-object":
        not_object = _non_strings.filter(lambda value: not isinstance(value, dict)) | st.text(max_size=4)
        return draw(not_object), ["verification: model_type"]
    bad = set() if valid else draw(st.sets(st.sampled_from(["status", "strategy"]), min_size=1))
    nested: dict[str, object] = {"attempts": None}
    problems: list[str] = []
    for name in ("status", "strategy"):
        value, kind = draw(_optional_text(valid=name not in bad))
        if value is not _ABSENT:
            nested[name] = value
        problems += [f"verification.{name}: {kind}"] * (kind is not None)
    return nested, problems


# Per field: the strategy of its valid choices and that of its invalid ones (each with the problem it causes).
FIELD_CHOICES: dict[str, tuple[st.SearchStrategy[Choice], st.SearchStrategy[Choice]]] = {
    "id": (
        _as(_good_ids, None),
        _as(_bad_id_strings, "string_pattern_mismatch")
        | _as(_non_strings | st.none(), "string_type")
        | _as(st.just(_ABSENT), "missing"),
    ),
    "external_account_id": (
        _as(_good_ids | st.none() | st.just(_ABSENT), None),
        _as(_bad_id_strings, "string_pattern_mismatch") | _as(_non_strings, "string_type"),
    ),
    "provider": (
        _as(st.text(max_size=12), None),
        _as(_non_strings | st.none(), "string_type") | _as(st.just(_ABSENT), "missing"),
    ),
    **{name: (_optional_text(valid=True), _optional_text(valid=False)) for name in TEXT_FIELDS},
    "updated_at": (
        _as(st.integers(1, 10**15 - 1), None),
        _as(st.integers(max_value=0), "greater_than")
        | _as(st.integers(min_value=10**15), "less_than")
        | _as(st.booleans() | st.floats(allow_nan=False) | st.text(max_size=5) | st.none(), "int_type")
        | _as(st.just(_ABSENT), "missing"),
    ),
}


@st.composite
def accounts_with_expected_problems(draw: st.DrawFn) -> tuple[dict[str, object], list[str]]:
    """An account-like dict and the problems its drawn values must cause, in field order; about half are valid."""
    names = [*FIELD_CHOICES, "verification"]
    broken = draw(st.just(set()) | st.sets(st.sampled_from(names), min_size=1))
    raw: dict[str, object] = {}
    expected: list[str] = []
    for name, (valid, invalid) in FIELD_CHOICES.items():
        value, kind = draw(invalid if name in broken else valid)
        if value is not _ABSENT:
            raw[name] = value
        expected += [f"{name}: {kind}"] * (kind is not None)
    verification, problems = _verification_choices(draw, valid="verification" not in broken)
    if verification is not _ABSENT:
        raw["verification"] = verification
    raw.update(draw(st.dictionaries(st.sampled_from(["object", "label", "public_metadata"]), _non_strings)))
    return raw, (expected + problems)[:MAX_SUMMARY_ITEMS]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accounts_with_expected_problems())
@example(({"id": "eac_1", "provider": "oauth_x", "updated_at": T0}, []))
@example(({"id": "eac_1", "provider": "oauth_x", "updated_at": True}, ["updated_at: int_type"]))
def test_parse_external_account_succeeds_exactly_when_account_problems_is_empty(case):
    raw, expected = case
    problems = account_problems(raw)
    assert problems == expected
    if problems:
        assert summary_of(parse_external_account, raw) == problems
        return
    parsed = parse_external_account(raw)
    assert parsed.id == raw["id"] and parsed.provider == raw["provider"] and parsed.updated_at == raw["updated_at"]
    assert parsed.external_account_id == raw.get("external_account_id")
    assert all(getattr(parsed, name) == raw.get(name) for name in TEXT_FIELDS)
    assert parsed.account_id == (raw.get("external_account_id") or raw["id"])
    verification = raw.get("verification")
    if isinstance(verification, dict):
        assert parsed.verification == Verification(verification.get("status"), verification.get("strategy"))
    else:
        assert parsed.verification is None
