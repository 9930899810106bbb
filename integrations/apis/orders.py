"""API v1: orders, refunds, cancelling and simulating."""

import functools
from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from core.exceptions import ApplicationError
from integrations.api_auth import HasScope, ShopAPIView
from integrations.apis.members import ERRORS, MEMBER_ID_EXAMPLE
from integrations.apis.order_bodies import (
    MONEY,
    MONEY_LIMIT,
    ORDER_EXTERNAL_ID_MAX,
    PAYMENT_FINGERPRINT_MAX,
    PLACED_AT_EARLIEST,
    PLACED_AT_SKEW,
    QUANTITY,
    REFERRAL_CODE_MAX,
    OrderJSONRenderer,
    Refused,
    address_clean,
    order_body_fast,
    order_result_json,
)
from integrations.models import Order
from integrations.schema import BAD_REQUEST, error_response
from integrations.selectors import order_get, order_simulate
from integrations.services.orders import order_cancel, order_record, order_refund

ORDER_422 = (
    "`unknown_member`: no member has this `member_id`. `order_points_too_large`: the order would earn more "
    "than 10,000,000 points (`details`: `points`, `max`)."
)


def _unicode_only(value: str) -> None:
    """Lone surrogates ("\\ud800") parse from JSON but cannot be stored: refuse them as input errors."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise serializers.ValidationError("Not valid Unicode text.") from None


def _text(**kwargs) -> serializers.CharField:
    return serializers.CharField(validators=[_unicode_only], **kwargs)


@extend_schema_serializer(component_name="OrderLineInput")
class OrderLineInputSerializer(serializers.Serializer):
    sku = _text(max_length=100)
    name = _text(max_length=200, required=False, allow_blank=True, default="")
    category = _text(max_length=100, required=False, allow_blank=True, default="")
    quantity = serializers.DecimalField(**QUANTITY, min_value=0)
    unit_price = serializers.DecimalField(**MONEY, min_value=0, required=False, default=0)
    total = serializers.DecimalField(**MONEY, min_value=0, help_text="Before order-level discounts.")


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "maxLength": 500},
            {
                "type": "object",
                "maxProperties": 12,
                "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": True},
            },
        ],
        "nullable": True,
    }
)
class ShippingAddressField(serializers.Field):
    """A text or an object of address parts (order_bodies.address_clean); None when empty."""

    def to_internal_value(self, data):
        try:
            return address_clean(data)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None

    def to_representation(self, value):
        return value


@extend_schema_serializer(component_name="OrderInput")
class OrderInputSerializer(serializers.Serializer):
    external_id = _text(max_length=ORDER_EXTERNAL_ID_MAX, help_text="Your order id; unique per shop.")
    member_id = serializers.UUIDField(required=False, allow_null=True, help_text="The member's id (from /members).")
    member_external_id = _text(max_length=200, required=False, allow_null=True, help_text="Your customer id.")
    email = serializers.EmailField(max_length=254, required=False, allow_null=True)
    currency = serializers.RegexField(r"^[A-Za-z]{3}\Z", help_text="ISO 4217, e.g. EUR.")
    total = serializers.DecimalField(**MONEY, min_value=0, help_text="What the customer paid, all included.")
    subtotal = serializers.DecimalField(
        **MONEY, min_value=0, required=False, help_text="Default: the sum of the lines' totals."
    )
    tax = serializers.DecimalField(**MONEY, min_value=0, required=False, default=0)
    shipping = serializers.DecimalField(**MONEY, min_value=0, required=False, default=0)
    discount = serializers.DecimalField(**MONEY, min_value=0, required=False, default=0)
    placed_at = serializers.DateTimeField()
    lines = OrderLineInputSerializer(many=True, required=False, max_length=500)
    coupon_codes = serializers.ListField(
        child=_text(max_length=64), required=False, max_length=50, help_text="Accepted and stored; not used yet."
    )
    referral_code = _text(
        max_length=REFERRAL_CODE_MAX,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="A referral code the customer gave at checkout: a known member who was not referred yet is "
        "referred by it. An unknown code is ignored; the order is recorded all the same.",
    )
    shipping_address = ShippingAddressField(
        required=False,
        allow_null=True,
        help_text="For the referral checks: a text or an object of parts (line1, city, postal_code, ...). Only a "
        "keyed hash of the normalised address is stored.",
    )
    payment_fingerprint = _text(
        max_length=PAYMENT_FINGERPRINT_MAX,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="For the referral checks: your payment provider's fingerprint or token of the card or wallet "
        "(never a card number). Only a keyed hash is stored.",
    )

    def validate_placed_at(self, value):
        if not (PLACED_AT_EARLIEST <= value <= timezone.now() + PLACED_AT_SKEW):
            raise serializers.ValidationError("Enter a time between 2000 and now.")
        return value

    def validate(self, attrs):
        if not any(attrs.get(name) for name in ("member_id", "member_external_id", "email")):
            raise serializers.ValidationError("Give the customer's member_id, member_external_id or email.")
        # The default subtotal adds up the lines: each fits the money columns, their sum may not (a 500 on
        # PostgreSQL when the order was stored).
        lines_total = sum((line["total"] for line in attrs.get("lines") or ()), Decimal(0))
        if attrs.get("subtotal") is None and lines_total >= MONEY_LIMIT:
            raise serializers.ValidationError({"lines": [f"The lines add up to {MONEY_LIMIT} or more."]})
        return attrs


@extend_schema_serializer(component_name="OrderSimulateInput")
class OrderSimulateInputSerializer(OrderInputSerializer):
    external_id = _text(max_length=ORDER_EXTERNAL_ID_MAX, required=False, help_text="Ignored.")


@extend_schema_serializer(component_name="OrderLineRule")
class OrderLineRuleSerializer(serializers.Serializer):
    source = serializers.CharField(help_text="rule, tier, campaign or floor.")
    ref = serializers.CharField(help_text="The rule's id.")
    name = serializers.CharField()
    kind = serializers.CharField(help_text="base_rate, fixed, multiplier, ...")
    points = serializers.IntegerField()


@extend_schema_serializer(component_name="OrderLinePoints")
class OrderLinePointsSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    category = serializers.CharField()
    quantity = serializers.CharField()
    total = serializers.CharField()
    points = serializers.IntegerField()
    excluded_by = serializers.CharField(help_text="The exclusion rule that kept this line at 0, if any.")
    rules = OrderLineRuleSerializer(many=True, help_text="What each rule added to this line.")


@extend_schema_serializer(component_name="OrderNote")
class OrderNoteSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="no_rule_for_currency, no_rule_applies or below_minimum.")
    message = serializers.CharField()
    ref = serializers.CharField()


class _OrderResultBase(serializers.Serializer):
    points = serializers.IntegerField()
    points_status = serializers.ChoiceField(
        choices=["pending", "available", "reversed", "none"],
        help_text="`reversed`: refunds or the cancel took back all of the order's points.",
    )
    available_at = serializers.DateTimeField(allow_null=True)
    member_id = serializers.UUIDField(allow_null=True)
    currency = serializers.CharField()
    total = serializers.DecimalField(**MONEY)
    lines = OrderLinePointsSerializer(many=True)
    unallocated_points = serializers.IntegerField(help_text="Points of an order sent without lines.")
    notes = OrderNoteSerializer(many=True)


@extend_schema_serializer(component_name="Order")
class OrderOutputSerializer(_OrderResultBase):
    id = serializers.UUIDField()
    external_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["awarded", "unmatched", "cancelled"])
    points_reversed = serializers.IntegerField(help_text="Taken back by refunds and cancelling.")


@extend_schema_serializer(component_name="OrderSimulation")
class OrderSimulationSerializer(_OrderResultBase):
    matched = serializers.BooleanField(help_text="Whether the customer is known; unknown customers earn 0 now.")


def _points_status(points: int, available_at) -> str:
    if not points:
        return "none"
    return "pending" if available_at is not None and available_at > timezone.now() else "available"


def _order_result(order: Order) -> dict:
    available_at = order.lot.available_at if order.lot is not None else None
    breakdown = order.breakdown
    points_status = _points_status(order.points, available_at)
    if order.points and order.points_reversed >= order.points:
        points_status = "reversed"  # cancelled or refunded in full: none of them is pending or available
    return {
        "id": order.public_id,
        "external_id": order.external_id,
        "status": order.status,
        "points": order.points,
        "points_status": points_status,
        "available_at": available_at,
        "points_reversed": order.points_reversed,
        "member_id": order.member.public_id if order.member is not None else None,
        "currency": order.currency,
        "total": order.total,
        "lines": breakdown.get("lines", []),
        "unallocated_points": breakdown.get("unallocated_points", 0),
        "notes": breakdown.get("notes", []),
    }


ORDER_BODY_EXAMPLE = {
    "external_id": "order-20931",
    "member_external_id": "cust-1042",
    "currency": "EUR",
    "total": "118.95",
    "subtotal": "95.00",
    "tax": "19.00",
    "shipping": "4.95",
    "discount": "0.00",
    "placed_at": "2026-11-22T14:05:00+01:00",
    "lines": [
        {
            "sku": "TSHIRT-M",
            "name": "T-shirt",
            "category": "apparel",
            "quantity": "2",
            "unit_price": "25.00",
            "total": "50.00",
        },
        {"sku": "MUG", "name": "Mug", "category": "home", "quantity": "1", "unit_price": "45.00", "total": "45.00"},
    ],
    "coupon_codes": [],
}
_RULE = "0f3c9a1e-2b4d-4c6e-8a0b-1c2d3e4f5a6b"
ORDER_RESULT_EXAMPLE = {
    "points": 95,
    "points_status": "pending",
    "available_at": "2026-12-06T14:05:00+01:00",
    "member_id": MEMBER_ID_EXAMPLE,
    "currency": "EUR",
    "total": "118.95",
    "lines": [
        {
            "index": 0,
            "sku": "TSHIRT-M",
            "name": "T-shirt",
            "category": "apparel",
            "quantity": "2",
            "total": "50.00",
            "points": 50,
            "excluded_by": "",
            "rules": [
                {
                    "source": "rule",
                    "ref": _RULE,
                    "name": "Base rate: 1 point per 1.00",
                    "kind": "base_rate",
                    "points": 50,
                }
            ],
        },
        {
            "index": 1,
            "sku": "MUG",
            "name": "Mug",
            "category": "home",
            "quantity": "1",
            "total": "45.00",
            "points": 45,
            "excluded_by": "",
            "rules": [
                {
                    "source": "rule",
                    "ref": _RULE,
                    "name": "Base rate: 1 point per 1.00",
                    "kind": "base_rate",
                    "points": 45,
                }
            ],
        },
    ],
    "unallocated_points": 0,
    "notes": [],
}
ORDER_EXAMPLE = {
    "id": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
    "external_id": "order-20931",
    "status": "awarded",
    **ORDER_RESULT_EXAMPLE,
    "points_reversed": 0,
}


class OrderCreateApi(ShopAPIView):
    permission_classes = [HasScope("write")]
    renderer_classes = [OrderJSONRenderer if r is JSONRenderer else r for r in api_settings.DEFAULT_RENDERER_CLASSES]

    @extend_schema(
        operation_id="order_create",
        summary="Report an order; the customer earns its points",
        description=(
            "Finds the customer by `member_id`, else your `member_external_id`, else `email`; evaluates the "
            "earning rules for your shop, the currency and `placed_at` (never later than now); stores the "
            "per-line breakdown and credits the points, pending for the program's return window. An unknown "
            "customer's order is kept with status `unmatched` and 0 points. Idempotent on `external_id`: the "
            "same body again answers 200 with the first result and changes nothing; another body with the same "
            "`external_id` is a 409 `idempotency_conflict`. Needs the `write` scope."
        ),
        request=OrderInputSerializer,
        responses={
            200: OrderOutputSerializer,
            201: OrderOutputSerializer,
            400: error_response(
                BAD_REQUEST + " Also when no customer (`member_id`, `member_external_id`, `email`) is given."
            ),
            409: error_response("`idempotency_conflict`: this `external_id` was used with a different body."),
            422: error_response(ORDER_422 + " `member_not_active`: the member closed their account."),
            **ERRORS,
        },
        examples=[
            OpenApiExample("A two-line order", value=ORDER_BODY_EXAMPLE, request_only=True),
            OpenApiExample("The order and its points", value=ORDER_EXAMPLE, response_only=True),
        ],
        tags=["orders"],
    )
    def post(self, request):
        try:
            data = order_body_fast(request.data, placed_at_field=_order_input_fields()["placed_at"])
        except Refused:  # the serializer decides, and words the errors
            serializer = OrderInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        order, created = order_record(shop=request.auth.shop, data=data)
        return Response(order_result_json(_order_result(order), _order_output_fields()), status=201 if created else 200)


@functools.cache
def _order_input_fields():
    """OrderInputSerializer's fields, built once: order_body_fast reads how `placed_at` takes a time."""
    return OrderInputSerializer().fields


