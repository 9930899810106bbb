"""core.db.json_text: orjson's speed, json's answers."""

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.db import json_text

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_reads_back_as_json_writes_it(value):
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))


def test_what_orjson_refuses_goes_to_json():
    assert json_text({1: "integer key"}) == '{"1":"integer key"}'
    assert json_text([2**70]) == f"[{2**70}]"


def test_what_json_refuses_is_refused():
    with pytest.raises(TypeError):
        json_text({"at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)})


def test_text_choices_are_their_values():
    from integrations.models import Order

    assert json_text([Order.Status.AWARDED]) == '["awarded"]'
