"""Pure rules: a Clerk user snapshot plus what is stored become the connection changes to write.

No I/O here: `apply_clerk_event` reads the stored state through a store, plans with these rules, and writes the plan.
"""

from __future__ import annotations

import hashlib
import marshal
import re
from collections.abc import Mapping
from typing import Final, NamedTuple

from social_connections.clerk_event_rules import CLERK_ID
from social_connections.clerk_events import (
    ClerkUser,
    ExternalAccount,
    InvalidEventError,
    parse_external_account,
)
from social_connections.model import (
    AccountDetails,
    ConnectionKey,
    ConnectionStatus,
    ConnectionUpsert,
    DesiredConnection,
    MalformedAccount,
    RowCheck,
    RowState,
    StoredConnection,
    SyncPlan,
)
from social_connections.providers import DEFAULT_PROVIDERS, Platform, ProviderMap
from social_connections.row_copy import details_digest

# Clerk verification status -> connection status; unlisted ones (unverified, transferable, none) are no connection.
VERIFICATION_STATUSES: Final[Mapping[str, ConnectionStatus]] = {
    "verified": ConnectionStatus.CONNECTED,
    "expired": ConnectionStatus.EXPIRED,
    "failed": ConnectionStatus.ERROR,
}
_LOGGABLE_PROVIDER: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class DesiredState(NamedTuple):
    connections: dict[ConnectionKey, DesiredConnection]
    malformed: list[MalformedAccount]
    # Provider strings of accounts no platform is mapped to, one per account (sorted), so an operator sees why.
    unmapped_providers: tuple[str, ...] = ()


def desired_state(user: ClerkUser, providers: ProviderMap = DEFAULT_PROVIDERS) -> DesiredState:
    """The connections a snapshot asks for: mapped providers with a connection-worthy verification status."""
    connections: dict[ConnectionKey, DesiredConnection] = {}
    malformed: list[MalformedAccount] = []
    unmapped: list[str] = []
    for raw in user.external_accounts:
        if not isinstance(raw, dict):
            malformed.append(MalformedAccount(key=None, reason="external account entry is not an object"))
            continue
        provider = raw.get("provider")
        platform = providers.platform_for(provider if isinstance(provider, str) else None)
        if platform is None:
            unmapped.append(_provider_name(provider))
            continue
        try:
            account = parse_external_account(raw)
        except InvalidEventError as error:
            reason = f"invalid external account ({error})"
            malformed.append(MalformedAccount(key=_readable_key(raw, platform), reason=reason))
            continue
        status = VERIFICATION_STATUSES.get(account.verification.status or "") if account.verification else None
        if status is None:
            continue
        key = ConnectionKey(platform, account.account_id)
        details = _details(account)
        connections[key] = DesiredConnection(key, status, details, details_digest(details))
    return DesiredState(connections, malformed, tuple(sorted(unmapped)) if unmapped else ())


def state_digest(desired: DesiredState) -> str | None:
    """A fingerprint of the connections a snapshot asks for; None when it has malformed entries.

    Rows written from a snapshot match it until a snapshot with another digest comes, so an equal digest means the
    snapshot needs no row write. Malformed entries record a failure per event (and keep their rows), so they get none.
    Each connection counts by its key, its status and the digest of its details (`row_copy.details_digest`, which
    the write needs anyway), hashed as `marshal`'s format 0 (plain strings: equal values give equal bytes). A digest
    is only a shortcut: if these bytes ever changed, the next update of each user would read and plan once.
    """
    if desired.malformed:
        return None
    state = [
        (key.platform.value, key.external_account_id, wanted.status.value, wanted.details_digest)
        for key, wanted in desired.connections.items()
    ]
    state.sort()
    return hashlib.blake2b(marshal.dumps(state, 0), digest_size=16).hexdigest()


def plan_sync(desired: DesiredState, stored: Mapping[ConnectionKey, StoredConnection]) -> SyncPlan:
    """The writes that make the stored connections match the snapshot, and nothing more."""
    plan = SyncPlan()
    for key, wanted in desired.connections.items():
        upsert = _upsert_for(wanted, stored.get(key))
        if upsert is not None:
            plan.upserts.append(upsert)
    malformed_keys = {item.key for item in desired.malformed if item.key is not None}
    for key, row in stored.items():
        vanished = key not in desired.connections and key not in malformed_keys
        if vanished and row.status is not ConnectionStatus.DISCONNECTED:
            plan.disconnects.append(key)
    # One failure per stored row, and none for a row a valid entry of the same snapshot upserts: a transaction may
    # touch an item only once, so a repeated account must not turn the event into a 5xx forever.
    failed: dict[ConnectionKey, MalformedAccount] = {}
    for item in desired.malformed:
        if item.key is not None and item.key in stored and item.key not in desired.connections:
            failed.setdefault(item.key, item)
    plan.failures.extend(failed.values())
    return plan


