"""REST API v1 endpoints about the calling shop."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response

from core.api import Pagination
from core.exceptions import ApplicationError
from integrations.api_auth import HasScope, ShopAPIView
from integrations.models import Order, ShopCustomer
from integrations.schema import ErrorSerializer
from integrations.selectors import member_activity, order_get, order_simulate, points_expiring, shop_customer_get
from integrations.services import member_points_adjust, member_upsert, order_cancel, order_record, order_refund

ADJUST_MAX = 10_000_000  # points per adjustment; keeps every sum far from the 32-bit columns' limits


class ShopDetailApi(ShopAPIView):
    permission_classes = [HasScope("read")]

    # Every view's nested serializer is called OutputSerializer; the schema needs a unique component name.
    @extend_schema_serializer(component_name="Shop")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField(source="public_id")
        name = serializers.CharField()
        kind = serializers.CharField()
        currency = serializers.CharField()
        time_zone = serializers.CharField()

    @extend_schema(
        operation_id="shop_retrieve",
        summary="The calling shop",
        description="The shop the API key belongs to. Needs the `read` scope.",
        responses={200: OutputSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer},
        examples=[
            OpenApiExample(
                "A web store",
                value={
                    "id": "6f1c2a34-5b7d-4e8f-9a0b-1c2d3e4f5a6b",
                    "name": "Webshop NL",
                    "kind": "web",
                    "currency": "EUR",
                    "time_zone": "Europe/Amsterdam",
                },
                response_only=True,
            )
        ],
        tags=["shop"],
    )
    def get(self, request):
        return Response(self.OutputSerializer(request.auth.shop).data)


# --- members ----------------------------------------------------------------------------------------

MEMBER_ID_EXAMPLE = "3b9d8f2e-7c41-4a6b-9e1f-0a2b3c4d5e6f"
ERRORS = {401: ErrorSerializer, 403: ErrorSerializer, 429: ErrorSerializer}


def _shop_customer_or_404(request, member_id) -> ShopCustomer:
    link = shop_customer_get(shop=request.auth.shop, member_id=member_id)
    if link is None:
        raise ApplicationError("No such member among this shop's customers.", code="not_found", status=404)
    return link


@extend_schema_serializer(component_name="MemberPoints")
class MemberPointsSerializer(serializers.Serializer):
    available = serializers.IntegerField(source="points_account.available")
    pending = serializers.IntegerField(source="points_account.pending")


@extend_schema_serializer(component_name="MemberExpiring")
class ExpiringSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="MemberPointsDetail")
class MemberPointsDetailSerializer(MemberPointsSerializer):
    expiring = ExpiringSerializer(many=True, help_text="The next expiry dates, soonest first, with their points.")


@extend_schema_serializer(component_name="MemberLifetime")
class MemberLifetimeSerializer(serializers.Serializer):
    earned = serializers.IntegerField(source="points_account.lifetime_earned")
    redeemed = serializers.IntegerField(source="points_account.lifetime_redeemed")
    expired = serializers.IntegerField(source="points_account.lifetime_expired")


class _MemberBase(serializers.Serializer):
    """Fields of a member as the calling shop sees it; the instance is the shop's ShopCustomer link."""

    id = serializers.UUIDField(source="member.public_id")
    external_id = serializers.CharField(allow_null=True, help_text="The shop's own id for this customer, if any.")
    email = serializers.EmailField(source="member.user.email")
    first_name = serializers.CharField(source="member.first_name")
    last_name = serializers.CharField(source="member.last_name")
    tier = serializers.SerializerMethodField(help_text="The member's tier; null until tiers exist.")

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_tier(self, link) -> None:
        return None


MEMBER_EXAMPLE = {
    "id": MEMBER_ID_EXAMPLE,
    "external_id": "cust-1042",
    "email": "ana@example.com",
    "first_name": "Ana",
    "last_name": "Jansen",
    "points": {"available": 120, "pending": 30},
    "tier": None,
}


