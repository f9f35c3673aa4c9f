"""Bad input: random, mutated and hand-picked nasty requests through the real webhook handler against moto.

Invariants, whatever arrives: never a 5xx, never a 2xx without a valid signature, never a DynamoDB request (let alone
a write) for an unsigned or invalid request, and whatever a signed payload holds, the rows follow the data contract.
"""

from __future__ import annotations

import base64
import copy
import gzip
import itertools
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from devtools.clerk_payloads import deleted_event, external_account, to_body, user_event
from devtools.testkit.deliveries import (
    HttpResponse,
    http_api_event,
    new_message_id,
    new_secret,
    sign_bytes,
    signed_event,
    svix_headers,
)
from devtools.testkit.functions import configured
from devtools.testkit.table import table_items, user_rows
from tests.reliability.conftest import SharedAccount
from tests.reliability.support import contract_violations, count, examples, fuzz_settings, invoke, now_seconds

T0 = 1_716_883_200_000
MAX_BODY = 256 * 1024
TOKEN = "oat_never_store_this_token_6f1d"
X_SK, IG_SK, TT_SK = "CONNECTION#twitter#eac_x1", "CONNECTION#instagram#eac_ig1", "CONNECTION#tiktok#eac_tt1"
# What the base payload's accounts become, by position in external_accounts (the fourth, Google, is ignored).
EXPECTED_BY_POSITION = {0: (X_SK, "connected"), 1: (IG_SK, "expired"), 2: (TT_SK, "error")}
_user_numbers = itertools.count()


def clerk_payload(user_id: str, *, version: int = T0, event_type: str = "user.updated") -> dict[str, Any]:
    """A Clerk-shaped user snapshot touching every status: X verified, Instagram expired, TikTok failed, Google."""
    accounts = [
        external_account(
            "eac_x1", "oauth_x", updated_at=T0, username="ada_x", email="ada.x@example.com", scopes="tweet.read"
        ),
        external_account("eac_ig1", "oauth_instagram", updated_at=T0, status="expired", username="ada.ig"),
        external_account("eac_tt1", "oauth_custom_tiktok", updated_at=T0, status="failed", username="ada_tt"),
        external_account("idn_g1", "oauth_google", updated_at=T0, legacy_google_shape=True, email="ada@example.com"),
    ]
    return user_event(event_type, user_id, updated_at=version, accounts=accounts)


def fresh_user(prefix: str = "user_r") -> str:
    return f"{prefix}{next(_user_numbers)}"


def deliver(account: SharedAccount, event: dict[str, Any], *, kind: str) -> HttpResponse:
    """Invoke the handler and check the invariants every request must keep, whatever it carries."""
    account.calls.reset()
    response = invoke(event)
    count("bad_input.requests")
    count(f"bad_input.{kind}")
    count(f"bad_input.status.{response.status}")
    assert response.status < 500, f"bad input answered {response.status}: {response.body}"
    if not 200 <= response.status < 300:
        assert account.calls.writes == 0, f"a refused request wrote: {account.calls.calls}"
    return response


def assert_refused_untouched(account: SharedAccount, response: HttpResponse, *allowed: int) -> None:
    assert response.status in allowed, f"expected one of {allowed}, got {response.status}: {response.body}"
    assert account.calls.total == 0, f"an unverified request reached DynamoDB: {account.calls.calls}"


# ---- 1. unsigned requests: random bodies, headers, encodings, methods -------------------------------------------

HEADER_NAMES = (
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "Svix-Signature",
    "SVIX-TIMESTAMP",
    "content-type",
    "x-forwarded-for",
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=25,
)
signature_entries = st.builds(
    lambda version, raw: f"{version},{base64.b64encode(raw).decode()}",
    st.sampled_from(["v1", "v1a", "v2", "V1", "v0", ""]),
    st.binary(max_size=40),
)
header_values = st.one_of(
    st.text(max_size=80),
    st.lists(signature_entries, min_size=1, max_size=4).map(" ".join),
    st.integers(min_value=-(10**12), max_value=10**13).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "", " ", "0x10"]),
    st.from_regex(r"msg_[A-Za-z0-9]{1,24}", fullmatch=True),
)


@st.composite
def unsigned_deliveries(draw: st.DrawFn) -> dict[str, Any]:
    """API Gateway events carrying anything but a valid signature (no secret is known to the strategy)."""
    body_text = draw(
        st.one_of(
            st.text(max_size=2000),
            json_values.map(json.dumps),
            st.builds(lambda n: to_body(clerk_payload(f"user_u{n}")), st.integers(0, 5)),
        )
    )
    raw_bytes = draw(st.binary(max_size=2000))
    encoding = draw(st.sampled_from(["text", "base64", "base64-flag-on-text", "base64-flag-off", "no-body"]))
    method, path = draw(
        st.one_of(
            st.just(("POST", "/webhooks/clerk")),
            st.tuples(
                st.sampled_from(["GET", "PUT", "OPTIONS", "DELETE", "POST"]),
                st.sampled_from(["/webhooks/clerk", "/webhooks/clerk/", "/webhooks/Clerk", "/", "/webhooks"]),
            ),
        )
    )
    headers = draw(st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=6))
    event = http_api_event("", headers, method=method, path=path)
    event["headers"] = headers  # exactly as drawn, including upper-case names
    body: str | None
    flag = False
    if encoding == "text":
        body = body_text
    elif encoding == "base64":
        body, flag = base64.b64encode(raw_bytes or body_text.encode("utf-8", "surrogatepass")).decode(), True
    elif encoding == "base64-flag-on-text":
        body, flag = body_text, True
    elif encoding == "base64-flag-off":
        body = base64.b64encode(body_text.encode("utf-8", "surrogatepass")).decode()
    else:
        body = None
    event["body"], event["isBase64Encoded"] = body, flag
    return event


