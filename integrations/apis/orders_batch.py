"""API v1: many orders in one request (tills, nightly syncs)."""

import re
import uuid
from collections import Counter
from decimal import Context, Decimal, DecimalException

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings

from integrations.api_auth import HasScope, ShopAPIView
from integrations.apis.members import ERRORS
from integrations.apis.orders import (
    MONEY_LIMIT,
    ORDER_BODY_EXAMPLE,
    ORDER_EXAMPLE,
    ORDER_EXTERNAL_ID_MAX,
    PLACED_AT_EARLIEST,
    PLACED_AT_SKEW,
    OrderInputSerializer,
    OrderOutputSerializer,
    _order_result,
)
from integrations.schema import ErrorDetailSerializer, error_response
from integrations.services.orders_batch import ORDERS_BATCH_MAX, duplicate_external_ids, orders_record_batch

VALIDATION_MESSAGE = "The request is not valid."  # as core.api.exception_handler words a serializer's errors


def _external_id(body) -> str | None:
    """The order id a body names, as OrderInputSerializer would read it (trimmed), if it names one that could
    be an order id: never echo text that cannot be encoded ("\ud800" would make the answer a 500)."""
    if not isinstance(body, dict) or not isinstance(body.get("external_id"), str):
        return None
    external_id = body["external_id"].strip()
    if not external_id or len(external_id) > ORDER_EXTERNAL_ID_MAX:
        return None
    try:
        external_id.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return external_id


class _Refused(Exception):
    """The fast check does not vouch for this value: OrderInputSerializer decides (and words the errors)."""


_MISSING = object()
_CURRENCY = re.compile(r"^[A-Za-z]{3}\Z")  # OrderInputSerializer's currency pattern
_EMAIL = EmailValidator()
_PRECISION = {digits: Context(prec=digits) for digits in (12, 14)}


def _text(value, max_length: int | None = None, *, blank: bool = False) -> str:
    """A string as DRF's CharField (and the _unicode_only validator) takes it: trimmed, not blank unless
    allowed, at most max_length, no NUL, valid Unicode. Other types (numbers DRF turns into text) are refused."""
    if type(value) is not str:
        raise _Refused
    value = value.strip()
    if (not value and not blank) or (max_length is not None and len(value) > max_length) or "\x00" in value:
        raise _Refused
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused from None
    return value


def _decimal(value, max_digits: int, places: int) -> Decimal:
    """A number as DRF's DecimalField(max_digits, places, min_value=0) takes it, for str and int input."""
    if type(value) is str:
        value = value.strip()
    elif type(value) is int:
        value = str(value)
    else:
        raise _Refused
    if len(value) > 1000:
        raise _Refused
    try:
        number = Decimal(value)
    except (DecimalException, ValueError):
        raise _Refused from None
    if not number.is_finite() or number < 0:
        raise _Refused
    _sign, digits, exponent = number.as_tuple()
    if exponent >= 0:
        total = whole = len(digits) + exponent
        after = 0
    elif len(digits) > -exponent:
        total, whole, after = len(digits), len(digits) + exponent, -exponent
    else:
        total = after = -exponent
        whole = 0
    if total > max_digits or after > places or whole > max_digits - places:
        raise _Refused
    return number.quantize(Decimal(1).scaleb(-places), context=_PRECISION[max_digits])


def _money(value) -> Decimal:
    return _decimal(value, 14, 2)


def _line_fast(line) -> dict:
    if type(line) is not dict:
        raise _Refused
    name, category, unit_price = line.get("name", _MISSING), line.get("category", _MISSING), line.get("unit_price", 0)
    return {
        "sku": _text(line.get("sku"), 100),
        "name": "" if name is _MISSING else _text(name, 200, blank=True),
        "category": "" if category is _MISSING else _text(category, 100, blank=True),
        "quantity": _decimal(line.get("quantity"), 12, 3),
        "unit_price": 0 if "unit_price" not in line else _money(unit_price),
        "total": _money(line.get("total")),
    }


