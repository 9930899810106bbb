"""Rewards for shops at checkout: the catalogue for a member, redemptions on a member's behalf, coupons.

Every view is an interface: it parses, calls one selector or service of rewards (catalogue, redemptions,
coupons), and renders. A member is found among the calling shop's customers only (404 otherwise), as in
the members API.
"""

from decimal import Decimal

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from core.exceptions import ApplicationError
from integrations.api_auth import HasScope, ShopAPIView
from integrations.apis.members import ERRORS, MEMBER_ID_EXAMPLE, _idempotency_key, _shop_customer_or_404
from integrations.apis.orders import MONEY, ORDER_EXTERNAL_ID_MAX, QUANTITY, _text
from integrations.models import ApiKey
from integrations.schema import BAD_REQUEST, error_response
from rewards.models import Coupon, Redemption, Reward
from rewards.selectors import program_cached
from rewards.selectors.catalogue import (
    coupon_display_status,
    rewards_for_member,
    rewards_visible,
    store_credit_balances,
)
from rewards.services.coupons import coupon_redeem, coupon_validate
from rewards.services.redemptions import KEY_MAX, redemption_coupon, reward_redeem
from rewards.services.store_credit import store_credit_spend

POINTS_MAX = 10_000_000
REWARD_ID_EXAMPLE = "5f0c2a7e-3d1b-4c8e-9a6f-2b7d4e1c0a93"
CODE_EXAMPLE = "7KQM-XR2D-HN4P-WB9T"


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


# --- the catalogue ----------------------------------------------------------------------------------------


@extend_schema_serializer(component_name="RewardPayWithPoints")
class PayWithPointsSerializer(serializers.Serializer):
    points_per_unit = serializers.IntegerField(help_text="Points per 1.00 of the currency.")
    min_points = serializers.IntegerField()
    max_points = serializers.IntegerField()


@extend_schema_serializer(component_name="RewardRefusal")
class RefusalSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="insufficient_points, out_of_stock, limit_reached, not_eligible, reward_inactive, member_not_active."
    )
    message = serializers.CharField()
    details = serializers.DictField(help_text="short_by, tier, limit and period, ... as the code needs.")


@extend_schema_serializer(component_name="Reward")
class RewardOutputSerializer(serializers.Serializer):
    """A reward; the instance is (reward, refusal or None, whether a member was asked about)."""

    id = serializers.UUIDField()
    kind = serializers.CharField(
        help_text="fixed_amount, percentage, free_shipping, free_product, store_credit, pay_with_points, donation "
        "or perk."
    )
    title = serializers.CharField()
    description = serializers.CharField()
    image_url = serializers.CharField(help_text="An image URL; empty when there is none.")
    points = serializers.IntegerField(help_text="Its price; pay_with_points: 0, see pay_with_points.")
    value = serializers.CharField(
        allow_null=True, help_text="Amount (fixed_amount, store_credit) or percentage (percentage); else null."
    )
    currency = serializers.CharField()
    max_discount = serializers.CharField(allow_null=True, help_text="Percentage: the largest discount; null: no cap.")
    sku = serializers.CharField(help_text="free_product: the SKU given free; else empty.")
    min_order = serializers.CharField(allow_null=True, help_text="The coupon needs a cart of at least this.")
    coupon_valid_days = serializers.IntegerField(allow_null=True, help_text="A coupon's validity; null: no end.")
    cause = serializers.CharField(allow_null=True, help_text="donation: the cause's name.")
    pay_with_points = PayWithPointsSerializer(allow_null=True)
    stock_left = serializers.IntegerField(allow_null=True, help_text="null: unlimited.")
    available = serializers.BooleanField(
        allow_null=True, help_text="The member can redeem it now; null when no member_id was given."
    )
    short_by = serializers.IntegerField(allow_null=True, help_text="Points the member still needs, if that is why.")
    reason = RefusalSerializer(allow_null=True, help_text="Why the member cannot redeem it now; else null.")