@fuzz_settings(scale=2)
@given(event=unsigned_deliveries())
def test_unsigned_requests_are_refused_before_any_table_access(shared_account, event):
    response = deliver(shared_account, event, kind="unsigned")
    route = event["requestContext"]["http"]["method"] + " " + event["rawPath"]
    if route == "POST /webhooks/clerk":
        assert_refused_untouched(shared_account, response, 401)
    else:
        assert_refused_untouched(shared_account, response, 404, 405, 401)


# ---- 2. a valid delivery, mutated: never accepted unless the mutation kept it validly signed ---------------------

MUTATION_HEADERS = ("id", "timestamp", "signature")
BASE64_NOISE = re.compile(r"[^A-Za-z0-9+/]")


@dataclass(frozen=True)
class Mutation:
    kind: str
    target: str = ""
    position: float = 0.0
    value: Any = None


mutations = st.one_of(
    st.builds(Mutation, st.just("body_flip"), position=st.floats(0, 1), value=st.integers(1, 255)),
    st.builds(Mutation, st.just("body_truncate"), position=st.floats(0, 1)),
    st.builds(Mutation, st.just("body_insert"), position=st.floats(0, 1), value=st.binary(min_size=1, max_size=8)),
    st.builds(Mutation, st.just("body_reserialize"), value=st.sampled_from([", ", ": ", "indent"])),
    st.builds(Mutation, st.just("body_escape"), position=st.floats(0, 1)),
    st.builds(Mutation, st.just("header_drop"), st.sampled_from(MUTATION_HEADERS)),
    st.builds(Mutation, st.just("header_empty"), st.sampled_from(MUTATION_HEADERS)),
    st.builds(Mutation, st.just("header_set"), st.sampled_from(MUTATION_HEADERS), value=header_values),
    st.builds(Mutation, st.just("header_pad"), st.sampled_from(MUTATION_HEADERS), value=st.sampled_from([" ", "\t"])),
    st.builds(Mutation, st.just("header_duplicate"), st.sampled_from(MUTATION_HEADERS)),
    st.builds(Mutation, st.just("header_case"), st.sampled_from(MUTATION_HEADERS)),
    st.builds(Mutation, st.just("header_alias"), st.sampled_from(MUTATION_HEADERS)),
    st.builds(Mutation, st.just("sig_version"), value=st.sampled_from(["v0", "v2", "V1", "v1a", "v", "v1 "])),
    st.builds(Mutation, st.just("sig_corrupt"), position=st.floats(0, 1), value=st.characters(codec="ascii")),
    st.builds(Mutation, st.just("sig_add_entry"), position=st.sampled_from([0.0, 1.0]), value=signature_entries),
    st.builds(Mutation, st.just("sig_other_secret")),
    st.builds(Mutation, st.just("sig_other_body")),
    st.builds(
        Mutation,
        st.just("timestamp_resign"),
        value=st.one_of(st.integers(-200, 200), st.integers(400, 10**9), st.integers(-(10**9), -400)),
    ),
    st.builds(Mutation, st.just("timestamp_fraction"), value=st.sampled_from([".0", ".5", ".999", "e0"])),
    st.builds(Mutation, st.just("base64"), value=st.sampled_from(["honest", "flag-only", "corrupt", "unpadded"])),
)


def _splice(data: bytes, position: float, length: int = 0, insert: bytes = b"") -> bytes:
    index = min(len(data), int(position * len(data)))
    return data[:index] + insert + data[index + length :]