def _order_fast(body, *, placed_at_field) -> dict:
    """What OrderInputSerializer().run_validation(body) returns, for the bodies it can vouch for without DRF
    (the same keys in the same order, the same values and types); raises _Refused for any other body, valid
    or not, which the serializer then checks. A tenth of the serializer's time per order."""
    if type(body) is not dict:
        raise _Refused
    get = body.get
    data = {"external_id": _text(get("external_id"), ORDER_EXTERNAL_ID_MAX)}
    if (member_id := get("member_id", _MISSING)) is not _MISSING:
        if member_id is not None:
            if type(member_id) is not str:
                raise _Refused
            try:
                member_id = uuid.UUID(hex=member_id)
            except ValueError:
                raise _Refused from None
        data["member_id"] = member_id
    if (customer := get("member_external_id", _MISSING)) is not _MISSING:
        data["member_external_id"] = None if customer is None else _text(customer, 200)
    if (email := get("email", _MISSING)) is not _MISSING:
        if email is not None:
            email = _text(email, 254)
            try:
                _EMAIL(email)
            except DjangoValidationError:
                raise _Refused from None
        data["email"] = email
    currency = _text(get("currency"))
    if not _CURRENCY.search(currency):
        raise _Refused
    data["currency"] = currency
    data["total"] = _money(get("total"))
    if (subtotal := get("subtotal", _MISSING)) is not _MISSING:
        data["subtotal"] = _money(subtotal)
    for name in ("tax", "shipping", "discount"):
        data[name] = 0 if name not in body else _money(body[name])
    placed_at = get("placed_at")
    if type(placed_at) is not str:
        raise _Refused
    try:
        parsed = parse_datetime(placed_at)
        if parsed is None:
            raise _Refused
        placed_at = placed_at_field.enforce_timezone(parsed)
    except (ValueError, TypeError, serializers.ValidationError):
        raise _Refused from None
    if not (PLACED_AT_EARLIEST <= placed_at <= timezone.now() + PLACED_AT_SKEW):
        raise _Refused
    data["placed_at"] = placed_at
    if (lines := get("lines", _MISSING)) is not _MISSING:
        if type(lines) is not list or len(lines) > 500:
            raise _Refused
        data["lines"] = [_line_fast(line) for line in lines]
    if (codes := get("coupon_codes", _MISSING)) is not _MISSING:
        if type(codes) is not list or len(codes) > 50:
            raise _Refused
        data["coupon_codes"] = [_text(code, 64) for code in codes]
    # OrderInputSerializer.validate: a customer, and a default subtotal that fits the money columns.
    if not any(data.get(name) for name in ("member_id", "member_external_id", "email")):
        raise _Refused
    if data.get("subtotal") is None and sum((x["total"] for x in data.get("lines") or ()), Decimal(0)) >= MONEY_LIMIT:
        raise _Refused
    return data


def _orders_validate(bodies: list) -> list[tuple[dict | None, dict | None]]:
    """Each body validated as POST /orders validates it: (data, None), or (None, the errors by field). The
    fast check above takes the bodies it can vouch for; one serializer checks the others, as DRF's list
    serializers do (building its fields anew for each order took a fifth of a batch's time)."""
    validator = OrderInputSerializer()
    placed_at_field = validator.fields["placed_at"]
    checked = []
    for body in bodies:
        try:
            checked.append((_order_fast(body, placed_at_field=placed_at_field), None))
            continue
        except _Refused:
            pass
        try:
            checked.append((validator.run_validation(body), None))
        except serializers.ValidationError as error:
            detail = error.detail
            checked.append((None, detail if isinstance(detail, dict) else {api_settings.NON_FIELD_ERRORS_KEY: detail}))
    return checked


def _error(code: str, message: str, details: dict) -> dict:
    return {"code": code, "message": message, "details": details}


def _str(value):
    return None if value is None else str(value)


def _int(value):
    return None if value is None else int(value)


