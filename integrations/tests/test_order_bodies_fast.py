"""The cheaper paths of integrations.apis.order_bodies against what DRF gives: plain numbers taken without
Decimal's checks, the time zone and the output fields' settings read once per batch (not per order or per field),
and orjson writing the answers (OrderJSONRenderer) byte for byte as JSONRenderer does."""

import datetime as dt
import uuid
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer

from integrations.apis import orders_batch
from integrations.apis.order_bodies import (
    OrderJson,
    OrderJSONRenderer,
    PlainJSON,
    Refused,
    _decimal,
    is_plain,
    order_body_fast,
    order_result_json,
    time_zone,
)
from integrations.apis.orders import OrderCreateApi, OrderInputSerializer, OrderOutputSerializer
from integrations.tests.test_orders_batch_validation import _typed

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
plain_numbers = st.from_regex(r"\A[ ]?[0-9]{0,14}(\.[0-9]{0,4})?[ ]?\Z")


@settings(max_examples=600, deadline=None)
@given(number=st.one_of(plain_numbers, st.integers(-5, 10**15)))
def test_plain_numbers_are_what_decimal_field_takes(number):
    for digits, places in ((14, 2), (12, 3)):
        field = serializers.DecimalField(max_digits=digits, decimal_places=places, min_value=0)
        try:
            fast = _decimal(number, digits, places)
        except Refused:
            continue
        assert _typed(fast) == _typed(field.run_validation(number)), number


def _order(**overrides):
    return {
        "external_id": "o-1",
        "member_external_id": "cust-1",
        "currency": "EUR",
        "total": "125",
        "placed_at": "2026-11-01T10:00:00+01:00",
        "lines": [{"sku": "A", "quantity": "2.5", "unit_price": "0.5", "total": "1."}],
        **overrides,
    }


@pytest.mark.parametrize(
    "placed_at",
    ["2026-11-01T10:00:00+01:00", "2026-11-01T10:00:00Z", "2026-03-29T02:30:00", "2026-11-01T10:00:00.5-09:30"],
)
@pytest.mark.parametrize("zone", [None, AMSTERDAM])
def test_the_time_zone_looked_up_once_gives_the_serializers_time(db, placed_at, zone):
    with timezone.override(zone):
        field = OrderInputSerializer().fields["placed_at"]
        body = _order(placed_at=placed_at)
        expected = _typed(OrderInputSerializer().run_validation(body))
        assert _typed(order_body_fast(body, placed_at_field=field, zone=time_zone(field))) == expected
        assert _typed(order_body_fast(body, placed_at_field=field)) == expected


def _result(**overrides):
    rule = {"source": "rule", "ref": str(uuid.UUID(int=1)), "name": "Base", "kind": "base_rate", "points": 4}
    line = {
        "index": 0,
        "sku": "A",
        "name": "Shoes",
        "category": "shoes",
        "quantity": "2.000",
        "total": "4.00",
        "points": 4,
        "excluded_by": "",
        "rules": [rule],
        "points_per_unit": "2.0000",
    }
    odd_line = {**line, "index": True, "sku": 7, "points": 2.0, "rules": [{**rule, "points": "3", "ref": None}]}
    return {
        "id": uuid.UUID(int=2),
        "external_id": "o-1",
        "status": "awarded",
        "points": 4,
        "points_status": "pending",
        "available_at": dt.datetime(2026, 11, 15, 9, 0, tzinfo=dt.UTC),
        "points_reversed": 0,
        "member_id": uuid.UUID(int=3),
        "currency": "EUR",
        "total": Decimal("125.00"),
        "lines": [line, odd_line, {**line, "rules": None}],
        "unallocated_points": 0,
        "notes": [{"code": "below_minimum", "message": "Too small \u2028", "ref": "x"}],
        **overrides,
    }


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"available_at": None, "member_id": None, "lines": [], "notes": []},
        {"available_at": dt.datetime(2026, 11, 15, 9, 0, tzinfo=AMSTERDAM)},
        {"total": Decimal("-0.00")},
        {"total": Decimal("1.5")},
        {"total": Decimal("12.345")},
        {"total": 3},
        {"lines": None, "notes": None, "points": None},
    ],
)
@pytest.mark.parametrize("zone", [None, AMSTERDAM])
def test_orders_render_as_the_output_serializer_renders_them(overrides, zone):
    result = _result(**overrides)
    with timezone.override(zone):
        rendered = order_result_json(result, OrderOutputSerializer().fields)
        expected = JSONRenderer().render(OrderOutputSerializer(result).data)
    assert type(rendered) is PlainJSON
    assert JSONRenderer().render(rendered) == expected
    assert OrderJSONRenderer().render(rendered, "application/json", {}) == expected


def _nested(depth: int) -> list:
    value = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "data",
    [
        {"a": 'é \u2028 \u2029 \x00 \x1f \x7f " \\ / \n', "b": [1, -(2**63), 2**64 - 1, True, None, ()]},
        {"details": {"total": [ErrorDetail("A valid number is required.", code="invalid")]}},
        {"big": 2**64},  # beyond orjson: JSONRenderer writes it
        {"when": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},  # orjson would write +00:00
        {"deep": _nested(300)},  # beyond orjson's depth: JSONRenderer writes it
    ],
)
@pytest.mark.parametrize("accepted", ["application/json", "application/json; indent=4"])
def test_the_orjson_renderer_writes_json_renderers_bytes(data, accepted):
    expected = JSONRenderer().render(data, accepted, {})
    assert OrderJSONRenderer().render(PlainJSON(data), accepted, {}) == expected
    assert OrderJSONRenderer().render(data, accepted, {}) == expected


def test_the_orjson_renderer_fails_as_json_renderer_on_text_that_cannot_be_encoded():
    with pytest.raises(UnicodeEncodeError):
        JSONRenderer().render({"a": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        OrderJSONRenderer().render(PlainJSON(a="\ud800"))


def test_floats_and_other_values_are_not_plain():
    assert is_plain({"a": [ErrorDetail("x", code="y"), 1, True, None, ("z",)]})
    assert not is_plain({"a": [1.5]})
    assert not is_plain({1: "a"})
    assert not is_plain({"a": Decimal(1)})


def test_a_batch_whose_error_details_hold_a_float_is_written_by_json_renderer():
    error = {"code": "x", "message": "y", "details": {"ratio": 1e16}}
    payload = {
        "results": [{"index": 0, "external_id": "o-1", "status": 422, "order": None, "error": error}],
        "created": 0,
        "replayed": 0,
        "failed": 1,
    }
    data = orders_batch._batch_json(payload)
    assert type(data) is dict
    expected = JSONRenderer().render(orders_batch.OrderBatchOutputSerializer(payload).data)
    assert OrderJSONRenderer().render(data, "application/json", {}) == expected == JSONRenderer().render(data)
    assert b"1e+16" in expected


def test_the_order_endpoints_offer_the_same_formats():
    for view in (OrderCreateApi, orders_batch.OrderBatchApi):
        assert view.renderer_classes == [OrderJSONRenderer, BrowsableAPIRenderer]
        assert [r.media_type for r in view.renderer_classes] == [JSONRenderer.media_type, "text/html"]


def test_one_order_json_renders_many_orders_alike():
    fields = OrderOutputSerializer().fields
    render = OrderJson(fields)
    results = [_result(external_id=f"o-{i}", total=Decimal(i) / 100) for i in range(5)]
    assert [render(r) for r in results] == [OrderOutputSerializer(r).data for r in results]
