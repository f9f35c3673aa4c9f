"""The profile's copy of its rows (`rowState`): what planning needs of each row, so a changed snapshot plans unread.

Pure and light (no pydantic): the storage code, the webhook and the in-memory store all use it.
Only snapshot writes change a row's account version, verification or details, and each of them rewrites the copy
under the profile lock; what other writers change (status, error counts, erased details) is asserted or shown
harmless by `snapshot_plan.plan_from_copy` (docs/architecture.md, "A changed snapshot plans from the profile").
"""

from __future__ import annotations

import base64
import hashlib
import marshal
from collections.abc import Mapping
from typing import Final

from social_connections.model import (
    AccountDetails,
    ConnectionKey,
    ConnectionStatus,
    RowState,
    StoredConnection,
    SyncPlan,
)

# Beyond this many rows the profile carries no copy: it stays far below 1 KB (one write unit, B4), and such users
# plan from a read as before.
MAX_COPIED_ROWS: Final = 6


def details_digest(details: AccountDetails) -> str:
    """11 characters (64 bits) that change with any detail copied from Clerk; stored on the row and in the copy.

    Over `marshal`'s format 0 of the details (plain strings, integers, None: equal values give equal bytes).
    `desired_state` computes it once per account; the state digest, the copy and the row write reuse it.
    """
    digest = hashlib.blake2b(marshal.dumps(tuple(details), 0), digest_size=8).digest()
    return base64.urlsafe_b64encode(digest).decode()[:11]  # the 12th character is always the padding


def copied_state(row: StoredConnection) -> RowState:
    """A row as read, for the copy: its digest only when the row still carries the one of its details."""
    carried = row.details_digest
    intact = (
        bool(carried) and row.status is not ConnectionStatus.DISCONNECTED and carried == details_digest(row.details)
    )
    return RowState(
        status=row.status,
        account_version=row.details.account_version,
        verified=row.details.verification_status == "verified",
        details_digest=carried if intact and carried is not None else "",
    )


def next_copy(stored: Mapping[ConnectionKey, RowState], plan: SyncPlan) -> dict[ConnectionKey, RowState] | None:
    """The copy once `plan` is written over rows in `stored`; None when there are too many rows to copy."""
    rows = dict(stored)
    for upsert in plan.upserts:
        wanted = upsert.desired
        old = rows.get(wanted.key)
        rows[wanted.key] = RowState(  # status, account version, verified, details digest
            upsert.set_status or (old.status if old is not None else wanted.status),
            wanted.details.account_version,
            wanted.details.verification_status == "verified",
            wanted.details_digest,
        )
    for key in plan.disconnects:
        # A disconnected row loses its personal data and with it the digest of its details.
        rows[key] = rows[key]._replace(status=ConnectionStatus.DISCONNECTED, details_digest="")
    return rows if len(rows) <= MAX_COPIED_ROWS else None