class MemberUpsertApi(ShopAPIView):
    permission_classes = [HasScope("write")]

    @extend_schema_serializer(component_name="MemberUpsertInput")
    class InputSerializer(serializers.Serializer):
        external_id = serializers.CharField(max_length=200, required=False, allow_null=True)
        email = serializers.EmailField(max_length=254, required=False, allow_null=True)
        first_name = serializers.CharField(max_length=150, required=False, allow_null=True, allow_blank=True)
        last_name = serializers.CharField(max_length=150, required=False, allow_null=True, allow_blank=True)
        birthday = serializers.DateField(required=False, allow_null=True)
        marketing_consent = serializers.BooleanField(required=False, allow_null=True)
        referral_code = serializers.CharField(
            max_length=64, required=False, allow_null=True, allow_blank=True, help_text="Accepted; not used yet."
        )

        def validate_birthday(self, value):
            if value is not None and not (dt.date(1900, 1, 1) <= value <= timezone.localdate()):
                raise serializers.ValidationError("Enter a birthday between 1900 and today.")
            return value

        def validate(self, attrs):
            if not attrs.get("external_id") and not attrs.get("email"):
                raise serializers.ValidationError("Give external_id, email or both.")
            return attrs

    @extend_schema_serializer(component_name="MemberUpserted")
    class OutputSerializer(_MemberBase):
        points = MemberPointsSerializer(source="member")

    @extend_schema(
        operation_id="member_upsert",
        summary="Register or update a customer",
        description=(
            "Finds the member by your `external_id`, else by `email` (case-insensitive); registers a new member "
            "when neither finds one (an email is then required); links the member to your shop and updates the "
            "fields given (absent or null: unchanged). The email is never changed here. Needs the `write` scope. "
            "201 when the member was created, 200 when it existed."
        ),
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            201: OutputSerializer,
            400: ErrorSerializer,
            409: ErrorSerializer,
            422: ErrorSerializer,
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "A new customer",
                value={
                    "external_id": "cust-1042",
                    "email": "ana@example.com",
                    "first_name": "Ana",
                    "last_name": "Jansen",
                    "marketing_consent": True,
                },
                request_only=True,
            ),
            OpenApiExample("The member", value=MEMBER_EXAMPLE, response_only=True),
        ],
        tags=["members"],
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        shop = request.auth.shop
        member, created = member_upsert(shop=shop, **serializer.validated_data)
        link = shop_customer_get(shop=shop, member_id=member.public_id)
        return Response(self.OutputSerializer(link).data, status=201 if created else 200)


@extend_schema_serializer(component_name="MemberDetail")
class MemberDetailOutputSerializer(_MemberBase):
    member_number = serializers.CharField(source="member.number")
    status = serializers.CharField(source="member.status", help_text="active, suspended or closed.")
    points = serializers.SerializerMethodField()
    tier_progress = serializers.SerializerMethodField(help_text="Progress to the next tier; null until tiers exist.")
    lifetime = MemberLifetimeSerializer(source="member")

    @extend_schema_field(MemberPointsDetailSerializer)
    def get_points(self, link):
        account = link.member.points_account
        return {
            "available": account.available,
            "pending": account.pending,
            "expiring": ExpiringSerializer(points_expiring(account=account), many=True).data,
        }

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_tier_progress(self, link) -> None:
        return None


MEMBER_DETAIL_EXAMPLE = {
    **MEMBER_EXAMPLE,
    "member_number": "401234567890",
    "status": "active",
    "points": {
        "available": 120,
        "pending": 30,
        "expiring": [{"points": 40, "expires_at": "2027-01-01T00:00:00+01:00"}],
    },
    "tier_progress": None,
    "lifetime": {"earned": 400, "redeemed": 280, "expired": 0},
}


class MemberDetailApi(ShopAPIView):
    permission_classes = [HasScope("read")]

    @extend_schema(
        operation_id="member_retrieve",
        summary="A customer's points and status",
        description="What a shop shows a shopper. Only members linked to your shop (through `POST /members`) "
        "are found; others answer 404. Needs the `read` scope.",
        responses={200: MemberDetailOutputSerializer, 404: ErrorSerializer, **ERRORS},
        examples=[OpenApiExample("A member", value=MEMBER_DETAIL_EXAMPLE, response_only=True)],
        tags=["members"],
    )
    def get(self, request, member_id):
        return Response(MemberDetailOutputSerializer(_shop_customer_or_404(request, member_id)).data)