def _reward_data(reward: Reward, *, currency: str, refusal=None, asked: bool = False) -> dict:
    pay = reward.kind == Reward.Kind.PAY_WITH_POINTS
    return {
        "id": reward.public_id,
        "kind": reward.kind,
        "title": reward.title,
        "description": reward.description,
        "image_url": reward.image_url,
        "points": reward.points,
        "value": _money(reward.value),
        "currency": reward.currency or currency,
        "max_discount": _money(reward.max_discount),
        "sku": reward.sku,
        "min_order": _money(reward.min_order),
        "coupon_valid_days": reward.coupon_valid_days,
        "cause": reward.cause.name if reward.cause_id else None,
        "pay_with_points": {
            "points_per_unit": reward.points_per_unit,
            "min_points": reward.min_points,
            "max_points": reward.max_points,
        }
        if pay
        else None,
        "stock_left": reward.stock_left,
        "available": (refusal is None) if asked else None,
        "short_by": refusal.details.get("short_by") if refusal is not None else None,
        "reason": None
        if refusal is None
        else {"code": refusal.code, "message": refusal.message, "details": refusal.details},
    }


REWARD_EXAMPLE = {
    "id": REWARD_ID_EXAMPLE,
    "kind": "fixed_amount",
    "title": "5 euro off",
    "description": "5.00 off your next order.",
    "image_url": "https://cdn.example.com/rewards/5off.png",
    "points": 500,
    "value": "5.00",
    "currency": "EUR",
    "max_discount": None,
    "sku": "",
    "min_order": "25.00",
    "coupon_valid_days": 90,
    "cause": None,
    "pay_with_points": None,
    "stock_left": None,
    "available": True,
    "short_by": None,
    "reason": None,
}
REWARD_SHORT_EXAMPLE = {
    **REWARD_EXAMPLE,
    "id": "0b6e3f1d-9c2a-4d7b-8e5f-1a3c5e7f9b2d",
    "kind": "percentage",
    "title": "15% off (up to 20.00)",
    "points": 1500,
    "value": "15.00",
    "max_discount": "20.00",
    "available": False,
    "short_by": 380,
    "reason": {
        "code": "insufficient_points",
        "message": "Not enough points: 1120 available, 1500 needed.",
        "details": {"available": 1120, "required": 1500, "short_by": 380},
    },
}


@extend_schema_serializer(component_name="RewardMemberPoints")
class MemberPointsOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    available = serializers.IntegerField()
    pending = serializers.IntegerField()


@extend_schema_serializer(component_name="RewardList")
class RewardListOutputSerializer(serializers.Serializer):
    member = MemberPointsOutputSerializer(allow_null=True, help_text="The member asked about; null without one.")
    results = RewardOutputSerializer(many=True)


class RewardListApi(ShopAPIView):
    permission_classes = [HasScope("read")]

    @extend_schema_serializer(component_name="RewardListQuery")
    class QuerySerializer(serializers.Serializer):
        member_id = serializers.UUIDField(required=False, help_text="A customer of yours (from /members).")

    @extend_schema(
        operation_id="reward_list",
        summary="The rewards a customer can redeem now, and what they are short of",
        description=(
            "Your shop's catalogue now: the rewards offered at every shop and those offered at yours, visible "
            "now, in the program's order. With `member_id`: each says whether that member can redeem it now "
            "(`available`) or why not (`reason`, with `short_by` points when points are what is missing); "
            "rewards for member segments the member is not in are left out. The whole catalogue in one answer "
            "(not paginated: a program has tens of rewards). Needs the `read` scope."
        ),
        parameters=[QuerySerializer],
        responses={
            200: RewardListOutputSerializer,
            400: error_response(BAD_REQUEST),
            404: error_response("`not_found`: no such member among your shop's customers."),
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "For a member",
                value={
                    "member": {"id": MEMBER_ID_EXAMPLE, "available": 1120, "pending": 30},
                    "results": [REWARD_EXAMPLE, REWARD_SHORT_EXAMPLE],
                },
                response_only=True,
            )
        ],
        tags=["rewards"],
    )
    def get(self, request):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        shop = request.auth.shop
        program = program_cached()
        currency = program.currency
        member_id = query.validated_data.get("member_id")
        if member_id is None:
            rewards = [_reward_data(r, currency=currency) for r in rewards_visible(shop=shop)]
            return Response(RewardListOutputSerializer({"member": None, "results": rewards}).data)
        link = _shop_customer_or_404(request, member_id)
        options = rewards_for_member(member=link.member, shop=shop, program=program)
        account = link.member.points_account
        return Response(
            RewardListOutputSerializer(
                {
                    "member": {"id": link.member.public_id, "available": account.available, "pending": account.pending},
                    "results": [
                        _reward_data(o.reward, currency=currency, refusal=o.refusal, asked=True) for o in options
                    ],
                }
            ).data
        )


