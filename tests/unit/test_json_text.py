"""json_text: the JSON text it renders is what json.loads reads back, for every kind of value and name."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from social_connections.json_text import json_object, members, value_text

SCALARS = st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3)
)


@given(st.dictionaries(st.text(), VALUES))
def test_an_object_reads_back_as_the_fields_it_was_given(fields):
    assert json.loads(json_object(fields)) == fields


def test_names_that_are_not_identifiers_are_escaped():
    assert json.loads("{" + members({'a"b': 1, "line\n": "x", "é": None})[1:] + "}") == {
        'a"b': 1,
        "line\n": "x",
        "é": None,
    }


def test_values_render_as_json_does():
    assert [value_text(value) for value in ("é\u2028", None, True, False, -7, [1, "a"])] == [
        json.dumps("é\u2028"),
        "null",
        "true",
        "false",
        "-7",
        '[1,"a"]',
    ]
    assert json_object({}) == "{}"
