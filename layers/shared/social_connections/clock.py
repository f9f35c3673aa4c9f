"""The one clock of the package: ISO-8601 UTC text with milliseconds, as every `...At` attribute holds."""

from __future__ import annotations

import time
from typing import Final

# Zero-padded field texts by value: formatting with `:02d` costs several times a list lookup, on every event's path.
_TWO_DIGITS: Final = [f"{value:02d}" for value in range(100)]
_THREE_DIGITS: Final = [f"{value:03d}" for value in range(1000)]


def utc_parts(millis: int) -> tuple[str, str, str]:
    """`YYYY-MM-DD`, `HH:MM:SS` and `mmm` of a UTC time in epoch milliseconds."""
    seconds, rest = divmod(millis, 1000)
    t = time.gmtime(seconds)
    two = _TWO_DIGITS
    return (
        f"{t.tm_year:04d}-{two[t.tm_mon]}-{two[t.tm_mday]}",
        f"{two[t.tm_hour]}:{two[t.tm_min]}:{two[t.tm_sec]}",
        _THREE_DIGITS[rest],
    )


def iso_from_millis(millis: int) -> str:
    day, clock, fraction = utc_parts(millis)
    return f"{day}T{clock}.{fraction}Z"


def now_millis() -> int:
    return int(time.time() * 1000)


def now_iso() -> str:
    return iso_from_millis(now_millis())