class MutableDelivery:
    """A valid Svix delivery being mutated; `event()` renders it as API Gateway would pass it on."""

    def __init__(self, secret: str, payload: dict[str, Any]) -> None:
        self.secret = secret
        self.payload = payload
        self.body = to_body(payload).encode()
        self.headers = svix_headers(secret, self.body.decode())
        self.base64 = False
        self.wire_body: str | None = None

    def header_name(self, short: str) -> str | None:
        return next((name for name in self.headers if name.lower().endswith(f"-{short}")), None)

    def apply(self, mutation: Mutation) -> None:
        if mutation.kind.startswith("body_"):
            self._mutate_body(mutation)
        elif mutation.kind.startswith("header_"):
            self._mutate_header(mutation)
        else:
            self._mutate_signature(mutation)

    def _mutate_body(self, mutation: Mutation) -> None:
        kind, value = mutation.kind, mutation.value
        if kind == "body_flip" and self.body:
            index = min(len(self.body) - 1, int(mutation.position * len(self.body)))
            self.body = self.body[:index] + bytes([self.body[index] ^ value]) + self.body[index + 1 :]
        elif kind == "body_truncate":
            self.body = self.body[: int(mutation.position * len(self.body))]
        elif kind == "body_insert":
            self.body = _splice(self.body, mutation.position, insert=value)
        elif kind == "body_reserialize":
            if value == "indent":
                self.body = json.dumps(self.payload, indent=2).encode()
            else:
                self.body = self.body.replace(b",", value.encode())
        elif kind == "body_escape":
            letters = [i for i, byte in enumerate(self.body) if chr(byte).isalpha()]
            if letters:
                index = letters[min(len(letters) - 1, int(mutation.position * len(letters)))]
                escaped = f"\\u{self.body[index]:04x}".encode()
                self.body = self.body[:index] + escaped + self.body[index + 1 :]

    def _mutate_header(self, mutation: Mutation) -> None:
        kind, value = mutation.kind, mutation.value
        name = self.header_name(mutation.target) if mutation.target else None
        if kind == "header_drop" and name:
            del self.headers[name]
        elif kind == "header_empty" and name:
            self.headers[name] = ""
        elif kind == "header_set" and name:
            self.headers[name] = value
        elif kind == "header_pad" and name:
            self.headers[name] = value + self.headers[name] + value
        elif kind == "header_duplicate" and name:
            self.headers[name] = f"{self.headers[name]},{self.headers[name]}"  # how API Gateway joins repeats
        elif kind == "header_case" and name:
            self.headers[name.upper()] = self.headers.pop(name)
        elif kind == "header_alias" and name:
            self.headers[name.lower().replace("svix-", "webhook-")] = self.headers.pop(name)

    def _mutate_signature(self, mutation: Mutation) -> None:
        kind, value = mutation.kind, mutation.value
        signature_name = self.header_name("signature")
        if kind == "sig_version" and signature_name:
            self.headers[signature_name] = self.headers[signature_name].replace("v1,", f"{value},")
        elif kind == "sig_corrupt" and signature_name and self.headers[signature_name]:
            text = self.headers[signature_name]
            index = min(len(text) - 1, int(mutation.position * len(text)))
            self.headers[signature_name] = text[:index] + value + text[index + 1 :]
        elif kind == "sig_add_entry" and signature_name:
            entries = [self.headers[signature_name]]
            entries.insert(0 if mutation.position < 0.5 else 1, value)
            self.headers[signature_name] = " ".join(entries)
        elif kind == "sig_other_secret":
            self._resign(secret=new_secret())
        elif kind == "sig_other_body":
            self._resign(body=self.body + b" ")
        elif kind == "timestamp_resign":
            self._resign(timestamp=now_seconds() + value)
        elif kind == "timestamp_fraction" and self.header_name("timestamp"):
            self.headers[str(self.header_name("timestamp"))] += value
        elif kind == "base64":
            self.base64 = value != "flag-only"
            encoded = base64.b64encode(self.body).decode()
            self.wire_body = {
                "honest": encoded,
                "flag-only": self.body.decode("utf-8", "surrogateescape"),
                "corrupt": "!" + encoded[1:],
                "unpadded": encoded.rstrip("="),
            }[value]
            if value == "flag-only":
                self.base64 = True

    def _resign(self, *, secret: str | None = None, body: bytes | None = None, timestamp: int | None = None) -> None:
        """Replace the signature with a correct one for other inputs (another secret, body or time)."""
        names = {short: self.header_name(short) for short in MUTATION_HEADERS}
        if not all(names.values()):
            return
        message_id = self.headers[str(names["id"])]
        stamp = timestamp if timestamp is not None else now_seconds()
        self.headers[str(names["timestamp"])] = str(stamp)
        self.headers[str(names["signature"])] = sign_bytes(secret or self.secret, message_id, stamp, body or self.body)

    def event(self) -> dict[str, Any]:
        event = http_api_event("", {})
        event["headers"] = dict(self.headers)
        if self.wire_body is not None:
            event["body"] = self.wire_body
        else:
            event["body"] = self.body.decode("utf-8", "surrogateescape")
        event["isBase64Encoded"] = self.base64
        return event


def carries_signature(header: str, expected: bytes) -> bool:
    """Whether a `v1,<base64>` entry of the header holds these signature bytes. Characters outside the base64
    alphabet are dropped first, as the verifier's lenient decoding does: noise around a genuine HMAC forges nothing."""
    for entry in header.split(" "):
        version, _, value = entry.partition(",")
        try:
            if version == "v1" and base64.b64decode(BASE64_NOISE.sub("", value) + "==") == expected:
                return True
        except ValueError:  # not decodable at all: certainly not these bytes
            continue
    return False


def validly_signed(secret: str, event: dict[str, Any]) -> bool:
    """An independent statement of the Svix rule: HMAC of `id.timestamp.body` under the secret, within 5 minutes."""
    try:
        if event["isBase64Encoded"]:
            body = base64.b64decode(event["body"], validate=True)
        else:
            body = event["body"].encode("utf-8")
    except ValueError:
        return False
    headers = {name.lower(): value for name, value in event["headers"].items()}
    found = [headers.get(f"svix-{short}") or headers.get(f"webhook-{short}") for short in MUTATION_HEADERS]
    message_id, timestamp, signatures = found
    if not (message_id and timestamp and signatures):
        return False
    try:
        seconds = float(timestamp)
        whole = math.floor(seconds)
    except (ValueError, OverflowError):
        return False
    if abs(seconds - now_seconds()) > 300:
        return False
    try:
        expected = sign_bytes(secret, message_id, whole, body)
    except UnicodeEncodeError:
        return False
    return carries_signature(signatures, base64.b64decode(expected.removeprefix("v1,")))


@fuzz_settings(scale=2)
@given(applied=st.lists(mutations, min_size=1, max_size=3))
def test_mutated_deliveries_are_accepted_only_while_validly_signed(shared_account, applied):
    shared_account.make_room()
    delivery = MutableDelivery(shared_account.secret, clerk_payload("user_mutated"))
    for mutation in applied:
        delivery.apply(mutation)
    event = delivery.event()
    signed = validly_signed(shared_account.secret, event)
    response = deliver(shared_account, event, kind="mutated")
    if signed:
        # A re-signed body may be garbage (400); fail-closed refusals of odd but authentic deliveries (a malformed
        # extra signature entry) are allowed too.
        assert response.status in (200, 400, 401)
        count(f"bad_input.mutated_authentic.{response.status}")
    else:
        assert_refused_untouched(shared_account, response, 401, 413)


# ---- 3. signed stories of random Clerk-shaped events: 200 or 400, and the table always follows the contract -------

