"""POST /orders and /orders/batch check most orders without DRF (integrations.apis.order_bodies.order_body_fast):
whatever it accepts, OrderInputSerializer accepts too, with the very same data (keys, order, values and types);
what it refuses goes to the serializer, so the errors stay those of POST /orders."""

import datetime as dt
import uuid
from decimal import Decimal

from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.apis.order_bodies import Refused, order_body_fast
from integrations.apis.orders import OrderInputSerializer
from integrations.tests.test_members_api_fuzz import bodies, values
from integrations.tests.test_orders_api_fuzz import ORDER_FIELDS, PLAUSIBLE_ORDER

tricky_text = st.sampled_from(
    ["", " ", " o-1 ", "\x00", "a\x00", "\ud800", "é", "\u00a0x\u2003", "x" * 150, "x" * 151, "x" * 201, "\t\n"]
)
tricky_number = st.sampled_from(
    [
        "0", "-0", "0.00", "00.10", " 1.5 ", "1.", ".5", "1_000", "1e2", "1E-2", "0E-5", "0e5", "1.001",
        "-0.01", "999999999999.99", "9999999999999.9", "1000000000000", "NaN", "Inf", "-Infinity", "", "١٢",
        "12345678901.123", "123456789.1234", 0, 7, -1, 10**13, 1.5, True,
    ]
)  # fmt: skip
tricky_time = st.sampled_from(
    [
        "2026-11-01T10:00:00Z", "2026-11-01T10:00:00+01:00", "2026-11-01T10:00:00", "2026-11-01 10:00",
        "2026-11-01", "2026-11-01T10:00:00.123456789Z", " 2026-11-01T10:00:00Z", "1999-12-31T23:59:59Z",
        "2000-01-01T00:00:00+00:00", "2099-01-01T00:00:00Z", "iso-8601", "20261101T100000Z",
    ]
)  # fmt: skip
tricky = st.one_of(tricky_text, tricky_number, tricky_time, st.none(), values)
valid_line = st.fixed_dictionaries(
    {"sku": st.sampled_from(["A", " B "]), "quantity": st.sampled_from(["1", 2, "0.5"]), "total": st.just("10")},
    optional={
        "name": st.text(max_size=5),
        "category": st.sampled_from(["gift card", "shoes", " "]),
        "unit_price": st.just("5.00"),
    },
)
valid_order = st.fixed_dictionaries(
    {
        "external_id": st.sampled_from(["o-1", " o-2 "]),
        "currency": st.sampled_from(["EUR", "eur", " usd "]),
        "total": st.sampled_from(["10.00", "0", 12]),
        "placed_at": st.sampled_from(["2026-11-01T10:00:00Z", "2026-11-01T10:00:00+01:00", "2026-11-01T10:00"]),
        "member_external_id": st.just("cust-1"),
    },
    optional={
        "member_id": st.sampled_from([str(uuid.UUID(int=5)), uuid.UUID(int=6).hex, f"{{{uuid.UUID(int=7)}}}"]),
        "email": st.sampled_from(["ana@example.com", " ANA@Example.com "]),
        "subtotal": st.just("10"),
        "tax": st.just("1.5"),
        "shipping": st.just(0),
        "discount": st.just("0.00"),
        "lines": st.lists(valid_line, max_size=3),
        "coupon_codes": st.lists(st.text(max_size=8), max_size=3),
        "referral_code": st.sampled_from(["ANNA2345", " anna-2345 ", "", None]),
        "shipping_address": st.one_of(
            st.sampled_from(["Main St 1, Amsterdam", " ", None]),
            st.dictionaries(
                st.sampled_from(["line1", "city", "postal_code"]),
                st.one_of(st.sampled_from(["Main St 1", " x ", ""]), st.integers(0, 99999), st.none()),
                max_size=3,
            ),
        ),
        "payment_fingerprint": st.sampled_from(["fp_1", " fp_2 ", "", None]),
    },
)
LINE_FIELDS = ["sku", "name", "category", "quantity", "unit_price", "total"]


def _spoil(order: dict, field: str, value, drop: bool) -> dict:
    """The order with one field (of the order or of its first line) replaced by `value`, or dropped."""
    order = {**order, "lines": [dict(line) for line in order.get("lines", [])]}
    if field.startswith("line.") and order["lines"]:
        target, field = order["lines"][0], field[5:]
    else:
        target = order
    if drop:
        target.pop(field, None)
    else:
        target[field] = value
    return order


spoilt = st.builds(
    _spoil,
    valid_order,
    st.sampled_from(ORDER_FIELDS + [f"line.{name}" for name in LINE_FIELDS]),
    st.one_of(tricky, tricky_text, tricky_number),
    st.booleans(),
)


def _typed(value):
    """A value with its type spelt out, so that Decimal("1.0") and Decimal("1.00"), or 0 and Decimal(0), differ."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}, list(value)
    if isinstance(value, list):
        return [_typed(item) for item in value]
    if isinstance(value, dt.datetime):
        return "datetime", value.isoformat(), str(value.tzinfo)
    return type(value).__name__, repr(value)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(valid_order, spoilt, spoilt, spoilt, PLAUSIBLE_ORDER, bodies(ORDER_FIELDS)))
def test_what_the_fast_check_accepts_the_serializer_accepts_alike(db, body):
    serializer = OrderInputSerializer()
    try:
        fast = order_body_fast(body, placed_at_field=serializer.fields["placed_at"])
    except Refused:
        return
    assert _typed(fast) == _typed(serializer.run_validation(body)), body


def test_the_fast_check_takes_ordinary_orders(db):
    """Most of a batch goes the fast way: a plain order is not refused."""
    body = {
        "external_id": "o-1",
        "member_external_id": "cust-1",
        "currency": "EUR",
        "total": "125.00",
        "subtotal": "100.00",
        "placed_at": timezone.now().isoformat(),
        "lines": [{"sku": "A", "quantity": 2, "total": "100"}],
        "coupon_codes": ["WELCOME"],
    }
    data = order_body_fast(body, placed_at_field=OrderInputSerializer().fields["placed_at"])
    assert data["lines"][0] == {
        "sku": "A",
        "name": "",
        "category": "",
        "quantity": Decimal("2.000"),
        "unit_price": 0,
        "total": Decimal("100.00"),
    }
    assert (data["tax"], data["total"]) == (0, Decimal("125.00"))
