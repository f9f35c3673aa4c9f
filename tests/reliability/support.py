"""Machinery shared by the reliability suite: budgets, figures, signed deliveries, table snapshots, contract checks."""

from __future__ import annotations

import importlib
import json
import os
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

from devtools.testkit.aws import TEST_TABLE_NAME
from devtools.testkit.deliveries import HttpResponse, invoke_http
from devtools.testkit.table import table_items

# Examples per property test when RELIABILITY_EXAMPLES is not set; `make reliability` raises it.
DEFAULT_EXAMPLES = 250
FIGURES_ENV = "RELIABILITY_FIGURES"
EXAMPLES_ENV = "RELIABILITY_EXAMPLES"

# Attributes whose value is the wall clock of the write, not a function of the events.
WALL_CLOCK_ATTRIBUTES = frozenset({"lastSyncAt", "lastErrorAt", "deletedAt"})

_figures: Counter[str] = Counter()
_figures_lock = threading.Lock()


def count(name: str, amount: int = 1) -> None:
    """Add to one of the figures `make reliability` publishes (thread-safe: races count from worker threads)."""
    with _figures_lock:
        _figures[name] += amount


def figures() -> dict[str, int]:
    with _figures_lock:
        return dict(sorted(_figures.items()))


def write_figures(path: Path, exit_status: int) -> None:
    payload = {"exit_status": exit_status, "examples_per_property": examples(), "figures": figures()}
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def examples(scale: float = 1.0) -> int:
    """The example budget of one property test: RELIABILITY_EXAMPLES (or the CI default) times `scale`."""
    base = int(os.environ.get(EXAMPLES_ENV, "") or DEFAULT_EXAMPLES)
    return max(1, int(base * scale))