PROVIDERS = (
    "oauth_x",
    "oauth_twitter",
    "x",
    "OAUTH_X",
    " oauth_x ",
    "oauth_instagram",
    "instagram",
    "oauth_tiktok",
    "oauth_custom_tiktok",
    "oauth_google",
    "oauth_github",
    "",
)
ACCOUNT_IDS = ("eac_1", "eac_2", "idn_1")
VERIFICATION_STATUSES = ("verified", "expired", "failed", "unverified", "transferable")
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["eac#1", "eac 1", "eac_1\n", "é", "", "a" * 129]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def mostly(
    valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any] = junk, *, odds: int = 5
) -> st.SearchStrategy[Any]:
    """`valid` `odds` times for each `other`: whole events stay valid often enough to reach the table."""
    # Not one_of(valid, ..., junk): hypothesis flattens nested one_of branches, which would let junk's many win.
    return st.integers(0, odds).flatmap(lambda pick: valid if pick else other)


def rarely_wrong(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """For the fields that decide whether an account is a connection at all: most accounts must become rows."""
    return mostly(valid, odds=15)


versions = st.integers(min_value=T0, max_value=T0 + 20)
accounts = st.fixed_dictionaries(
    {
        "provider": rarely_wrong(st.sampled_from(PROVIDERS)),
        "id": rarely_wrong(st.sampled_from(ACCOUNT_IDS)),
        "updated_at": rarely_wrong(versions),
        "verification": rarely_wrong(
            st.fixed_dictionaries(
                {"status": rarely_wrong(mostly(st.just("verified"), st.sampled_from(VERIFICATION_STATUSES), odds=2))}
            )
        ),
    },
    optional={
        "external_account_id": mostly(st.sampled_from(ACCOUNT_IDS)),
        "username": mostly(st.text(max_size=20)),
        "email_address": mostly(st.emails()),
        "first_name": mostly(st.text(max_size=10)),
        "image_url": mostly(st.text(max_size=10)),
        "avatar_url": mostly(st.text(max_size=10)),
        "approved_scopes": mostly(st.text(max_size=30)),
        "provider_user_id": mostly(st.text(max_size=10)),
        "access_token": st.just(TOKEN),
        "token": st.just(TOKEN),
    },
)


@st.composite
def account_lists(draw: st.DrawFn) -> list[Any]:
    """Account entries, sometimes with a garbled twin of one of them (same id, one field of the wrong type)."""
    entries: list[Any] = draw(st.lists(rarely_wrong(accounts), max_size=5))
    objects: list[dict[str, Any]] = [entry for entry in entries if isinstance(entry, dict)]
    add_twin: bool = draw(st.booleans())
    if objects and add_twin:
        twin = dict(draw(st.sampled_from(objects)))
        twin[draw(st.sampled_from(["updated_at", "username", "verification", "provider"]))] = draw(junk)
        entries.insert(draw(st.integers(0, len(entries))), twin)
    return entries


clerk_events = st.fixed_dictionaries(
    {
        "type": rarely_wrong(
            mostly(
                st.sampled_from(["user.created", "user.updated"]),
                st.sampled_from(["user.deleted", "session.created", "USER.CREATED", ""]),
            )
        ),
        "data": rarely_wrong(
            st.fixed_dictionaries(
                {
                    "id": rarely_wrong(st.sampled_from(["user_a", "user_b"])),
                    "updated_at": rarely_wrong(versions),
                    "external_accounts": rarely_wrong(account_lists()),
                },
                optional={"deleted": mostly(st.just(True)), "external_id": junk, "object": st.just("user")},
            )
        ),
    },
    optional={"object": st.just("event"), "timestamp": versions, "instance_id": junk},
)


def _isolate(event: Any, suffix: str) -> Any:
    """Give the pool's user ids a per-example suffix so that examples share the table without sharing users."""
    if isinstance(event, dict) and isinstance(event.get("data"), dict):
        user_id = event["data"].get("id")
        if user_id in ("user_a", "user_b"):
            event = {**event, "data": {**event["data"], "id": f"{user_id}{suffix}"}}
    return event


def _twice_malformed_story() -> list[tuple[dict[str, Any], bool]]:
    """What hypothesis found: the same stored account twice, both malformed, made a transaction touch one row twice."""
    account = {"provider": "oauth_x", "id": "eac_2", "updated_at": T0, "verification": {"status": "verified"}}
    broken = {
        "provider": "oauth_x",
        "id": None,
        "updated_at": None,
        "verification": None,
        "external_account_id": "eac_2",
    }
    first = {"type": "user.created", "data": {"id": "user_b", "updated_at": T0, "external_accounts": [account]}}
    second = {"type": "user.created", "data": {"id": "user_b", "updated_at": T0 + 1, "external_accounts": [broken] * 2}}
    return [(first, False), (second, False)]


@fuzz_settings(scale=1)
@example(story=_twice_malformed_story())
@given(
    story=st.lists(
        st.tuples(mostly(clerk_events, json_values), st.booleans()),
        min_size=1,
        max_size=6,
    )
)
def test_signed_random_clerk_events_never_fail_and_keep_the_contract(shared_account, story):
    shared_account.make_room(len(story))
    suffix = f"x{next(_user_numbers)}"
    deleted: set[str] = set()
    touched: set[str] = set()
    for raw_event, base64_encoded in story:
        event = _isolate(raw_event, suffix)
        response = deliver(
            shared_account,
            signed_event(shared_account.secret, json.dumps(event), base64_encoded=base64_encoded),
            kind="signed_random",
        )
        assert response.status in (200, 400), response.body
        if response.status != 200 or "userId" not in response.body:
            continue
        user_id, outcome = response.body["userId"], response.body["outcome"]
        touched.add(user_id)
        profile = user_rows(user_id).get("PROFILE")
        assert profile is not None
        if outcome in ("deleted", "already_deleted", "user_deleted"):
            deleted.add(user_id)
        if user_id in deleted:
            assert profile["profileStatus"] == "deleted", "a deleted user came back"
        elif outcome == "applied":
            assert profile["version"] == event["data"]["updated_at"]
        else:
            assert outcome in ("duplicate", "stale")
            assert profile["version"] >= event["data"]["updated_at"]
    items = [item for item in table_items() if item["pk"].endswith(suffix)]
    assert contract_violations(items) == []
    assert {item["pk"].removeprefix("USER#") for item in items} <= touched
    assert TOKEN not in repr(items)


# ---- 4. the fixed corpus: every truncation, a wrong type in every field, and named nasty cases -------------------


def test_every_truncation_of_a_signed_payload_is_a_400_without_table_access(shared_account):
    body = to_body(clerk_payload("user_truncated"))
    for length in range(len(body)):
        for base64_encoded in (False, True) if length % 7 == 0 else (False,):
            event = signed_event(shared_account.secret, body[:length], base64_encoded=base64_encoded)
            response = deliver(shared_account, event, kind="truncated")
            assert_refused_untouched(shared_account, response, 400)


# One value of each JSON type; a field gets every one whose type differs from its own.
WRONG_VALUES: dict[str, Any] = {
    "null": None,
    "bool": True,
    "int": 7,
    "float": 1.5,
    "string": "wrong",
    "numeric_string": "1716883200000",
    "nested_list": json.loads("[" * 40 + "]" * 40),
    "object": {"k": "v"},
}
# From this budget on (`make reliability`), every field gets every wrong type, not three of them.
DEEP_EXAMPLES = 1000
# Cases share one user, so each mostly costs a profile update; the table is rebuilt now and then (moto slows as its
# stream grows).
CASES_PER_TABLE = 40


def json_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if path:
        yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from json_paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from json_paths(child, (*path, index))


def value_at(payload: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        payload = payload[step]
    return payload


def replaced(payload: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    result = copy.deepcopy(payload)
    value_at(result, path[:-1])[path[-1]] = value
    return result


# Fields a wrong type must make the whole event a 400: what keys, orders or classifies it.
STRICT_PATHS = {("data",), ("data", "id"), ("data", "updated_at"), ("data", "external_accounts")}
DELETION_STRICT_PATHS = {("type",), ("data",), ("data", "id")}


def connection_rows(user_id: str) -> dict[str, dict[str, Any]]:
    return {sk: row for sk, row in user_rows(user_id).items() if sk != "PROFILE"}


def check_wrong_type_outcome(
    path: tuple[Any, ...], value: Any, response: HttpResponse, before: dict[str, dict[str, Any]], user_id: str
) -> dict[str, dict[str, Any]]:
    """Assert what a wrong type at `path` may do; returns the user's rows afterwards."""
    if path == ("type",) or path in STRICT_PATHS:
        assert response.status == 400, f"{path} = {value!r} was accepted"
        return before  # refused requests never write (checked in deliver)
    assert response.status == 200, f"{path} = {value!r} refused an otherwise valid event"
    after = connection_rows(user_id)
    # A wrong type in one account never stops the others; elsewhere (fields not read) it changes nothing at all.
    spoiled = path[2] if path[:2] == ("data", "external_accounts") and len(path) > 2 else None
    for position, (sk, status) in EXPECTED_BY_POSITION.items():
        if position != spoiled:
            assert after.get(sk, {}).get("connectionStatus") == status, f"{path} = {value!r} broke {sk}"
    settled = all(before.get(sk, {}).get("connectionStatus") == status for sk, status in EXPECTED_BY_POSITION.values())
    if spoiled is None and settled:
        assert after == before, f"{path} = {value!r} changed rows though the service does not read it"
    return after


def wrong_type_cases(base: dict[str, Any]) -> list[tuple[tuple[Any, ...], Any]]:
    """Every field with wrong-typed values: all of them on demand, three per field (rotating) in CI."""
    per_field = len(WRONG_VALUES) if examples() >= DEEP_EXAMPLES else 3
    cases: list[tuple[tuple[Any, ...], Any]] = []
    for number, path in enumerate(json_paths(base)):
        wrong = [value for value in WRONG_VALUES.values() if type(value_at(base, path)) is not type(value)]
        rotated = wrong[number % len(wrong) :] + wrong[: number % len(wrong)]
        cases.extend((path, value) for value in rotated[:per_field])
    return cases


def test_a_wrong_type_in_every_field_of_a_clerk_payload(shared_account):
    cases = wrong_type_cases(clerk_payload("user_wt"))
    user_id, version, rows = "", T0, {}
    for number, (path, value) in enumerate(cases):
        if number % CASES_PER_TABLE == 0:
            shared_account.rebuild_table()
            user_id, version = fresh_user("user_wt"), T0
            created = signed_event(shared_account.secret, to_body(clerk_payload(user_id, event_type="user.created")))
            assert deliver(shared_account, created, kind="wrong_type").status == 200
            rows = connection_rows(user_id)
        version += 1
        payload = replaced(clerk_payload(user_id, version=version), path, value)
        response = deliver(shared_account, signed_event(shared_account.secret, to_body(payload)), kind="wrong_type")
        rows = check_wrong_type_outcome(path, value, response, rows, user_id)
    assert len({path for path, _ in cases}) > 150  # every field of a real-shaped payload
    assert contract_violations(table_items()) == []


def test_a_wrong_type_in_every_field_of_a_deletion(shared_account):
    for path, value in wrong_type_cases(deleted_event("user_wd")):
        user_id = fresh_user("user_wd")
        payload = replaced(deleted_event(user_id), path, value)
        response = deliver(shared_account, signed_event(shared_account.secret, to_body(payload)), kind="wrong_type")
        assert response.status == (400 if path in DELETION_STRICT_PATHS else 200), path
        profile = user_rows(user_id).get("PROFILE")
        if response.status == 200 and response.body["outcome"] == "deleted":
            assert profile is not None
            assert profile["profileStatus"] == "deleted"
        else:
            assert profile is None


# Named nasty cases: each builds its events from the secret (setup events first, the case itself last) and lists
# the statuses the last one may get.
NastyCase = Callable[[str], list[dict[str, Any]]]
VALID = to_body(clerk_payload("user_nasty"))
X_ACCOUNT = external_account("eac_x1", "oauth_x", updated_at=T0)
LONG_AGO, FAR_AHEAD = datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)


def signed_body(text: str, *, base64_encoded: bool = False) -> NastyCase:
    return lambda secret: [signed_event(secret, text, base64_encoded=base64_encoded)]


def signed_raw_bytes(data: bytes) -> NastyCase:
    """Bytes signed with the Svix scheme and passed base64-encoded, as API Gateway does for non-text bodies."""

    def build(secret: str) -> list[dict[str, Any]]:
        message_id, stamp = new_message_id(), now_seconds()
        signature = sign_bytes(secret, message_id, stamp, data)
        headers = {"svix-id": message_id, "svix-timestamp": str(stamp), "svix-signature": signature}
        return [http_api_event(data, headers, base64_encoded=True)]

    return build


def unsigned(body: str | bytes, *, base64_encoded: bool = False) -> NastyCase:
    return lambda _secret: [http_api_event(body, {}, base64_encoded=base64_encoded)]


def with_event(change: Callable[[dict[str, Any]], dict[str, Any]], *, base64_encoded: bool = False) -> NastyCase:
    """A valid delivery whose API Gateway event is then altered (encoding flags, body transport)."""
    return lambda secret: [change(signed_event(secret, VALID, base64_encoded=base64_encoded))]


def with_headers(change: Callable[[dict[str, str]], dict[str, str]], body: str = VALID) -> NastyCase:
    return lambda secret: [http_api_event(body, change(svix_headers(secret, body)))]


def header(name: str, transform: Callable[[str], str]) -> NastyCase:
    return with_headers(lambda headers: {**headers, name: transform(headers[name])})


def timestamp_header(text: str) -> NastyCase:
    return header("svix-timestamp", lambda _value: text)


def signed_at(moment: Callable[[], datetime]) -> NastyCase:
    return lambda secret: [http_api_event(VALID, svix_headers(secret, VALID, timestamp=moment()))]


def in_valid(old: str, new: str) -> str:
    assert VALID.count(old) == 1, old
    return VALID.replace(old, new)


def padded_to(size: int, user_id: str) -> str:
    payload = clerk_payload(user_id)
    payload["data"]["public_metadata"] = {"pad": ""}
    payload["data"]["public_metadata"] = {"pad": "x" * (size - len(to_body(payload)))}
    body = to_body(payload)
    assert len(body.encode()) == size
    return body


def nested(depth: int) -> str:
    prefix = '{"type":"user.updated","data":{"id":"user_deep","updated_at":1,"public_metadata":'
    return prefix + "[" * depth + "]" * depth + "}}"


def after_creation(user_id: str, *accounts: dict[str, Any]) -> NastyCase:
    """The user exists with X connected; then a signed snapshot with `accounts` arrives."""
    created = to_body(user_event("user.created", user_id, updated_at=T0, accounts=[X_ACCOUNT]))
    updated = to_body(user_event("user.updated", user_id, updated_at=T0 + 1, accounts=list(accounts)))
    return lambda secret: [signed_event(secret, created), signed_event(secret, updated)]


def rebase64(change: Callable[[str], str], text: str) -> NastyCase:
    def build(secret: str) -> list[dict[str, Any]]:
        event = signed_event(secret, text, base64_encoded=True)
        return [{**event, "body": change(event["body"])}]

    return build


def needs_base64_padding(text: str) -> str:
    """`text` plus trailing spaces so that its length is not a multiple of 3 (its base64 then ends in '=')."""
    return text + " " * (2 if len(text) % 3 == 2 else 1)


def with_line_breaks(encoded: str) -> str:
    return "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def many_accounts(count_: int) -> str:
    accounts = [
        {"id": f"eac_{i}", "provider": "oauth_x", "updated_at": T0, "verification": {"status": "verified"}}
        for i in range(count_)
    ]
    return to_body(user_event("user.created", "user_many", updated_at=T0, accounts=accounts))


def fullwidth(digits: str) -> str:
    return digits.translate({48 + d: 0xFF10 + d for d in range(10)})


def as_aliases(headers: dict[str, str]) -> dict[str, str]:
    return {name.replace("svix-", "webhook-"): value for name, value in headers.items()}


DATA_VERSION = f'"updated_at":{T0},"created_at"'
BROKEN_X = {**X_ACCOUNT, "updated_at": "soon"}
NASTY: list[Any] = [
    # encodings
    pytest.param(signed_raw_bytes(b'{"type":"user.deleted","data":{"id":"u\xff"}}'), (400, 401), id="non-utf8"),
    pytest.param(signed_raw_bytes(VALID.replace("Ada", "Ad\u00e9").encode("latin-1")), (400, 401), id="latin-1"),
    pytest.param(signed_raw_bytes(VALID.encode("utf-16")), (400, 401), id="utf-16"),
    pytest.param(signed_raw_bytes(gzip.compress(VALID.encode())), (400, 401), id="gzip"),
    pytest.param(signed_body("\ufeff" + VALID), (400,), id="utf8-bom"),
    pytest.param(signed_body(in_valid('"ada_x"', '"\\ud800"')), (400,), id="lone-surrogate-escape"),
    pytest.param(signed_body(in_valid('"ada_x"', '"a\\u0000x"')), (200,), id="nul-in-strings"),
    pytest.param(with_event(lambda e: {**e, "isBase64Encoded": True}), (401,), id="base64-flag-on-plain-body"),
    pytest.param(
        with_event(lambda e: {**e, "isBase64Encoded": False}, base64_encoded=True), (401,), id="base64-body-flag-off"
    ),
    pytest.param(rebase64(with_line_breaks, VALID), (200, 401), id="base64-with-line-breaks"),
    pytest.param(
        rebase64(lambda b: b.replace("+", "-").replace("/", "_"), VALID + "?>?>"), (401,), id="base64-url-alphabet"
    ),
    pytest.param(rebase64(lambda b: b.rstrip("="), needs_base64_padding(VALID)), (401,), id="base64-unpadded"),
    pytest.param(signed_body(""), (400,), id="empty-body"),
    pytest.param(lambda s: [{**signed_event(s, ""), "body": None}], (400,), id="missing-body"),
    # sizes
    pytest.param(signed_body(padded_to(MAX_BODY, "user_max")), (200,), id="exactly-256-KiB"),
    pytest.param(signed_body(padded_to(MAX_BODY + 1, "user_over")), (413,), id="256-KiB-plus-one"),
    pytest.param(
        signed_body(padded_to(MAX_BODY + 1, "user_over"), base64_encoded=True), (413,), id="256-KiB-plus-one-base64"
    ),
    pytest.param(unsigned("x" * (10 * 1024 * 1024)), (413,), id="10-MiB-unsigned"),
    pytest.param(unsigned(b"\0" * (10 * 1024 * 1024), base64_encoded=True), (413,), id="10-MiB-base64-unsigned"),
    # structure
    pytest.param(signed_body(nested(100_000)), (400,), id="nesting-100k-deep"),
    pytest.param(signed_body(nested(1_000)), (200, 400), id="nesting-1k-deep"),
    pytest.param(unsigned(nested(100_000)), (401,), id="nesting-100k-deep-unsigned"),
    pytest.param(signed_body("[" + VALID + "]"), (400,), id="top-level-array"),
    pytest.param(signed_body(json.dumps(VALID)), (400,), id="top-level-string"),
    pytest.param(signed_body("null"), (400,), id="top-level-null"),
    pytest.param(signed_body(VALID[:-1] + ',"type":"user.deleted"}'), (200, 400), id="duplicate-keys"),
    pytest.param(signed_body(VALID[:-1] + ',"x":NaN,"y":-Infinity}'), (200, 400), id="nan-infinity-literals"),
    pytest.param(
        signed_body(in_valid(DATA_VERSION, '"updated_at":1' + "0" * 400 + ',"created_at"')), (400,), id="v-1e400"
    ),
    pytest.param(signed_body(in_valid(DATA_VERSION, '"updated_at":1.7e12,"created_at"')), (400,), id="v-float"),
    pytest.param(signed_body(in_valid(DATA_VERSION, '"updated_at":0,"created_at"')), (400,), id="v-zero"),
    pytest.param(signed_body(in_valid(DATA_VERSION, '"updated_at":-5,"created_at"')), (400,), id="v-negative"),
    pytest.param(
        signed_body(in_valid(DATA_VERSION, f'"updated_at":{10**15 - 1},"created_at"')), (200,), id="v-largest"
    ),
    pytest.param(signed_body(in_valid('"user_nasty"', '"user_nasty\\n"')), (400,), id="user-id-newline"),
    pytest.param(signed_body(in_valid('"user_nasty"', '"' + "u" * 129 + '"')), (400,), id="user-id-129-chars"),
    pytest.param(signed_body(in_valid('"user_nasty"', '"user_n\u00e4sty"')), (400,), id="user-id-unicode"),
    pytest.param(signed_body(in_valid('"user_nasty"', '"USER#user_nasty"')), (400,), id="user-id-key-injection"),
    pytest.param(signed_body(many_accounts(120)), (200,), id="120-mapped-accounts"),
    pytest.param(after_creation("user_dup1", X_ACCOUNT, BROKEN_X), (200,), id="same-account-valid-and-malformed"),
    pytest.param(
        after_creation("user_dup2", BROKEN_X, {**X_ACCOUNT, "username": 1}), (200,), id="same-account-malformed-twice"
    ),
    pytest.param(
        after_creation("user_dup3", BROKEN_X, {**X_ACCOUNT, "id": "eac_other", "external_account_id": "eac_x1"}),
        (200,),
        id="malformed-account-and-alias-id",
    ),
    pytest.param(
        after_creation("user_dup4", X_ACCOUNT, {**X_ACCOUNT, "provider": "oauth_twitter"}),
        (200,),
        id="same-account-two-provider-aliases",
    ),
    pytest.param(after_creation("user_hash", X_ACCOUNT, {**X_ACCOUNT, "id": "eac#1"}), (200,), id="account-id-hash"),
    # headers
    pytest.param(header("svix-id", lambda v: f"{v},{v}"), (401,), id="svix-id-repeated"),
    pytest.param(header("svix-timestamp", lambda v: f"{v},{v}"), (401,), id="svix-timestamp-repeated"),
    pytest.param(header("svix-signature", lambda v: f"{v},{v}"), (401,), id="svix-signature-repeated"),
    pytest.param(
        with_headers(lambda h: {**h, "webhook-id": "x", "webhook-timestamp": "y", "webhook-signature": "z"}),
        (200,),
        id="svix-valid-webhook-garbage",
    ),
    pytest.param(
        with_headers(lambda h: {**as_aliases(h), "svix-signature": "v1,AAAA"}), (401,), id="svix-garbage-webhook-valid"
    ),
    pytest.param(
        with_headers(lambda h: {**as_aliases(h), **dict.fromkeys(h, "")}), (200,), id="empty-svix-valid-aliases"
    ),
    pytest.param(header("svix-signature", lambda v: " " + v), (200, 401), id="signature-leading-space"),
    pytest.param(header("svix-signature", lambda v: "v1,AAAA " * 1000 + v), (200,), id="signature-after-1000-decoys"),
    pytest.param(header("svix-signature", lambda v: "v1 " + v), (200, 401), id="signature-after-malformed-entry"),
    pytest.param(header("svix-signature", lambda v: v.replace("v1,", "v0,")), (401,), id="signature-v0"),
    pytest.param(header("svix-signature", lambda v: v.replace("v1,", "v2,")), (401,), id="signature-v2"),
    pytest.param(header("svix-signature", lambda v: v.replace("v1,", "V1,")), (401,), id="signature-V1"),
    pytest.param(header("svix-signature", lambda v: v.replace("v1,", "v1a,")), (401,), id="signature-v1a"),
    pytest.param(header("svix-signature", lambda _v: "v1,"), (401,), id="signature-empty"),
    pytest.param(header("svix-signature", lambda _v: "v1,\u00e9\u00e9\u00e9\u00e9"), (401,), id="signature-non-ascii"),
    pytest.param(header("svix-id", lambda _v: new_message_id()), (401,), id="signature-of-another-message-id"),
    pytest.param(signed_at(lambda: LONG_AGO), (401,), id="signed-at-epoch-zero"),
    pytest.param(signed_at(lambda: FAR_AHEAD), (401,), id="signed-in-year-3000"),
    pytest.param(signed_at(lambda: datetime.now(tz=UTC) - timedelta(minutes=6)), (401,), id="signed-6-min-ago"),
    pytest.param(signed_at(lambda: datetime.now(tz=UTC) + timedelta(minutes=6)), (401,), id="signed-6-min-ahead"),
    pytest.param(signed_at(lambda: datetime.now(tz=UTC) - timedelta(days=3)), (401,), id="replayed-3-days-later"),
    pytest.param(header("svix-timestamp", lambda v: v + "000"), (401,), id="timestamp-in-milliseconds"),
    pytest.param(header("svix-timestamp", lambda v: v + ".25"), (200,), id="timestamp-with-fraction"),
    pytest.param(header("svix-timestamp", fullwidth), (200, 401), id="timestamp-fullwidth-digits"),
    *(
        pytest.param(timestamp_header(text), (401,), id=f"timestamp-{name}")
        for name, text in {
            "nan": "nan",
            "inf": "inf",
            "minus-inf": "-inf",
            "1e309": "1e309",
            "negative": "-1",
            "hex": "0x10",
            "empty": "",
            "blank": " ",
            "400-digits": "9" * 400,
        }.items()
    ),
]


@pytest.mark.parametrize(("build", "allowed"), NASTY)
def test_nasty_corpus(shared_account, build, allowed):
    *setup, case = build(shared_account.secret)
    shared_account.make_room(len(setup) + 1)
    for event in setup:
        assert deliver(shared_account, event, kind="corpus").status == 200
    response = deliver(shared_account, case, kind="corpus")
    assert response.status in allowed, response.body
    if response.status in (401, 413):
        assert shared_account.calls.total == 0
    assert contract_violations(table_items()) == []


# ---- 5. signing secrets of the wrong format on our side: a loud 500, never a 2xx, never a write -------------------

GOOD_SECRET = new_secret()
WRONG_FORMAT_SECRETS = {
    "empty": "",
    "blank": "   ",
    "prefix-only": "whsec_",
    "not-base64": "whsec_%%%not-base64%%%",
    "not-base64-but-decodable-when-lenient": "whsec_%%%notbase64x%%%",
    "clerk-api-key-by-mistake": "sk_test_" + "Q7mR2vX9kL4pW8nZ3tB6yH1c",
    "secrets-manager-json": json.dumps({"CLERK_WEBHOOK_SECRET": GOOD_SECRET}),
    "url-safe-alphabet": "whsec_" + base64.urlsafe_b64encode(b"\xfb\xff" * 12).decode(),
    "good-one-and-a-broken-one": f"{GOOD_SECRET},whsec_%%%broken%%%",
}


@pytest.mark.parametrize("name", list(WRONG_FORMAT_SECRETS))
def test_configured_secret_of_the_wrong_format_fails_loudly(shared_account, name):
    with configured(CLERK_WEBHOOK_SECRET=WRONG_FORMAT_SECRETS[name]):
        body = to_body(clerk_payload(fresh_user()))
        for signer in (GOOD_SECRET, new_secret()):
            shared_account.calls.reset()
            response = invoke(http_api_event(body, svix_headers(signer, body)))
            count("bad_input.requests")
            count("bad_input.wrong_secret_config")
            count(f"bad_input.status.{response.status}")
            # Our misconfiguration is a 500 (alarm, Svix retries), not a 401 that blames the sender.
            assert response.status == 500, f"{name}: {response.status}"
            assert response.body == {"error": "webhook receiver is misconfigured"}
            assert shared_account.calls.total == 0


def test_sender_secret_of_the_wrong_format_is_refused(shared_account):
    body = to_body(clerk_payload(fresh_user()))
    for signer in ("whsec_" + base64.b64encode(b"k").decode(), base64.b64encode(b"x" * 64).decode(), new_secret()):
        response = deliver(shared_account, http_api_event(body, svix_headers(signer, body)), kind="wrong_sender_secret")
        assert_refused_untouched(shared_account, response, 401)