class MemberLookupApi(ShopAPIView):
    permission_classes = [HasScope("read")]

    @extend_schema_serializer(component_name="MemberLookupQuery")
    class QuerySerializer(serializers.Serializer):
        external_id = serializers.CharField(max_length=200, required=False)
        email = serializers.EmailField(max_length=254, required=False)

        def validate(self, attrs):
            if len(attrs) != 1:
                raise serializers.ValidationError("Give exactly one of external_id and email.")
            return attrs

    @extend_schema(
        operation_id="member_lookup",
        summary="Find a customer by your id or email",
        description="The same answer as `GET /members/{id}`, for the customer with this `external_id` (your id) "
        "or `email` among your shop's customers; 404 otherwise. Give exactly one. Needs the `read` scope.",
        parameters=[QuerySerializer],
        responses={200: MemberDetailOutputSerializer, 400: ErrorSerializer, 404: ErrorSerializer, **ERRORS},
        examples=[OpenApiExample("A member", value=MEMBER_DETAIL_EXAMPLE, response_only=True)],
        tags=["members"],
    )
    def get(self, request):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        link = shop_customer_get(shop=request.auth.shop, **query.validated_data)
        if link is None:
            raise ApplicationError("No such member among this shop's customers.", code="not_found", status=404)
        return Response(MemberDetailOutputSerializer(link).data)


class MembersApi(MemberUpsertApi, MemberLookupApi):
    """/members answers two actions: POST registers or updates (MemberUpsertApi, `write`), GET finds
    (MemberLookupApi, `read`). Django routes by path, not method, so this joins them; each keeps its scope."""

    _READ, _WRITE = HasScope("read"), HasScope("write")

    def get_permissions(self):
        return [self._READ if self.request.method in ("GET", "HEAD", "OPTIONS") else self._WRITE]


@extend_schema_serializer(component_name="MemberEntry")
class EntryOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    kind = serializers.CharField(help_text="earn, release, redeem, reverse, expire, adjust or transfer.")
    points = serializers.SerializerMethodField(help_text="The change to available plus pending points.")
    available_change = serializers.IntegerField()
    pending_change = serializers.IntegerField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_points(self, entry) -> int:
        return entry.available_change + entry.pending_change


ENTRY_EXAMPLE = {
    "id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "kind": "adjust",
    "points": 50,
    "available_change": 50,
    "pending_change": 0,
    "reason": "Parcel arrived late",
    "created_at": "2026-11-22T14:05:00+01:00",
}


class MemberActivityApi(ShopAPIView):
    permission_classes = [HasScope("read")]
    pagination_class = Pagination

    @extend_schema(
        operation_id="member_activity",
        summary="A customer's points history",
        description="The member's ledger entries, newest first, paginated (`page`, `page_size` up to 200). "
        "Needs the `read` scope.",
        parameters=[
            OpenApiParameter("page", int, description="Page number, from 1."),
            OpenApiParameter("page_size", int, description="Entries per page (default 50, at most 200)."),
        ],
        responses={200: EntryOutputSerializer(many=True), 404: ErrorSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "A page",
                value=ENTRY_EXAMPLE,  # drf-spectacular wraps it in a page (count, next, previous, results)
                response_only=True,
            )
        ],
        tags=["members"],
    )
    def get(self, request, member_id):
        link = _shop_customer_or_404(request, member_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(member_activity(account=link.member.points_account), request, view=self)
        return paginator.get_paginated_response(EntryOutputSerializer(page, many=True).data)


class MemberAdjustmentApi(ShopAPIView):
    permission_classes = [HasScope("adjust")]

    @extend_schema_serializer(component_name="MemberAdjustmentInput")
    class InputSerializer(serializers.Serializer):
        points = serializers.IntegerField(
            min_value=-ADJUST_MAX, max_value=ADJUST_MAX, help_text="Positive adds, negative removes; not 0."
        )
        reason = serializers.CharField(max_length=500, help_text="Why; shown in the member's history.")
        idempotency_key = serializers.CharField(
            max_length=128, required=False, help_text="Or the Idempotency-Key header; one of them is required."
        )

        def validate_points(self, value):
            if value == 0:
                raise serializers.ValidationError("An adjustment is not 0 points.")
            return value

    @extend_schema(
        operation_id="member_adjust",
        summary="Add or remove a customer's points by hand",
        description=(
            "Needs the `adjust` scope. Idempotent: give an `idempotency_key` in the body or the "
            "`Idempotency-Key` header (required). Replaying it answers with the first entry; reusing it with "
            "another body is a 409. Removing more points than are available is a 422 `insufficient_points`."
        ),
        request=InputSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
        responses={
            201: EntryOutputSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            422: ErrorSerializer,
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "Goodwill points",
                value={"points": 50, "reason": "Parcel arrived late", "idempotency_key": "ticket-8812"},
                request_only=True,
            ),
            OpenApiExample("The entry", value=ENTRY_EXAMPLE, response_only=True),
        ],
        tags=["members"],
    )
    def post(self, request, member_id):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = _idempotency_key(request, data.get("idempotency_key"))
        link = _shop_customer_or_404(request, member_id)
        entry = member_points_adjust(
            shop=request.auth.shop,
            member=link.member,
            points=data["points"],
            reason=data["reason"],
            idempotency_key=key,
        )
        return Response(EntryOutputSerializer(entry).data, status=201)