# --- redemptions ------------------------------------------------------------------------------------------


@extend_schema_serializer(component_name="Coupon")
class CouponOutputSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Show it to the customer; send it to /coupons/{code}/validate and /redeem.")
    kind = serializers.CharField(help_text="fixed_amount, percentage, free_shipping or free_product.")
    value = serializers.CharField(allow_null=True, help_text="The amount, or the percentage; null for the others.")
    currency = serializers.CharField()
    max_discount = serializers.CharField(allow_null=True)
    sku = serializers.CharField()
    min_order = serializers.CharField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    status = serializers.CharField(help_text="issued, used, void (points refunded) or expired.")


def _coupon_data(coupon: Coupon | None) -> dict | None:
    if coupon is None:
        return None
    return {
        "code": coupon.code,
        "kind": coupon.kind,
        "value": _money(coupon.value),
        "currency": coupon.currency,
        "max_discount": _money(coupon.max_discount),
        "sku": coupon.sku,
        "min_order": _money(coupon.min_order),
        "expires_at": coupon.expires_at,
        "status": coupon_display_status(coupon),
    }


@extend_schema_serializer(component_name="RedemptionReward")
class RedemptionRewardSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    title = serializers.CharField()


@extend_schema_serializer(component_name="RedemptionBalance")
class BalanceSerializer(serializers.Serializer):
    available = serializers.IntegerField()
    pending = serializers.IntegerField()


@extend_schema_serializer(component_name="RedemptionStoreCredit")
class StoreCreditSerializer(serializers.Serializer):
    amount = serializers.CharField()
    currency = serializers.CharField()


@extend_schema_serializer(component_name="Redemption")
class RedemptionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    reward = RedemptionRewardSerializer()
    points = serializers.IntegerField(help_text="Points it cost.")
    value = serializers.CharField(allow_null=True, help_text="Money value given, when known up front.")
    currency = serializers.CharField()
    status = serializers.CharField(help_text="completed, or refunded (its points given back).")
    coupon = CouponOutputSerializer(allow_null=True, help_text="null for store credit, donations and perks.")
    store_credit = StoreCreditSerializer(allow_null=True, help_text="store_credit rewards: what was added.")
    cause = serializers.CharField(allow_null=True, help_text="Donations: the cause.")
    balance = BalanceSerializer(help_text="The member's points now.")
    created_at = serializers.DateTimeField()


def _redemption_data(redemption: Redemption, *, account) -> dict:
    credit = redemption.kind == Reward.Kind.STORE_CREDIT
    return {
        "id": redemption.public_id,
        "reward": {"id": redemption.reward.public_id, "kind": redemption.kind, "title": redemption.reward.title},
        "points": redemption.points,
        "value": _money(redemption.value),
        "currency": redemption.currency,
        "status": redemption.status,
        "coupon": _coupon_data(redemption_coupon(redemption)),
        "store_credit": {"amount": _money(redemption.value), "currency": redemption.currency} if credit else None,
        "cause": redemption.cause.name if redemption.cause_id else None,
        "balance": {"available": account.available, "pending": account.pending},
        "created_at": redemption.created_at,
    }


