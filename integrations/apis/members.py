"""API v1: members as the calling shop knows them."""

import datetime as dt

from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse
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
from integrations.models import ShopCustomer
from integrations.schema import AUTH_ERRORS, BAD_REQUEST, error_response
from integrations.selectors import member_activity, member_referred_get, points_expiring, shop_customer_get
from integrations.services.members import member_points_adjust, member_upsert
from referrals.models import Referral
from referrals.selectors import referral_program_cached
from referrals.services import referral_code_get_or_create
from rewards.selectors.tiers import TierPerks, tier_status
from rewards.services.tiers import tiers_config

ADJUST_MAX = 10_000_000  # points per adjustment; keeps every sum far from the 32-bit columns' limits
# --- members ----------------------------------------------------------------------------------------

MEMBER_ID_EXAMPLE = "3b9d8f2e-7c41-4a6b-9e1f-0a2b3c4d5e6f"
ERRORS = AUTH_ERRORS  # 401, 403 and 429, each with its codes


def _shop_customer_or_404(request, member_id, *, with_referral_code: bool = False) -> ShopCustomer:
    link = shop_customer_get(shop=request.auth.shop, member_id=member_id, with_referral_code=with_referral_code)
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


@extend_schema_serializer(component_name="MemberTierPerks")
class MemberTierPerksSerializer(serializers.Serializer):
    earning_multiplier = serializers.DecimalField(
        max_digits=6, decimal_places=3, coerce_to_string=True, help_text="Points on orders are multiplied by this."
    )
    birthday_bonus_points = serializers.IntegerField()
    free_shipping = serializers.BooleanField()
    early_access = serializers.BooleanField()
    can_gift = serializers.BooleanField(help_text="May give a lower tier to a friend once a year.")


@extend_schema_serializer(component_name="MemberTier")
class MemberTierSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    rank = serializers.IntegerField(help_text="Higher is better; the entry tier is 0.")
    colour = serializers.CharField(help_text="#RRGGBB.")
    icon = serializers.CharField(help_text="A short text or emoji, or an image URL; may be empty.")
    perks = serializers.SerializerMethodField()

    @extend_schema_field(MemberTierPerksSerializer)
    def get_perks(self, tier):
        return MemberTierPerksSerializer(TierPerks.of(tier)).data


@extend_schema_serializer(component_name="MemberNextTier")
class NextTierSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    rank = serializers.IntegerField()


@extend_schema_serializer(component_name="MemberTierKeep")
class TierKeepSerializer(serializers.Serializer):
    threshold = serializers.DecimalField(source="keep_threshold", max_digits=16, decimal_places=2, allow_null=True)
    value = serializers.DecimalField(source="keep_value", max_digits=16, decimal_places=2, allow_null=True)
    by = serializers.DateTimeField(
        source="keep_by", allow_null=True, help_text="Reach the threshold in this window, by then, to keep the tier."
    )
    kept = serializers.BooleanField(help_text="Whether the member keeps the tier on today's figures.")
    until = serializers.DateTimeField(
        source="kept_until", allow_null=True, help_text="The tier lasts at least until then (null: no end set)."
    )


@extend_schema_serializer(component_name="MemberTierProgress")
class TierProgressSerializer(serializers.Serializer):
    next_tier = NextTierSerializer(allow_null=True, help_text="Null at the top tier.")
    metric = serializers.CharField(help_text="points, spend or orders: what the next tier counts.")
    window = serializers.CharField(help_text="lifetime, calendar_year, rolling_12_months or membership_year.")
    window_ends_at = serializers.DateTimeField(source="window_end", allow_null=True)
    value = serializers.DecimalField(max_digits=16, decimal_places=2, help_text="The metric in the window now.")
    currency = serializers.CharField(allow_blank=True, help_text="For spend: the program's currency.")
    needed = serializers.DecimalField(
        max_digits=16, decimal_places=2, allow_null=True, help_text="How much more enters the next tier."
    )
    percent = serializers.IntegerField(help_text="0-100: progress to the next tier.")
    keep = TierKeepSerializer(source="*", help_text="What keeps the current tier.")
    held_until = serializers.DateTimeField(allow_null=True)
    held_reason = serializers.CharField(allow_blank=True, help_text="staff, paid or gift: the tier is held until then.")


@extend_schema_serializer(component_name="MemberReferred")
class MemberReferredSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["signed_up", "qualified", "rewarded", "rejected"],
        help_text="signed_up (referred, no qualifying order yet), qualified (the referrer's reward waits for the "
        "return window), rewarded, or rejected.",
    )
    reason = serializers.CharField(
        allow_null=True,
        help_text="Why it was rejected or is held for review: already_member, already_customer, "
        "already_referred, same_email, same_device, same_ip, same_address, same_payment, velocity_day, "
        "velocity_week, cap_reached, rejected_by_staff; null otherwise.",
    )
    in_review = serializers.BooleanField(help_text="Held for staff review: no reward is given until approved.")


