"""integrations.services.orders._canonical gives what it always gave (the rules every stored fingerprint was made
with, written out plainly below), whatever the values: replays must keep matching their stored fingerprints."""

import datetime as dt
import uuid
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.services import orders
from integrations.services.orders import _canonical, _fingerprint_of_canonical


def _canonical_as_stored(value):
    """The canonical form, as the stored fingerprints were made: dicts (keys as text) and lists or tuples value by
    value, decimals without trailing zeros (zero as "0"), times in UTC, UUIDs as text, anything else as it is."""
    if isinstance(value, dict):
        return {k if type(k) is str else str(k): _canonical_as_stored(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_as_stored(v) for v in value]
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


class _Dict(dict):
    pass


class _List(list):
    pass


class _Text(str):
    pass


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.text(max_size=8).map(_Text)
    | st.decimals(allow_nan=False, places=None)
    | st.sampled_from([Decimal("2"), Decimal("2.00"), Decimal("-0.000"), Decimal("1E+2"), Decimal("100")])
    | st.datetimes(timezones=st.timezones() | st.just(dt.UTC))
    | st.uuids()
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=3).map(tuple)
        | st.lists(children, max_size=3).map(_List)
        | st.dictionaries(st.text(max_size=6) | st.integers(), children, max_size=4)
        | st.dictionaries(st.text(max_size=6), children, max_size=3).map(_Dict)
    ),
    max_leaves=25,
)


@settings(max_examples=400)
@given(values)
def test_the_canonical_form_is_the_stored_one(value):
    canonical = _canonical(value)
    assert canonical == _canonical_as_stored(value)
    assert _fingerprint_of_canonical(canonical) == _fingerprint_of_canonical(_canonical_as_stored(value))


def test_equal_decimals_have_one_text_and_the_memory_empties_when_full(monkeypatch):
    monkeypatch.setattr(orders, "_DECIMAL_TEXTS", {})
    monkeypatch.setattr(orders, "_DECIMAL_TEXTS_MAX", 3)
    assert [_canonical(Decimal(text)) for text in ("2.00", "2", "0.0", "1E+2", "12.50", "12.5")] == [
        "2",
        "2",
        "0",
        "100",
        "12.5",
        "12.5",
    ]
    assert len(orders._DECIMAL_TEXTS) <= 3


def test_an_order_canonical_and_its_fingerprint():
    data = {
        "external_id": "o-1",
        "member_id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "total": Decimal("125.00"),
        "placed_at": dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        "lines": [{"sku": "A", "quantity": Decimal("2.000"), "total": Decimal("50.00")}],
        "coupon_codes": ["WELCOME"],
        "email": None,
    }
    assert _canonical(data) == {
        "external_id": "o-1",
        "member_id": "12345678-1234-5678-1234-567812345678",
        "total": "125",
        "placed_at": "2026-11-01T09:00:00+00:00",
        "lines": [{"sku": "A", "quantity": "2", "total": "50"}],
        "coupon_codes": ["WELCOME"],
        "email": None,
    }
    # sha256 of json.dumps(the canonical form above, sort_keys=True, separators=(",", ":")).
    assert _fingerprint_of_canonical(_canonical(data)) == (
        "16efe10273037b3a0133f6bdcbf4c04c54e9f71c208bbbf7d8ea9178e14f6575"
    )
