"""An order's fingerprint is the sha256 of json.dumps's canonical text, however it is written now."""

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st

from integrations.services.orders import _fingerprint_of_canonical

canonical_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=25,
)


def _as_stored(value) -> str:
    """How every stored fingerprint was made."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@given(canonical_values)
def test_the_same_as_json_writes_it(value):
    assert _fingerprint_of_canonical(value) == _as_stored(value)


def test_text_that_json_escapes():
    for text in ("caf\u00e9", "del\x7f", "tab\tnewline\n", "\u2028", "\U0001f600"):
        value = {"name": text, "lines": [{"sku": text}]}
        assert _fingerprint_of_canonical(value) == _as_stored(value)
