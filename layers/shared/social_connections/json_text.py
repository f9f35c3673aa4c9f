"""JSON text of flat objects (log lines, EMF blobs, small HTTP answers) without the json encoder's fixed cost.

One `json.dumps` call costs about 20,000 instructions before it writes a byte, more than a whole log line rendered
here; strings are escaped by the json module's own C escaper, and anything but text, integers, flags and None
goes through a json encoder after all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

quote = json.encoder.encode_basestring_ascii  # a JSON string literal of any str
_OTHER: Final = json.JSONEncoder(separators=(",", ":"), default=str)  # lists, maps and anything else


def value_text(value: object) -> str:
    """The JSON text of one value."""
    if type(value) is str:
        return quote(value)
    if value is None:
        return "null"
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    return _OTHER.encode(value)


def members(fields: Mapping[str, object]) -> str:
    """`,"name":value` for each field; names are identifiers from code, anything else is escaped like a value."""
    return "".join(
        [
            f',"{name}":{quote(value) if type(value) is str else value_text(value)}'
            if name.isidentifier()
            else f",{quote(name)}:{value_text(value)}"
            for name, value in fields.items()
        ]
    )


def json_object(fields: Mapping[str, object]) -> str:
    """A JSON object of these fields, as `json.dumps` writes it (compact)."""
    return "{" + members(fields)[1:] + "}" if fields else "{}"