def _idempotency_key(request, in_body: str | None) -> str:
    header = (request.headers.get("Idempotency-Key") or "").strip() or None
    if header is not None and len(header) > 128:
        raise serializers.ValidationError({"Idempotency-Key": ["Ensure this header has no more than 128 characters."]})
    if header and in_body and header != in_body:
        raise serializers.ValidationError({"idempotency_key": ["The body and the Idempotency-Key header differ."]})
    key = in_body or header
    if not key:
        raise serializers.ValidationError(
            {
                "idempotency_key": [
                    "Give an idempotency_key or an Idempotency-Key header; adjustments must be idempotent."
                ]
            }
        )
    return key


# --- orders -----------------------------------------------------------------------------------------

ORDER_EXTERNAL_ID_MAX = 150
PLACED_AT_EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
PLACED_AT_SKEW = dt.timedelta(days=1)  # a till's clock may run ahead; the order then counts as placed now
MONEY = {"max_digits": 14, "decimal_places": 2}
QUANTITY = {"max_digits": 12, "decimal_places": 3}


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

    def validate_placed_at(self, value):
        if not (PLACED_AT_EARLIEST <= value <= timezone.now() + PLACED_AT_SKEW):
            raise serializers.ValidationError("Enter a time between 2000 and now.")
        return value

    def validate(self, attrs):
        if not any(attrs.get(name) for name in ("member_id", "member_external_id", "email")):
            raise serializers.ValidationError("Give the customer's member_id, member_external_id or email.")
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
    points_status = serializers.ChoiceField(choices=["pending", "available", "none"])
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
    return {
        "id": order.public_id,
        "external_id": order.external_id,
        "status": order.status,
        "points": order.points,
        "points_status": _points_status(order.points, available_at),
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
            400: ErrorSerializer,
            409: ErrorSerializer,
            422: ErrorSerializer,
            **ERRORS,
        },
        examples=[
            OpenApiExample("A two-line order", value=ORDER_BODY_EXAMPLE, request_only=True),
            OpenApiExample("The order and its points", value=ORDER_EXAMPLE, response_only=True),
        ],
        tags=["orders"],
    )
    def post(self, request):
        serializer = OrderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order, created = order_record(shop=request.auth.shop, data=serializer.validated_data)
        return Response(OrderOutputSerializer(_order_result(order)).data, status=201 if created else 200)


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
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            422: ErrorSerializer,
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
        responses={200: OrderOutputSerializer, 404: ErrorSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "Cancelled",
                value={**ORDER_EXAMPLE, "status": "cancelled", "points_reversed": 95},
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
            "now, line by line, and writes nothing. Needs the `read` scope."
        ),
        request=OrderSimulateInputSerializer,
        responses={200: OrderSimulationSerializer, 400: ErrorSerializer, 422: ErrorSerializer, **ERRORS},
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