def _new_row(wanted: DesiredConnection) -> ConnectionUpsert:
    return ConnectionUpsert(desired=wanted, set_status=wanted.status, reset_errors=True, is_new=True)


def _upsert_for(wanted: DesiredConnection, row: StoredConnection | None) -> ConnectionUpsert | None:
    if row is None:
        return _new_row(wanted)
    state = RowState(
        row.status, row.details.account_version, row.details.verification_status == "verified", details_digest=""
    )
    return _change(wanted, state, same_details=row.details == wanted.details, has_errors=row.error_count != 0)


def _change(
    wanted: DesiredConnection, row: RowState, *, same_details: bool, has_errors: bool
) -> ConnectionUpsert | None:
    """The write that brings an existing row to `wanted`, or None when it already matches."""
    # The account's own updated_at moving on while verified is a re-verification: it clears the error history.
    reverified = wanted.status is ConnectionStatus.CONNECTED and row.account_version != wanted.details.account_version
    # Clerk still says verified while the platform revoked the token: only a re-verification reconnects it.
    revoked = row.status is ConnectionStatus.EXPIRED and row.verified
    set_status: ConnectionStatus | None = wanted.status
    held = row.status is ConnectionStatus.ERROR or revoked
    if wanted.status is ConnectionStatus.CONNECTED and not reverified and held:
        set_status = None
    if set_status is row.status:
        set_status = None
    reset_errors = reverified and has_errors
    if set_status is None and not reset_errors and same_details:
        return None
    return ConnectionUpsert(desired=wanted, set_status=set_status, reset_errors=reset_errors, is_new=False)


def plan_from_copy(desired: DesiredState, copy: Mapping[ConnectionKey, RowState]) -> SyncPlan | None:
    """The plan from the profile's copy of its rows, with the row states it assumes; None when it cannot tell.

    Other writers move rows between connected, error and expired and count failures without the profile lock, so
    the copy may be stale there. The plan writes what read-and-plan would write on the rows as they are: it sets a
    status read-and-plan would set whatever the row's, resets errors on every re-verification (the count is
    unknown), asserts a kept status where a revocation since would change the outcome, and checks that each row it
    leaves alone still carries the details the copy says (a platform's erasure removes the row's digest).
    """
    if desired.malformed:
        return None
    plan = SyncPlan()
    for key, wanted in desired.connections.items():
        row = copy.get(key)
        if row is None:
            plan.upserts.append(_new_row(wanted))
            continue
        if row.status is not ConnectionStatus.DISCONNECTED and not row.details_digest:
            return None  # written before digests, or erased since: only a read can tell what the row holds
        same = row.details_digest == wanted.details_digest
        upsert = _change(wanted, row, same_details=same, has_errors=True)
        if upsert is None:
            # Only a row Clerk does not report verified can have been moved (revoked) where that changes the plan.
            expect = row.status if wanted.status is not ConnectionStatus.CONNECTED else None
            plan.checks.append(RowCheck(key, row.details_digest, expect))
        elif upsert.set_status is None and (wanted.status is not ConnectionStatus.CONNECTED or upsert.reset_errors):
            # Read-and-plan sets this status whatever another writer made of the row: set it even if the copy has it.
            plan.upserts.append(upsert._replace(set_status=wanted.status))
        elif upsert.set_status is None and not row.verified:
            plan.upserts.append(upsert._replace(expect_status=row.status))  # a revocation since would change it
        else:
            plan.upserts.append(upsert)
    for key, row in copy.items():
        if key not in desired.connections and row.status is not ConnectionStatus.DISCONNECTED:
            plan.disconnects.append(key)
    return plan


def _details(account: ExternalAccount) -> AccountDetails:
    scopes = tuple(sorted(set((account.approved_scopes or "").split())))
    # Positional, in AccountDetails' field order (platform user id, username, version, e-mail, names, image,
    # provider, Clerk's account id, verification, scopes): cheaper than keywords on every account of every event.
    return AccountDetails(
        account.provider_user_id,
        account.username,
        account.updated_at,
        account.email_address or None,
        account.first_name,
        account.last_name,
        account.image_url or account.avatar_url,
        account.provider,
        account.id,
        account.verification.status if account.verification else None,
        scopes,
    )


def _provider_name(provider: object) -> str:
    """A provider string fit for a log line: Clerk's names are short ASCII; anything else is summarized."""
    if isinstance(provider, str) and _LOGGABLE_PROVIDER.fullmatch(provider):
        return provider
    return "<missing>" if provider in (None, "") else "<unreadable>"


def _readable_key(raw: Mapping[str, object], platform: Platform) -> ConnectionKey | None:
    """The row a malformed entry would have had, when its id is still a valid Clerk id (the model's own rule)."""
    for field_name in ("external_account_id", "id"):
        value = raw.get(field_name)
        if isinstance(value, str) and CLERK_ID.fullmatch(value):
            return ConnectionKey(platform, value)
    return None