COUPON_EXAMPLE = {
    "code": CODE_EXAMPLE,
    "kind": "fixed_amount",
    "value": "5.00",
    "currency": "EUR",
    "max_discount": None,
    "sku": "",
    "min_order": "25.00",
    "expires_at": "2027-02-20T14:05:00Z",
    "status": "issued",
}
REDEMPTION_EXAMPLE = {
    "id": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
    "reward": {"id": REWARD_ID_EXAMPLE, "kind": "fixed_amount", "title": "5 euro off"},
    "points": 500,
    "value": "5.00",
    "currency": "EUR",
    "status": "completed",
    "coupon": COUPON_EXAMPLE,
    "store_credit": None,
    "cause": None,
    "balance": {"available": 620, "pending": 30},
    "created_at": "2026-11-22T14:05:00Z",
}


class RedemptionCreateApi(ShopAPIView):
    permission_classes = [HasScope("write")]

    @extend_schema_serializer(component_name="RedemptionInput")
    class InputSerializer(serializers.Serializer):
        reward_id = serializers.UUIDField(help_text="The reward's `id` from GET /rewards.")
        idempotency_key = _text(
            max_length=KEY_MAX, required=False, help_text="Or the Idempotency-Key header; one of them is required."
        )
        points = serializers.IntegerField(
            min_value=1,
            max_value=POINTS_MAX,
            required=False,
            help_text="pay_with_points: how many points to pay with, between the reward's min and max.",
        )

    @extend_schema(
        operation_id="redemption_create",
        summary="Redeem a reward for a customer",
        description=(
            "Debits the points and hands out what the reward gives, in one step: a coupon (`coupon`), store "
            "credit (`store_credit`), a donation (`cause`) or a perk. Idempotent: an `idempotency_key` in the "
            "body or the `Idempotency-Key` header is required; the same key answers 200 with the first "
            "redemption, also when the copies arrive at once; the same key for another reward is a 409. "
            "Needs the `write` scope."
        ),
        request=InputSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
        responses={
            201: RedemptionOutputSerializer,
            200: RedemptionOutputSerializer,
            400: error_response(BAD_REQUEST + " Also without an idempotency key, or with two different ones."),
            404: error_response("`not_found`: no such member among your shop's customers, or no such reward."),
            409: error_response("`idempotency_conflict`: the key was used for another reward (or other points)."),
            422: error_response(
                "`insufficient_points` (`details`: `available`, `required`, `short_by`), `out_of_stock`, "
                "`limit_reached` (`limit`, `period`), `not_eligible` (`reason`: tier, segment or shop), "
                "`reward_inactive`, `member_not_active`, `invalid_points` (pay_with_points outside "
                "`min_points`..`max_points`, or points that are not the reward's price)."
            ),
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "Redeem", value={"reward_id": REWARD_ID_EXAMPLE, "idempotency_key": "cart-88123-r1"}, request_only=True
            ),
            OpenApiExample(
                "Pay with points",
                value={"reward_id": REWARD_ID_EXAMPLE, "idempotency_key": "cart-88123-p", "points": 1200},
                request_only=True,
            ),
            OpenApiExample("The redemption", value=REDEMPTION_EXAMPLE, response_only=True, status_codes=["201", "200"]),
        ],
        tags=["rewards"],
    )
    def post(self, request, member_id):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = _idempotency_key(request, data.get("idempotency_key"), what="redemptions")
        link = _shop_customer_or_404(request, member_id)
        reward = Reward.objects.filter(public_id=data["reward_id"]).first()
        if reward is None:
            raise ApplicationError("No such reward.", code="not_found", status=404)
        redemption, created = reward_redeem(
            member=link.member,
            reward=reward,
            idempotency_key=key,
            channel=Redemption.Channel.API,
            shop=request.auth.shop,
            points=data.get("points"),
        )
        account = link.member.points_account
        account.refresh_from_db(fields=["available", "pending"])
        return Response(
            RedemptionOutputSerializer(_redemption_data(redemption, account=account)).data,
            status=201 if created else 200,
        )


# --- coupons ----------------------------------------------------------------------------------------------


class ReadOrWrite(BasePermission):
    """Either scope: validating a coupon writes nothing (like simulating an order: `read`), and the checkout
    server that redeems it (`write`) must be able to check it first."""

    message = "This API key lacks the 'read' or 'write' scope."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        return isinstance(key, ApiKey) and (key.has_scope("read") or key.has_scope("write"))