@extend_schema_serializer(component_name="MemberReferral")
class MemberReferralSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The member's own referral code, to share.")
    link = serializers.URLField(help_text="The member's referral link (/r/<code>).")
    referred = MemberReferredSerializer(allow_null=True, help_text="How the member was referred; null if never.")


def _referral_data(request, link, *, active: bool) -> dict | None:
    """The member's `referral` answer; None (and no query) while the program is off (`active`: read once per
    request from the cached settings). The member's code is made on first use, as on their referral page."""
    if not active:
        return None
    member = link.member
    try:
        code = member.referral_code.code  # loaded with the link (shop_customer_get(with_referral_code=True))
    except ObjectDoesNotExist:
        code = referral_code_get_or_create(member=member).code
    referred = member_referred_get(member=member)
    return {
        "code": code,
        "link": request.build_absolute_uri(reverse("referrals:link", kwargs={"code": code})),
        "referred": None
        if referred is None
        else {
            "status": referred.status,
            "reason": referred.reason_code or None,
            "in_review": referred.review == Referral.Review.PENDING,
        },
    }


def _member_answer(request, link, serializer_class, *, active: bool):
    """The member as `serializer_class` renders `link`; `active`: referrals_active(), read once per request."""
    return serializer_class(link, context={"referral": _referral_data(request, link, active=active)}).data


def referrals_active() -> bool:
    """Whether the referral program runs (the per-process cached settings: no query within its seconds)."""
    return referral_program_cached().active


def _tiers_config(link):
    """The tiers, loaded once per member answer (get_tier and get_tier_progress share them)."""
    config = getattr(link, "_tiers_config", None)
    if config is None:
        config = link._tiers_config = tiers_config()
    return config


class _MemberBase(serializers.Serializer):
    """Fields of a member as the calling shop sees it; the instance is the shop's ShopCustomer link."""

    id = serializers.UUIDField(source="member.public_id")
    external_id = serializers.CharField(allow_null=True, help_text="The shop's own id for this customer, if any.")
    email = serializers.EmailField(source="member.user.email")
    first_name = serializers.CharField(source="member.first_name")
    last_name = serializers.CharField(source="member.last_name")
    tier = serializers.SerializerMethodField(help_text="The member's tier; null when the program has no tiers.")
    referral = serializers.SerializerMethodField(
        help_text="The member's referral code and link, and how they were referred; null while the referral "
        "program is off."
    )

    @extend_schema_field(MemberTierSerializer(allow_null=True))
    def get_tier(self, link):
        tier = _tiers_config(link).tier_of(link.member.points_account)
        return None if tier is None else MemberTierSerializer(tier).data

    @extend_schema_field(MemberReferralSerializer(allow_null=True))
    def get_referral(self, link):
        """Given by the view in the context (it needs the request); null while the referral program is off."""
        return self.context.get("referral")


