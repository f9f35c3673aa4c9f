"""The one clock of the package: ISO-8601 UTC text with milliseconds, as every `...At` attribute holds."""

from __future__ import annotations

import time


def iso_from_millis(millis: int) -> str:
    # Formatted from gmtime's fields: a fifth of datetime's fromtimestamp + isoformat, on every event's path.
    seconds, rest = divmod(millis, 1000)
    t = time.gmtime(seconds)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{rest:03d}Z"


def now_iso() -> str:
    return iso_from_millis(int(time.time() * 1000))