def _rule_json(rule: dict) -> dict:
    return {
        "source": _str(rule["source"]),
        "ref": _str(rule["ref"]),
        "name": _str(rule["name"]),
        "kind": _str(rule["kind"]),
        "points": _int(rule["points"]),
    }


def _line_json(line: dict) -> dict:
    rules = line["rules"]
    return {
        "index": _int(line["index"]),
        "sku": _str(line["sku"]),
        "name": _str(line["name"]),
        "category": _str(line["category"]),
        "quantity": _str(line["quantity"]),
        "total": _str(line["total"]),
        "points": _int(line["points"]),
        "excluded_by": _str(line["excluded_by"]),
        "rules": None if rules is None else [_rule_json(rule) for rule in rules],
    }


def _order_json(result: dict, fields) -> dict:
    """OrderOutputSerializer(result).data (the same keys in the same order, the same values), without the
    serializer machinery: 500 orders' nested serializers took a twentieth of a batch. `fields`: the
    serializer's fields, whose own representation the time, the money and the choices keep."""
    lines, notes = result["lines"], result["notes"]
    return {
        "points": _int(result["points"]),
        "points_status": _choice(fields["points_status"], result["points_status"]),
        "available_at": None
        if result["available_at"] is None
        else fields["available_at"].to_representation(result["available_at"]),
        "member_id": _str(result["member_id"]),
        "currency": _str(result["currency"]),
        "total": None if result["total"] is None else fields["total"].to_representation(result["total"]),
        "lines": None if lines is None else [_line_json(line) for line in lines],
        "unallocated_points": _int(result["unallocated_points"]),
        "notes": None
        if notes is None
        else [{"code": _str(n["code"]), "message": _str(n["message"]), "ref": _str(n["ref"])} for n in notes],
        "id": _str(result["id"]),
        "external_id": _str(result["external_id"]),
        "status": _choice(fields["status"], result["status"]),
        "points_reversed": _int(result["points_reversed"]),
    }


def _choice(field, value):
    return None if value is None else field.to_representation(value)


def _error_json(error: dict | None) -> dict | None:
    """ErrorDetailSerializer(error).data."""
    if error is None:
        return None
    details = error["details"]
    return {
        "code": _str(error["code"]),
        "message": _str(error["message"]),
        "details": None if details is None else {str(key): value for key, value in details.items()},
    }


@extend_schema_serializer(component_name="OrderBatchResult")
class OrderBatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The order's place in the request, from 0.")
    external_id = serializers.CharField(allow_null=True)
    status = serializers.IntegerField(help_text="What POST /orders would have answered: 201, 200, 400, 404, ...")
    order = OrderOutputSerializer(allow_null=True)
    error = ErrorDetailSerializer(allow_null=True)


@extend_schema_serializer(component_name="OrderBatch")
class OrderBatchOutputSerializer(serializers.Serializer):
    results = OrderBatchResultSerializer(many=True)
    created = serializers.IntegerField(help_text="Orders recorded now (201).")
    replayed = serializers.IntegerField(help_text="Orders recorded before with the same body (200).")
    failed = serializers.IntegerField(help_text="Orders refused (400, 404, 409, 422).")


BATCH_RESULT_EXAMPLE = {
    "results": [
        {"index": 0, "external_id": "order-20931", "status": 201, "order": ORDER_EXAMPLE, "error": None},
        {
            "index": 1,
            "external_id": "order-20932",
            "status": 400,
            "order": None,
            "error": {
                "code": "validation_error",
                "message": VALIDATION_MESSAGE,
                "details": {"total": ["A valid number is required."]},
            },
        },
    ],
    "created": 1,
    "replayed": 0,
    "failed": 1,
}


