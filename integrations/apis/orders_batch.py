"""API v1: many orders in one request (tills, nightly syncs)."""

from collections import Counter

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from integrations.api_auth import HasScope, ShopAPIView
from integrations.apis.members import ERRORS
from integrations.apis.order_bodies import (
    ORDER_EXTERNAL_ID_MAX,
    PLACED_AT_SKEW,
    OrderJson,
    OrderJSONRenderer,
    PlainJSON,
    Refused,
    error_json,
    int_or_none,
    is_plain,
    order_body_fast,
    text_or_none,
    time_zone,
)
from integrations.apis.orders import (
    ORDER_BODY_EXAMPLE,
    ORDER_EXAMPLE,
    OrderInputSerializer,
    OrderOutputSerializer,
    _order_output_fields,
    _order_result,
)
from integrations.apis.parsers import JSONDocument, OrderJSONParser
from integrations.schema import ErrorDetailSerializer, error_response
from integrations.services.orders_batch import ORDERS_BATCH_MAX, duplicate_external_ids, gc_paused, orders_record_batch

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


def _orders_validate(bodies: list) -> list[tuple[dict | None, dict | None]]:
    """Each body validated as POST /orders validates it: (data, None), or (None, the errors by field). The
    fast check above takes the bodies it can vouch for; one serializer checks the others, as DRF's list
    serializers do (building its fields anew for each order took a fifth of a batch's time)."""
    validator = OrderInputSerializer()
    placed_at_field = validator.fields["placed_at"]
    zone = time_zone(placed_at_field)
    latest = timezone.now() + PLACED_AT_SKEW  # once, not per order (8% of order_body_fast's instructions)
    checked = []
    for body in bodies:
        try:
            checked.append((order_body_fast(body, placed_at_field=placed_at_field, zone=zone, latest=latest), None))
            continue
        except Refused:
            pass
        try:
            checked.append((validator.run_validation(body), None))
        except serializers.ValidationError as error:
            detail = error.detail
            checked.append((None, detail if isinstance(detail, dict) else {api_settings.NON_FIELD_ERRORS_KEY: detail}))
    return checked


def _error(code: str, message: str, details: dict) -> dict:
    return {"code": code, "message": message, "details": details}


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
    parser_classes = [OrderJSONParser if p is JSONParser else p for p in api_settings.DEFAULT_PARSER_CLASSES]
    renderer_classes = [OrderJSONRenderer if r is JSONRenderer else r for r in api_settings.DEFAULT_RENDERER_CLASSES]

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
        # The parsed body (tens of thousands of new objects), its orders, their records and the answer: see
        # gc_paused. Parsing with the collector on took longer than parsing.
        with gc_paused():
            bodies = _orders_plain(request.data)
            if bodies is None:
                serializer = self.InputSerializer(data=request.data)
                serializer.is_valid(raise_exception=True)
                bodies = serializer.validated_data["orders"]
            counts = Counter(eid for eid in map(_external_id, bodies) if eid)
            if repeated := sorted(eid for eid, n in counts.items() if n > 1):
                raise duplicate_external_ids(repeated)
            return Response(_batch_json(_record(request, bodies)))


def _orders_plain(data) -> list | None:
    """InputSerializer's orders for a body it is sure to take as it is: a JSONDocument whose `orders` is a
    list of 1 to ORDERS_BATCH_MAX items, none null (JSONField's one refusal left: its json.dumps of each item,
    a twentieth of the view's time, cannot fail in a JSONDocument). None: the serializer decides."""
    orders = data.get("orders") if type(data) is JSONDocument else None
    if type(orders) is list and 1 <= len(orders) <= ORDERS_BATCH_MAX and None not in orders:
        return orders
    return None


def _record(request, bodies: list) -> dict:
    """Validate and record the batch's orders: OrderBatchOutputSerializer's data, before its representation."""
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
    return {
        "results": results,
        "created": statuses[201],
        "replayed": statuses[200],
        "failed": len(results) - statuses[201] - statuses[200],
    }


def _batch_json(payload: dict) -> dict:
    """OrderBatchOutputSerializer(payload).data, built directly (test_orders_batch compares them); PlainJSON,
    which orjson writes, unless an error's details hold other data."""
    order_json = OrderJson(_order_output_fields())
    results = [
        {
            "index": int_or_none(r["index"]),
            "external_id": text_or_none(r["external_id"]),
            "status": int_or_none(r["status"]),
            "order": None if r["order"] is None else order_json(r["order"]),
            "error": error_json(r["error"]),
        }
        for r in payload["results"]
    ]
    plain = all(r["error"] is None or is_plain(r["error"]["details"]) for r in results)
    return (PlainJSON if plain else dict)(
        results=results,
        created=int_or_none(payload["created"]),
        replayed=int_or_none(payload["replayed"]),
        failed=int_or_none(payload["failed"]),
    )