@extend_schema_serializer(component_name="CartLineInput")
class CartLineInputSerializer(serializers.Serializer):
    sku = _text(max_length=100)
    quantity = serializers.DecimalField(**QUANTITY, min_value=0)
    unit_price = serializers.DecimalField(**MONEY, min_value=0, required=False, allow_null=True)
    total = serializers.DecimalField(**MONEY, min_value=0)


@extend_schema_serializer(component_name="CouponDiscount")
class DiscountSerializer(serializers.Serializer):
    kind = serializers.CharField()
    amount = serializers.CharField(help_text="Take this off the cart (0.00 for free shipping).")
    currency = serializers.CharField()
    free_shipping = serializers.BooleanField()
    sku = serializers.CharField(help_text="free_product: the line to make free (one unit).")


@extend_schema_serializer(component_name="CouponValidation")
class ValidationOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    valid = serializers.BooleanField()
    discount = DiscountSerializer(allow_null=True)
    reason = serializers.CharField(
        allow_null=True,
        help_text="When not valid: unknown_code, wrong_shop, coupon_used, coupon_void, coupon_expired, "
        "currency_mismatch, below_minimum_order, product_not_in_cart.",
    )
    message = serializers.CharField(allow_null=True)


class CouponValidateApi(ShopAPIView):
    permission_classes = [ReadOrWrite]

    @extend_schema_serializer(component_name="CouponValidateInput")
    class InputSerializer(serializers.Serializer):
        total = serializers.DecimalField(**MONEY, min_value=0, help_text="The cart's total before this coupon.")
        currency = serializers.RegexField(r"^[A-Z]{3}\Z", help_text="ISO 4217, e.g. EUR.")
        lines = CartLineInputSerializer(many=True, required=False, default=list, max_length=500)

    @extend_schema(
        operation_id="coupon_validate",
        summary="Check a coupon against a cart",
        description=(
            "The discount the coupon gives on this cart, or why it gives none (`valid` false with a `reason`). "
            "Changes nothing: redeem it with the order afterwards. Fixed amounts are capped at the cart's "
            "total, percentages at the coupon's cap; a free product needs its SKU in `lines`. Needs the `read` "
            "or the `write` scope."
        ),
        request=InputSerializer,
        responses={200: ValidationOutputSerializer, 400: error_response(BAD_REQUEST), **ERRORS},
        examples=[
            OpenApiExample(
                "A cart",
                value={
                    "total": "48.90",
                    "currency": "EUR",
                    "lines": [{"sku": "MUG", "quantity": 2, "unit_price": "8.95", "total": "17.90"}],
                },
                request_only=True,
            ),
            OpenApiExample(
                "Valid",
                value={
                    "code": CODE_EXAMPLE,
                    "valid": True,
                    "discount": {
                        "kind": "fixed_amount",
                        "amount": "5.00",
                        "currency": "EUR",
                        "free_shipping": False,
                        "sku": "",
                    },
                    "reason": None,
                    "message": None,
                },
                response_only=True,
            ),
            OpenApiExample(
                "Not valid",
                value={
                    "code": CODE_EXAMPLE,
                    "valid": False,
                    "discount": None,
                    "reason": "below_minimum_order",
                    "message": "This coupon needs an order of at least 25.00 EUR.",
                },
                response_only=True,
            ),
        ],
        tags=["rewards"],
    )
    def post(self, request, code):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cart = serializer.validated_data
        result = coupon_validate(code=code, shop=request.auth.shop, cart=cart)
        coupon = result.coupon
        return Response(
            {
                "code": coupon.code if coupon is not None else code,
                "valid": result.valid,
                "discount": {
                    "kind": result.kind,
                    "amount": _money(result.amount),
                    "currency": coupon.currency or cart["currency"],
                    "free_shipping": result.free_shipping,
                    "sku": result.sku,
                }
                if result.valid
                else None,
                "reason": result.reason or None,
                "message": result.message or None,
            }
        )