class OrderBatchApi(ShopAPIView):
    permission_classes = [HasScope("write")]

    class InputSerializer(serializers.Serializer):
        # Each order is validated on its own below, so that a bad one fails alone.
        orders = serializers.ListField(child=serializers.JSONField(), min_length=1, max_length=ORDERS_BATCH_MAX)

    @extend_schema_serializer(component_name="OrderBatchInput")
    class InputSchemaSerializer(serializers.Serializer):
        orders = OrderInputSerializer(
            many=True,
            min_length=1,
            max_length=ORDERS_BATCH_MAX,
            help_text=f"1 to {ORDERS_BATCH_MAX} orders, each exactly as POST /orders takes it.",
        )

    @extend_schema(
        operation_id="order_batch_create",
        summary="Report many orders at once",
        description=(
            f"Up to {ORDERS_BATCH_MAX} orders, each exactly as `POST /orders` takes it, recorded together: each "
            "order gets what `POST /orders` would have answered (`status` 201 created, 200 recorded before with "
            "the same body, 400/404/409/422 with its `error`), in the request's order. A bad order fails alone; "
            "the others are recorded. Idempotent per order on `external_id`, as `POST /orders`. The whole "
            "request is a 400 when `orders` is not a list of 1 to 500 items or names one `external_id` twice "
            "(`duplicate_external_id`); nothing is written then. Needs the `write` scope."
        ),
        request=InputSchemaSerializer,
        responses={
            200: OrderBatchOutputSerializer,
            400: error_response(
                f"For the whole request, which then writes nothing. `validation_error`: `orders` is not a list of "
                f"1 to {ORDERS_BATCH_MAX} items. `duplicate_external_id`: an `external_id` is given twice "
                "(`details.external_ids`). `parse_error`: the body is not JSON. A bad order alone is no 400: "
                "its result carries the error."
            ),
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "Two orders",
                value={"orders": [ORDER_BODY_EXAMPLE, {**ORDER_BODY_EXAMPLE, "external_id": "order-20932"}]},
                request_only=True,
            ),
            OpenApiExample("One recorded, one refused", value=BATCH_RESULT_EXAMPLE, response_only=True),
        ],
        tags=["orders"],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        bodies = serializer.validated_data["orders"]
        counts = Counter(eid for eid in map(_external_id, bodies) if eid)
        if repeated := sorted(eid for eid, n in counts.items() if n > 1):
            raise duplicate_external_ids(repeated)

        results: list[dict] = [{}] * len(bodies)
        valid: list[tuple[int, dict]] = []
        for i, (body, (data, errors)) in enumerate(zip(bodies, _orders_validate(bodies), strict=True)):
            if errors is None:
                valid.append((i, data))
            else:
                error = _error("validation_error", VALIDATION_MESSAGE, errors)
                results[i] = {
                    "index": i,
                    "external_id": _external_id(body),
                    "status": 400,
                    "order": None,
                    "error": error,
                }
        recorded = orders_record_batch(shop=request.auth.shop, orders=[data for _, data in valid])
        for (i, _), result in zip(valid, recorded, strict=True):
            error = result.error
            results[i] = {
                "index": i,
                "external_id": result.external_id,
                "status": result.status,
                "order": _order_result(result.order) if result.order is not None else None,
                "error": None if error is None else _error(error.code, error.message, error.extra),
            }
        statuses = Counter(result["status"] for result in results)
        payload = {
            "results": results,
            "created": statuses[201],
            "replayed": statuses[200],
            "failed": len(results) - statuses[201] - statuses[200],
        }
        return Response(_batch_json(payload))


def _batch_json(payload: dict) -> dict:
    """OrderBatchOutputSerializer(payload).data, built directly (test_orders_batch_validation compares them)."""
    fields = _order_output_fields()
    return {
        "results": [
            {
                "index": _int(r["index"]),
                "external_id": _str(r["external_id"]),
                "status": _int(r["status"]),
                "order": None if r["order"] is None else _order_json(r["order"], fields),
                "error": _error_json(r["error"]),
            }
            for r in payload["results"]
        ],
        "created": _int(payload["created"]),
        "replayed": _int(payload["replayed"]),
        "failed": _int(payload["failed"]),
    }


def _order_output_fields():
    return OrderOutputSerializer().fields