MEMBER_EXAMPLE = {
    "id": MEMBER_ID_EXAMPLE,
    "external_id": "cust-1042",
    "email": "ana@example.com",
    "first_name": "Ana",
    "last_name": "Jansen",
    "points": {"available": 120, "pending": 30},
    "tier": {
        "id": "5f0c6a1e-2b7d-4c3e-9a8f-1d2e3f4a5b6c",
        "name": "Silver",
        "rank": 1,
        "colour": "#A8A9AD",
        "icon": "★",
        "perks": {
            "earning_multiplier": "1.250",
            "birthday_bonus_points": 100,
            "free_shipping": True,
            "early_access": False,
            "can_gift": False,
        },
    },
    "referral": {
        "code": "ANAK7P3Q",
        "link": "https://loyalty.example.com/r/ANAK7P3Q",
        "referred": {"status": "signed_up", "reason": None, "in_review": False},
    },
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
            max_length=64,
            required=False,
            allow_null=True,
            allow_blank=True,
            help_text="A friend's referral code the customer gave: a new member is referred by it (an existing one "
            "is recorded as refused: already a member). Ignored while the referral program is off.",
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
            400: error_response(BAD_REQUEST + " Also when neither `external_id` nor `email` is given."),
            409: error_response(
                "`identity_conflict`: your `external_id` belongs to another member than the `email`, or the "
                "email's member is linked to another `external_id` of your shop, or the email is a staff login."
            ),
            422: error_response(
                "`email_required`: an unknown `external_id` without an email. `member_closed`: the member closed "
                "their account. `unknown_referral_code`: no member has this `referral_code` (nothing is written)."
            ),
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
        active = referrals_active()
        link = shop_customer_get(shop=shop, member_id=member.public_id, with_referral_code=active)
        answer = _member_answer(request, link, self.OutputSerializer, active=active)
        return Response(answer, status=201 if created else 200)


@extend_schema_serializer(component_name="MemberDetail")
class MemberDetailOutputSerializer(_MemberBase):
    member_number = serializers.CharField(source="member.number")
    status = serializers.CharField(source="member.status", help_text="active, suspended or closed.")
    points = serializers.SerializerMethodField()
    tier_progress = serializers.SerializerMethodField(
        help_text="Progress to the next tier and what keeps the current one; null when the program has no tiers."
    )
    lifetime = MemberLifetimeSerializer(source="member")

    @extend_schema_field(MemberPointsDetailSerializer)
    def get_points(self, link):
        account = link.member.points_account
        return {
            "available": account.available,
            "pending": account.pending,
            "expiring": ExpiringSerializer(points_expiring(account=account), many=True).data,
        }

    @extend_schema_field(TierProgressSerializer(allow_null=True))
    def get_tier_progress(self, link):
        status = tier_status(account=link.member.points_account, config=_tiers_config(link))
        return None if status is None else TierProgressSerializer(status).data


MEMBER_DETAIL_EXAMPLE = {
    **MEMBER_EXAMPLE,
    "member_number": "401234567890",
    "status": "active",
    "points": {
        "available": 120,
        "pending": 30,
        "expiring": [{"points": 40, "expires_at": "2027-01-01T00:00:00+01:00"}],
    },
    "tier_progress": {
        "next_tier": {"id": "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "name": "Gold", "rank": 2},
        "metric": "spend",
        "window": "calendar_year",
        "window_ends_at": "2027-01-01T00:00:00+01:00",
        "value": "640.00",
        "currency": "EUR",
        "needed": "360.00",
        "percent": 64,
        "keep": {
            "threshold": "500.00",
            "value": "640.00",
            "by": "2027-01-01T00:00:00+01:00",
            "kept": True,
            "until": "2028-01-01T00:00:00+01:00",
        },
        "held_until": None,
        "held_reason": "",
    },
    "lifetime": {"earned": 400, "redeemed": 280, "expired": 0},
}


class MemberDetailApi(ShopAPIView):
    permission_classes = [HasScope("read")]

    @extend_schema(
        operation_id="member_retrieve",
        summary="A customer's points and status",
        description="What a shop shows a shopper. Only members linked to your shop (through `POST /members`) "
        "are found; others answer 404. Needs the `read` scope.",
        responses={
            200: MemberDetailOutputSerializer,
            404: error_response("`not_found`: no such member among your shop's customers."),
            **ERRORS,
        },
        examples=[OpenApiExample("A member", value=MEMBER_DETAIL_EXAMPLE, response_only=True)],
        tags=["members"],
    )
    def get(self, request, member_id):
        active = referrals_active()
        link = _shop_customer_or_404(request, member_id, with_referral_code=active)
        return Response(_member_answer(request, link, MemberDetailOutputSerializer, active=active))


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
        responses={
            200: MemberDetailOutputSerializer,
            400: error_response(BAD_REQUEST + " Also when not exactly one of `external_id` and `email` is given."),
            404: error_response("`not_found`: no such member among your shop's customers."),
            **ERRORS,
        },
        examples=[OpenApiExample("A member", value=MEMBER_DETAIL_EXAMPLE, response_only=True)],
        tags=["members"],
    )
    def get(self, request):
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        active = referrals_active()
        link = shop_customer_get(shop=request.auth.shop, with_referral_code=active, **query.validated_data)
        if link is None:
            raise ApplicationError("No such member among this shop's customers.", code="not_found", status=404)
        return Response(_member_answer(request, link, MemberDetailOutputSerializer, active=active))


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
        responses={
            200: EntryOutputSerializer(many=True),
            404: error_response("`not_found`: no such member among your shop's customers, or a page past the end."),
            **ERRORS,
        },
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
            400: error_response(BAD_REQUEST + " Also without an idempotency key, or with two different ones."),
            404: error_response("`not_found`: no such member among your shop's customers."),
            409: error_response("`idempotency_conflict`: the idempotency key was used with other points or reason."),
            422: error_response(
                "`insufficient_points`: removing more than is available (`details`: `available`, `requested`). "
                "`member_not_active`: the member closed their account."
            ),
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


def _idempotency_key(request, in_body: str | None, *, what: str = "adjustments") -> str:
    """The key from the body or the Idempotency-Key header; `what` names the writes in the error message."""
    header = (request.headers.get("Idempotency-Key") or "").strip() or None
    if header is not None and len(header) > 128:
        raise serializers.ValidationError({"Idempotency-Key": ["Ensure this header has no more than 128 characters."]})
    if header and in_body and header != in_body:
        raise serializers.ValidationError({"idempotency_key": ["The body and the Idempotency-Key header differ."]})
    key = in_body or header
    if not key:
        raise serializers.ValidationError(
            {"idempotency_key": [f"Give an idempotency_key or an Idempotency-Key header; {what} must be idempotent."]}
        )
    return key