@extend_schema_serializer(component_name="CouponRedeemed")
class CouponRedeemedOutputSerializer(CouponOutputSerializer):
    order_external_id = serializers.CharField()
    used_at = serializers.DateTimeField()


class CouponRedeemApi(ShopAPIView):
    permission_classes = [HasScope("write")]

    @extend_schema_serializer(component_name="CouponRedeemInput")
    class InputSerializer(serializers.Serializer):
        order_external_id = _text(max_length=ORDER_EXTERNAL_ID_MAX, help_text="Your id of the order that used it.")

    @extend_schema(
        operation_id="coupon_redeem",
        summary="Consume a coupon with an order",
        description=(
            "Marks the coupon used by your order. Idempotent on the order: the same `order_external_id` again "
            "answers 200 with the same body; another order is a 409. Cancelling that order (POST "
            "/orders/{external_id}/cancel) releases the coupon, or refunds its points, as the program is set. "
            "Validate it against the cart first: this call does not look at the cart. Needs the `write` scope."
        ),
        request=InputSerializer,
        responses={
            200: CouponRedeemedOutputSerializer,
            400: error_response(BAD_REQUEST),
            404: error_response("`not_found`: no coupon has this code, or it cannot be used at your shop."),
            409: error_response("`coupon_used`: another order used it."),
            422: error_response(
                "`coupon_expired`, `coupon_void` (its points were refunded), `order_cancelled` (you cancelled "
                "this order), `one_per_order` (the order already used a pay-with-points coupon of this reward)."
            ),
            **ERRORS,
        },
        examples=[
            OpenApiExample("An order", value={"order_external_id": "order-20931"}, request_only=True),
            OpenApiExample(
                "Used",
                value={
                    **COUPON_EXAMPLE,
                    "status": "used",
                    "order_external_id": "order-20931",
                    "used_at": "2026-11-22T14:09:41Z",
                },
                response_only=True,
            ),
        ],
        tags=["rewards"],
    )
    def post(self, request, code):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order_external_id = serializer.validated_data["order_external_id"]
        coupon, _ = coupon_redeem(code=code, shop=request.auth.shop, order_external_id=order_external_id)
        data = {
            **_coupon_data(coupon),
            "order_external_id": coupon.used_order_external_id,
            "used_at": coupon.used_at,
        }
        return Response(CouponRedeemedOutputSerializer(data).data)


# --- store credit -----------------------------------------------------------------------------------------


@extend_schema_serializer(component_name="StoreCreditBalance")
class StoreCreditBalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    balance = serializers.CharField()


@extend_schema_serializer(component_name="StoreCreditBalances")
class StoreCreditBalancesSerializer(serializers.Serializer):
    balances = StoreCreditBalanceSerializer(many=True, help_text="One per currency the member has held credit in.")


@extend_schema_serializer(component_name="StoreCreditSpend")
class StoreCreditSpendOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    amount = serializers.CharField(help_text="What was taken (positive).")
    currency = serializers.CharField()
    balance = serializers.CharField(help_text="The member's store credit in this currency after it.")
    order_external_id = serializers.CharField(help_text="Your order id, as given (may be empty).")
    created_at = serializers.DateTimeField()


def _balances_data(member) -> dict:
    return {
        "balances": [
            {"currency": account.currency, "balance": _money(account.balance)}
            for account in store_credit_balances(member=member)
        ]
    }


STORE_CREDIT_EXAMPLE = {"balances": [{"currency": "EUR", "balance": "12.50"}]}
SPEND_EXAMPLE = {
    "id": "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6",
    "amount": "7.50",
    "currency": "EUR",
    "balance": "5.00",
    "order_external_id": "order-20931",
    "created_at": "2026-11-22T14:05:00Z",
}


class StoreCreditApi(ShopAPIView):
    permission_classes = [HasScope("read")]

    @extend_schema(
        operation_id="store_credit_get",
        summary="A customer's store credit",
        description="The member's store credit balance per currency (cashback rewards, dividends, refunds add "
        "to it; checkout spends it). Needs the `read` scope.",
        responses={200: StoreCreditBalancesSerializer, 404: error_response("`not_found`: no such customer."), **ERRORS},
        examples=[OpenApiExample("Balances", value=STORE_CREDIT_EXAMPLE, response_only=True)],
        tags=["rewards"],
    )
    def get(self, request, member_id):
        return Response(_balances_data(_shop_customer_or_404(request, member_id).member))