def fuzz_settings(scale: float = 1.0) -> settings:
    # No deadline: CI timing is noisy and no test may assert on it. Function-scoped autouse fixtures only set the
    # same environment variables for every example, so sharing them across examples is harmless.
    return settings(
        max_examples=examples(scale),
        deadline=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# ---- deliveries ------------------------------------------------------------------------------------------------


def webhook_module() -> Any:
    return importlib.import_module("functions.clerk_webhook.app")


def stream_module() -> Any:
    return importlib.import_module("functions.connection_stream.app")


def invoke(event: dict[str, Any]) -> HttpResponse:
    """The real webhook lambda_handler, answering like API Gateway would relay it."""
    return invoke_http(webhook_module().lambda_handler, event)


def now_seconds() -> int:
    return int(datetime.now(tz=UTC).timestamp())


# ---- the table ---------------------------------------------------------------------------------------------------


TableState = dict[tuple[str, str], dict[str, Any]]


def table_state(table_name: str = TEST_TABLE_NAME, *, ignore: Iterable[str] = WALL_CLOCK_ATTRIBUTES) -> TableState:
    """The table keyed by (pk, sk), without the attributes that only record when a write happened."""
    ignored = set(ignore)
    return {
        (item["pk"], item["sk"]): {name: value for name, value in item.items() if name not in ignored}
        for item in table_items(table_name)
    }


def rows_lost(expected: TableState, actual: TableState) -> int:
    """Rows of `expected` missing or different in `actual`, plus rows `actual` has that `expected` lacks; counted."""
    lost = sum(1 for key, row in expected.items() if actual.get(key) != row)
    extra = sum(1 for key in actual if key not in expected)
    count("rows.compared", len(expected))
    count("rows.lost", lost + extra)
    return lost + extra


# ---- the data contract -------------------------------------------------------------------------------------------

_CLERK_ID = re.compile(r"\A[A-Za-z0-9_\-]{1,128}\Z")
_ISO_MILLIS = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\Z")
PLATFORMS = frozenset({"twitter", "instagram", "tiktok"})
CONNECTION_STATUSES = frozenset({"connected", "disconnected", "expired", "error"})
TOMBSTONE_ATTRIBUTES = frozenset({"pk", "sk", "userId", "profileStatus", "deletedAt"})
PROFILE_ATTRIBUTES = frozenset({"pk", "sk", "userId", "profileStatus", "version", "snapshotDigest", "rowState"})
_DIGEST = re.compile(r"[0-9a-f]{32}")
_ROW_STATE = re.compile(r"[cdxe][01]\d+:([A-Za-z0-9_-]{11})?")
_DETAILS_DIGEST = re.compile(r"[A-Za-z0-9_-]{11}")
CONNECTION_ATTRIBUTES = frozenset(
    {
        "pk",
        "sk",
        "userId",
        "platform",
        "externalAccountId",
        "connectionStatus",
        "platformUserId",
        "platformUsername",
        "connectedAt",
        "updatedAt",
        "lastSyncAt",
        "errorCount",
        "lastError",
        "lastErrorAt",
        "version",
        "accountVersion",
        "metadata",
        "platformUser",
        "attention",
        "detailsDigest",
    }
)
METADATA_KEYS = frozenset(
    {
        "email",
        "firstName",
        "lastName",
        "imageUrl",
        "provider",
        "clerkAccountId",
        "verificationStatus",
        "approvedScopes",
    }
)


# Personal data a row loses when it becomes disconnected, or when its platform user asks for deletion (Meta).
PERSONAL_METADATA_KEYS = frozenset({"email", "firstName", "lastName", "imageUrl"})
DELETION_REQUEST_ATTRIBUTES = frozenset(
    {"pk", "sk", "confirmationCode", "requestStatus", "receivedAt", "requestedAt", "completedAt", "rowsAffected"}
)
_CONFIRMATION_CODE = re.compile(r"\A[0-9a-f]{20}\Z")


def _is_count(value: object) -> bool:
    return isinstance(value, Decimal) and value == value.to_integral_value() and value >= 0


def contract_violations(items: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every way the items break the data contract other services read (empty when they all follow it)."""
    problems: list[str] = []
    for item in items:
        pk, sk = str(item.get("pk")), str(item.get("sk"))
        where = f"{pk}/{sk}"
        if pk.startswith("DATA_DELETION#"):
            problems.extend(
                f"{where}: {p}" for p in _deletion_request_problems(item, pk.removeprefix("DATA_DELETION#"))
            )
            continue
        user_id = pk.removeprefix("USER#")
        if not pk.startswith("USER#") or not _CLERK_ID.match(user_id) or item.get("userId") != user_id:
            problems.append(f"{where}: key and userId disagree or the id is not a Clerk id")
        if sk == "PROFILE":
            problems.extend(f"{where}: {p}" for p in _profile_problems(item))
        elif sk.startswith("CONNECTION#"):
            problems.extend(f"{where}: {p}" for p in _connection_problems(item, sk))
        else:
            problems.append(f"{where}: unknown item type")
    return problems


def _profile_problems(item: Mapping[str, Any]) -> list[str]:
    status = item.get("profileStatus")
    if status == "deleted":
        extra = set(item) - TOMBSTONE_ATTRIBUTES
        return [f"tombstone carries {sorted(extra)}"] if extra else []
    if status != "active":
        return [f"profileStatus {status!r}"]
    problems = [f"profile carries {sorted(set(item) - PROFILE_ATTRIBUTES)}"] if set(item) - PROFILE_ATTRIBUTES else []
    if not _is_count(item.get("version")):
        problems.append("profile version is not an integer")
    digest = item.get("snapshotDigest")
    if digest is not None and not (isinstance(digest, str) and _DIGEST.fullmatch(digest)):
        problems.append("profile snapshotDigest is not 32 hex digits")
    copy = item.get("rowState", {})
    if (
        not isinstance(copy, dict)
        or (copy and copy.get("v") != "1")
        or not all(
            str(key).partition("#")[0] in PLATFORMS and isinstance(row, str) and _ROW_STATE.fullmatch(row)
            for key, row in copy.items()
            if key != "v"
        )
    ):
        problems.append("profile rowState is not a map of <platform>#<id> to <status><verified><version>:<digest>")
    return problems


def copy_violations(items: Iterable[Mapping[str, Any]]) -> list[str]:
    """Where a profile's copy of its rows is not exact in what only snapshot writes change: which rows exist, their
    account version, and the details digest of rows that carry one (an erasure since removes the row's)."""
    by_user: dict[str, dict[str, Mapping[str, Any]]] = {}
    for item in items:
        by_user.setdefault(str(item["pk"]), {})[str(item["sk"])] = item
    problems = []
    for pk, user_items in by_user.items():
        copy = dict(user_items.get("PROFILE", {}).get("rowState") or {})
        if copy.pop("v", None) != "1":
            continue
        rows = {sk.removeprefix("CONNECTION#"): row for sk, row in user_items.items() if sk.startswith("CONNECTION#")}
        if set(copy) != set(rows):
            problems.append(f"{pk}: rowState lists {sorted(copy)}, the rows are {sorted(rows)}")
            continue
        for key, encoded in copy.items():
            version, _, digest = str(encoded)[2:].partition(":")
            row = rows[key]
            carried = row.get("detailsDigest")
            if Decimal(version) != row.get("accountVersion") or (digest and carried and digest != carried):
                problems.append(f"{pk}: rowState of {key} is not the row's account version and details digest")
    return problems


def _connection_problems(item: Mapping[str, Any], sk: str) -> list[str]:
    problems: list[str] = []
    parts = sk.split("#")
    if len(parts) != 3 or parts[1] not in PLATFORMS or not _CLERK_ID.match(parts[2]):
        return [f"malformed sort key {sk!r}"]
    if item.get("platform") != parts[1] or item.get("externalAccountId") != parts[2]:
        problems.append("platform/externalAccountId disagree with the key")
    if item.get("connectionStatus") not in CONNECTION_STATUSES:
        problems.append(f"connectionStatus {item.get('connectionStatus')!r}")
    if set(item) - CONNECTION_ATTRIBUTES:
        problems.append(f"unexpected attributes {sorted(set(item) - CONNECTION_ATTRIBUTES)}")
    if not _is_count(item.get("errorCount")):
        problems.append("errorCount is not a non-negative integer")
    for name in ("connectedAt", "updatedAt", "lastSyncAt", "lastErrorAt"):
        if name in item and not (isinstance(item[name], str) and _ISO_MILLIS.match(item[name])):
            problems.append(f"{name} is not ISO-8601 UTC with milliseconds")
    for name in ("platformUserId", "platformUsername"):
        if item.get(name) is not None and not isinstance(item[name], str):
            problems.append(f"{name} is not a string")
    problems.extend(_index_key_problems(item))
    metadata = item.get("metadata")
    # A disconnected row, or one whose platform user asked for deletion, keeps no personal data.
    without_personal = METADATA_KEYS - PERSONAL_METADATA_KEYS
    allowed = (
        [without_personal] if item.get("connectionStatus") == "disconnected" else [METADATA_KEYS, without_personal]
    )
    if isinstance(metadata, dict) and set(metadata) == without_personal and "platformUsername" in item:
        problems.append("a row without personal data still has platformUsername")
    problems.extend(_details_digest_problems(item, without_personal))
    if not isinstance(metadata, dict) or set(metadata) not in allowed:
        problems.append("metadata does not have exactly the contract's keys for its state")
    elif not isinstance(metadata["approvedScopes"], list) or not all(
        isinstance(scope, str) for scope in metadata["approvedScopes"]
    ):
        problems.append("approvedScopes is not a list of strings")
    return problems


def _details_digest_problems(item: Mapping[str, Any], without_personal: frozenset[str]) -> list[str]:
    """The row's detailsDigest: well formed, and gone with its personal data (a disconnect or an erasure)."""
    problems = []
    metadata = item.get("metadata")
    details_digest = item.get("detailsDigest")
    if details_digest is not None and not (
        isinstance(details_digest, str) and _DETAILS_DIGEST.fullmatch(details_digest)
    ):
        problems.append("detailsDigest is not 11 base64url characters")
    if details_digest is not None and isinstance(metadata, dict) and set(metadata) == without_personal:
        problems.append("a row without personal data still has the detailsDigest of its details")
    return problems


def _index_key_problems(item: Mapping[str, Any]) -> list[str]:
    """Both GSI keys follow the row: `attention` is "<status>#<platform>" exactly while expired or error, and
    `platformUser` is exactly "<platform>#<platformUserId>", absent without a platform id (none, or an empty one)."""
    problems: list[str] = []
    needs_attention = item.get("connectionStatus") in {"expired", "error"}
    if item.get("attention") != (f"{item.get('connectionStatus')}#{item.get('platform')}" if needs_attention else None):
        problems.append("attention (the AttentionIndex key) does not follow connectionStatus")
    platform_user_id = item.get("platformUserId")
    expected = (
        f"{item.get('platform')}#{platform_user_id}" if isinstance(platform_user_id, str) and platform_user_id else None
    )
    if item.get("platformUser") != expected:
        problems.append(f"platformUser {item.get('platformUser')!r} does not match the platform and platformUserId")
    return problems


def _deletion_request_problems(item: Mapping[str, Any], code: str) -> list[str]:
    problems: list[str] = []
    if item.get("sk") != "REQUEST" or not _CONFIRMATION_CODE.match(code) or item.get("confirmationCode") != code:
        problems.append("key and confirmationCode disagree or the code is malformed")
    if set(item) - DELETION_REQUEST_ATTRIBUTES:
        problems.append(f"deletion request carries {sorted(set(item) - DELETION_REQUEST_ATTRIBUTES)}")
    if item.get("requestStatus") not in {"in_progress", "completed"}:
        problems.append(f"requestStatus {item.get('requestStatus')!r}")
    if item.get("requestStatus") == "completed" and not _is_count(item.get("rowsAffected")):
        problems.append("a completed request has no rowsAffected count")
    return problems
