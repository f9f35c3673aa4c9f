"""The one clock of the package: ISO-8601 UTC text with milliseconds, as every `...At` attribute holds."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def iso_from_millis(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso_from_millis(int(time.time() * 1000))