class StoreCreditSpendApi(ShopAPIView):
    permission_classes = [HasScope("write")]

    @extend_schema_serializer(component_name="StoreCreditSpendInput")
    class InputSerializer(serializers.Serializer):
        amount = serializers.DecimalField(**MONEY, min_value=Decimal("0.01"), help_text="What to take, e.g. 7.50.")
        currency = serializers.RegexField(
            r"^[A-Za-z]{3}\Z", required=False, help_text="ISO 4217; default: your shop's currency."
        )
        order_external_id = _text(
            max_length=ORDER_EXTERNAL_ID_MAX, required=False, help_text="Your order id, kept with the entry."
        )
        idempotency_key = _text(
            max_length=KEY_MAX, required=False, help_text="Or the Idempotency-Key header; one of them is required."
        )

    @extend_schema(
        operation_id="store_credit_spend",
        summary="Spend a customer's store credit at checkout",
        description=(
            "Takes `amount` from the member's store credit, never below zero. Idempotent: an `idempotency_key` "
            "in the body or the `Idempotency-Key` header is required; the same key answers 200 with the first "
            "result; the same key with another amount is a 409. Needs the `write` scope."
        ),
        request=InputSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
        responses={
            201: StoreCreditSpendOutputSerializer,
            200: StoreCreditSpendOutputSerializer,
            400: error_response(BAD_REQUEST + " Also without an idempotency key, or with two different ones."),
            404: error_response("`not_found`: no such member among your shop's customers."),
            409: error_response("`idempotency_conflict`: the key was used for another amount."),
            422: error_response(
                "`insufficient_store_credit` (`details`: `balance`, `requested`, `currency`), `member_not_active`."
            ),
            **ERRORS,
        },
        examples=[
            OpenApiExample(
                "Spend",
                value={"amount": "7.50", "order_external_id": "order-20931", "idempotency_key": "order-20931-sc"},
                request_only=True,
            ),
            OpenApiExample("Spent", value=SPEND_EXAMPLE, response_only=True, status_codes=["201", "200"]),
        ],
        tags=["rewards"],
    )
    def post(self, request, member_id):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = _idempotency_key(request, data.get("idempotency_key"), what="redemptions")
        shop = request.auth.shop
        member = _shop_customer_or_404(request, member_id).member
        order_id = data.get("order_external_id") or ""
        began = timezone.now()
        entry = store_credit_spend(
            member=member,
            amount=data["amount"],
            currency=(data.get("currency") or shop.currency).upper(),
            reason=f"Checkout at {shop.name}" + (f", order {order_id}" if order_id else ""),
            idempotency_key=f"shop:{shop.public_id}:{key}",  # shops cannot replay each other's keys
            source_ref=order_id,
        )
        body = {
            "id": entry.public_id,
            "amount": _money(-entry.amount),
            "currency": entry.account.currency,
            "balance": _money(entry.balance_after),
            "order_external_id": entry.source_ref,
            "created_at": entry.created_at,
        }
        created = entry.created_at >= began  # a replay answers with the entry an earlier call made
        return Response(StoreCreditSpendOutputSerializer(body).data, status=201 if created else 200)


urlpatterns = [
    path("rewards", RewardListApi.as_view(), name="rewards"),
    path("members/<uuid:member_id>/redemptions", RedemptionCreateApi.as_view(), name="member-redemptions"),
    path("coupons/<str:code>/validate", CouponValidateApi.as_view(), name="coupon-validate"),
    path("coupons/<str:code>/redeem", CouponRedeemApi.as_view(), name="coupon-redeem"),
    path("members/<uuid:member_id>/store-credit", StoreCreditApi.as_view(), name="member-store-credit"),
    path(
        "members/<uuid:member_id>/store-credit/spend", StoreCreditSpendApi.as_view(), name="member-store-credit-spend"
    ),
]
