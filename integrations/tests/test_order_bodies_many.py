"""order_body_fast's shortcuts for many orders: numbers remembered across orders, and the latest placed_at taken
once per batch (a bound taken earlier only refuses more, and the serializer then takes what it would)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.apis.order_bodies import PLACED_AT_SKEW, Refused, _decimal, order_body_fast
from integrations.apis.orders import OrderInputSerializer
from integrations.apis.orders_batch import _orders_validate
from integrations.tests.test_order_bodies_fast import _order
from integrations.tests.test_orders_batch_validation import _typed


@pytest.mark.parametrize(
    "value, digits, places, expected",
    [
        ("2", 12, 3, "2.000"),
        (" 2 ", 12, 3, "2.000"),
        (2, 12, 3, "2.000"),
        ("2", 14, 2, "2.00"),  # the same text for another field: its own number
        ("1.5e1", 14, 2, "15.00"),
    ],
)
def test_a_remembered_number_is_the_one_made_anew(value, digits, places, expected):
    for _ in range(2):
        assert _typed(_decimal(value, digits, places)) == _typed(Decimal(expected))


@pytest.mark.parametrize("value", ["-1", "1.001", "x", 10**13, True, 2.5, None, [1]])
def test_a_refused_number_is_refused_every_time(value):
    for _ in range(2):
        with pytest.raises(Refused):
            _decimal(value, 14, 2)


def test_an_order_placed_after_the_latest_time_given_goes_to_the_serializer(db):
    field = OrderInputSerializer().fields["placed_at"]
    latest = timezone.now() + PLACED_AT_SKEW
    at_latest = _order(placed_at=latest.isoformat())
    assert order_body_fast(at_latest, placed_at_field=field, latest=latest)["placed_at"] == latest
    later = _order(placed_at=(latest + dt.timedelta(microseconds=1)).isoformat())
    with pytest.raises(Refused):
        order_body_fast(later, placed_at_field=field, latest=latest)
    with pytest.raises(Refused):  # and without `latest`, the bound is now's
        order_body_fast(_order(placed_at=(latest + dt.timedelta(minutes=1)).isoformat()), placed_at_field=field)


def test_the_batch_takes_an_order_placed_after_its_bound_as_the_serializer_does(db, monkeypatch):
    """The batch takes the bound before its orders; an order placed after it (the clock moved on while the
    batch was checked) is the serializer's to take."""
    start = timezone.now()
    clock = iter([start, start + dt.timedelta(seconds=5)])
    monkeypatch.setattr(timezone, "now", lambda: next(clock, start + dt.timedelta(seconds=5)))
    body = _order(placed_at=(start + PLACED_AT_SKEW + dt.timedelta(seconds=1)).isoformat())
    [(data, errors)] = _orders_validate([body])
    assert errors is None
    assert _typed(data) == _typed(OrderInputSerializer().run_validation(body))


@pytest.mark.parametrize(
    "rules",
    [
        [{"points": 4, "kind": "base_rate", "name": "Base", "ref": "r", "source": "rule"}],  # another key order
        [{"source": "rule", "ref": "r", "name": "Base", "kind": "base_rate", "points": 4, "extra": 1}],
        [{"source": "rule", "ref": "r", "name": "Base", "kind": "base_rate", "points": True}],
        [{"source": "rule", "ref": "r", "name": None, "kind": "base_rate", "points": 4}],
    ],
)
@pytest.mark.parametrize("line", [{}, {"quantity": Decimal("2.000"), "index": True, "excluded_by": None}])
def test_lines_and_rules_handed_on_or_converted_render_as_the_serializer(rules, line):
    from rest_framework.renderers import JSONRenderer

    from integrations.apis.order_bodies import order_result_json
    from integrations.apis.orders import OrderOutputSerializer
    from integrations.tests.test_order_bodies_fast import _result

    result = _result()
    result["lines"] = [{**result["lines"][0], **line, "rules": rules}]
    expected = JSONRenderer().render(OrderOutputSerializer(result).data)
    assert JSONRenderer().render(order_result_json(result, OrderOutputSerializer().fields)) == expected