@functools.cache
def _order_output_fields():
    """OrderOutputSerializer's fields, built once: order_result_json renders times, money and choices with
    them."""
    return OrderOutputSerializer().fields


def _order_or_404(request, external_id: str) -> Order:
    order = order_get(shop=request.auth.shop, external_id=external_id)
    if order is None:
        raise ApplicationError("No such order of this shop.", code="not_found", status=404)
    return order


@extend_schema_serializer(component_name="RefundLineInput")
class RefundLineInputSerializer(serializers.Serializer):
    sku = _text(max_length=100)
    quantity = serializers.DecimalField(**QUANTITY, min_value=Decimal("0.001"))


REFUND_EXAMPLE = {
    "id": "7c8d9e0f-1a2b-4c3d-9e4f-5a6b7c8d9e0f",
    "external_id": "refund-881",
    "order_external_id": "order-20931",
    "amount": None,
    "lines": [{"sku": "MUG", "quantity": "1"}],
    "points_reversed": 45,
    "order_points_left": 50,
}


class OrderRefundApi(ShopAPIView):
    permission_classes = [HasScope("write")]

    @extend_schema_serializer(component_name="RefundInput")
    class InputSerializer(serializers.Serializer):
        external_id = _text(max_length=ORDER_EXTERNAL_ID_MAX, help_text="Your refund id; unique per order.")
        amount = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"), required=False)
        lines = RefundLineInputSerializer(many=True, required=False, min_length=1, max_length=500)

        def validate(self, attrs):
            if ("amount" in attrs) == ("lines" in attrs):
                raise serializers.ValidationError("Give either amount or lines.")
            return attrs

    @extend_schema_serializer(component_name="Refund")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField(source="public_id")
        external_id = serializers.CharField()
        order_external_id = serializers.CharField(source="order.external_id")
        amount = serializers.DecimalField(**MONEY, allow_null=True)
        lines = RefundLineInputSerializer(many=True, allow_null=True)
        points_reversed = serializers.IntegerField(source="points")
        order_points_left = serializers.SerializerMethodField(help_text="The order's points not reversed yet.")

        def get_order_points_left(self, refund) -> int:
            return refund.order.points - refund.order.points_reversed

    @extend_schema(
        operation_id="order_refund",
        summary="Refund part of an order",
        description=(
            "By `amount` (money, in the order's currency) or by `lines` [{`sku`, `quantity`}]. Takes back "
            "exactly the points the refunded part earned, from the breakdown stored with the order (never "
            "today's rules); pending points are voided first. Several partial refunds never take back more "
            "than the order earned. Idempotent on the refund's `external_id` (200 on replay, 409 with another "
            "body). 404 for an order that is not your shop's; 422 for an impossible refund "
            "(`refund_unknown_line`, `refund_exceeds_order`, `order_cancelled`). Needs the `write` scope."
        ),
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            201: OutputSerializer,
            400: error_response(BAD_REQUEST + " Also when not exactly one of `amount` and `lines` is given."),
            404: error_response("`not_found`: no such order of your shop."),
            409: error_response("`idempotency_conflict`: this refund `external_id` was used with a different body."),
            422: error_response(
                "`refund_unknown_line`: the order has no line with that SKU. `refund_exceeds_order`: more units "
                "than bought, or more money than the total, counting earlier refunds. `order_cancelled`."
            ),
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "One mug back",
                value={"external_id": "refund-881", "lines": [{"sku": "MUG", "quantity": 1}]},
                request_only=True,
            ),
            OpenApiExample("By amount", value={"external_id": "refund-882", "amount": "20.00"}, request_only=True),
            OpenApiExample("The refund", value=REFUND_EXAMPLE, response_only=True),
        ],
        tags=["orders"],
    )
    def post(self, request, external_id):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = _order_or_404(request, external_id)
        refund, created = order_refund(order=order, **serializer.validated_data)
        return Response(self.OutputSerializer(refund).data, status=201 if created else 200)


class OrderCancelApi(ShopAPIView):
    permission_classes = [HasScope("write")]

    @extend_schema(
        operation_id="order_cancel",
        summary="Cancel an order",
        description=(
            "Takes back every point of the order not taken back yet and marks it `cancelled`. Cancelling again "
            "changes nothing and answers the same. 404 for an order that is not your shop's. Needs the `write` "
            "scope."
        ),
        request=None,
        responses={
            200: OrderOutputSerializer,
            404: error_response("`not_found`: no such order of your shop."),
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "Cancelled",
                value={**ORDER_EXAMPLE, "status": "cancelled", "points_status": "reversed", "points_reversed": 95},
                response_only=True,
            )
        ],
        tags=["orders"],
    )
    def post(self, request, external_id):
        order, _ = order_cancel(order=_order_or_404(request, external_id))
        order = order_get(shop=request.auth.shop, external_id=order.external_id)
        return Response(OrderOutputSerializer(_order_result(order)).data)


class OrderSimulateApi(ShopAPIView):
    permission_classes = [HasScope("read")]

    @extend_schema(
        operation_id="order_simulate",
        summary="What an order would earn",
        description=(
            "The same body as `POST /orders` (`external_id` optional); answers with the points it would earn "
            "now, line by line, or with the 422 `POST /orders` would give, and writes nothing. Needs the `read` "
            "scope."
        ),
        request=OrderSimulateInputSerializer,
        responses={
            200: OrderSimulationSerializer,
            400: error_response(BAD_REQUEST),
            422: error_response(ORDER_422 + " `member_not_active`: the member closed their account."),
            **ERRORS,
        },
        examples=[
            OpenApiExample("A two-line order", value=ORDER_BODY_EXAMPLE, request_only=True),
            OpenApiExample("What it would earn", value={**ORDER_RESULT_EXAMPLE, "matched": True}, response_only=True),
        ],
        tags=["orders"],
    )
    def post(self, request):
        serializer = OrderSimulateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = order_simulate(shop=request.auth.shop, data=serializer.validated_data)
        return Response(OrderSimulationSerializer(result).data)
