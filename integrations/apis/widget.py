"""The storefront widget's endpoints (static/widget/loyalty.js calls them from the shop's pages).

/api/v1/widget/<widget_key>/config (public), /me and /me/redemptions (a shopper token). No API key ever
reaches the browser: integrations.widget_auth knows the shop by its public key, the shopper by the token
the shop's server signed, answers CORS for the shop's allowed origins only, and limits the rate per key
and client address. The texts are translated on the server (the request's language), so the widget's
script carries no words of its own beyond fallbacks.
"""

from django.urls import path, reverse
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response

from core.exceptions import ApplicationError
from integrations.apis.rewards import REDEMPTION_EXAMPLE, RedemptionOutputSerializer, _redemption_data
from integrations.schema import BAD_REQUEST, error_response
from integrations.services.widget import widget_member_get_or_join
from integrations.widget_auth import WidgetAPIView
from integrations.widget_selectors import MemberView, guest_offer_get, member_view_get, reward_refusal_words
from members.words import reward_gives
from rewards.models import Redemption, Reward
from rewards.selectors import program_cached
from rewards.services.redemptions import reward_redeem

WIDGET_KEY_EXAMPLE = "pk_3k9x2m7q1w8e5r4t6y0u2i9o"
WIDGET_KEY_PARAMETER = OpenApiParameter(
    "widget_key", str, OpenApiParameter.PATH, description="The shop's public widget key (the snippet's data-shop)."
)
WIDGET_ERRORS = {
    401: error_response(
        "`invalid_token`: the shopper token is forged, expired, lives longer than an hour, was made for another "
        "shop or is not HS256 (`details.reason`: forged, expired, too_long, other_shop, algorithm, missing_claim, "
        "malformed, not_yet_valid)."
    ),
    403: error_response(
        "`origin_not_allowed`: the page's origin is not among the shop's allowed origins (and no CORS headers)."
    ),
    404: error_response("`widget_not_found`: no shop has this widget key, or its widget is switched off."),
    429: error_response("`throttled`: too many requests from this address; try again after `Retry-After` seconds."),
}
ME_ERRORS = {
    **WIDGET_ERRORS,
    401: error_response(
        "`not_authenticated`: no shopper token. `invalid_token`: forged, expired, longer than an hour, another "
        "shop's or not HS256 (`details.reason` says which)."
    ),
    403: error_response(
        "`origin_not_allowed`: the page's origin is not allowed. `not_a_member`: the shopper is not a member and "
        "the shop does not let the widget enrol them. `email_required`: enrolling needs the token's email. "
        "`member_closed`: the membership is closed."
    ),
}


class ShopperTokenScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.widget_auth.ShopperTokenAuthentication"
    name = "ShopperToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A JWT (HS256) the shop's server signs with the shop's widget secret: iss (the widget "
            "key), sub (the shop's customer id), email, iat, exp (at most an hour after iat). See docs/widget.md.",
        }


def _texts(shop, program) -> dict:
    """Every word the widget shows, in the request's language; the shop's own texts where staff set them."""
    return {
        "launcher": shop.widget_launcher_label or _("Rewards"),
        "title": shop.widget_title or program.name,
        "welcome_guest": shop.widget_welcome_guest
        or _("Join %(program)s and earn points on every order.") % {"program": program.name},
        "welcome_member": shop.widget_welcome_member or _("Welcome back, %(name)s!"),
        "join": _("Join now"),
        "sign_in": _("Sign in"),
        "points": _("points"),
        "available": _("Available"),
        "pending": _("Pending"),
        "pending_hint": _("Pending points become available once the return period has passed."),
        "expiring": _("%(points)s expire on %(date)s"),
        "tier": _("Your tier"),
        "ways_to_earn": _("Ways to earn"),
        "rewards": _("Rewards"),
        "redeem": _("Redeem"),
        "confirm": _("Redeem %(title)s for %(points)s points?"),
        "confirm_yes": _("Yes, redeem"),
        "cancel": _("Cancel"),
        "your_code": _("Your code"),
        "copy": _("Copy"),
        "copied": _("Copied"),
        "code_hint": _("Enter this code at checkout."),
        "referral": _("Invite friends"),
        "referral_hint": _("Share your link: you both earn when a friend joins."),
        "activity": _("Recent activity"),
        "no_activity": _("Nothing here yet."),
        "close": _("Close"),
        "open": _("Open rewards"),
        "error": _("Something went wrong. Please try again."),
        "session_expired": _("Your session has expired. Please reload the page."),
        "not_member": _("You are not a member yet."),
    }


# --- config (public) --------------------------------------------------------------------------------------


@extend_schema_serializer(component_name="WidgetTheme")
class ThemeSerializer(serializers.Serializer):
    colour = serializers.CharField(help_text="#RRGGBB: the launcher, the header and buttons.")
    text_colour = serializers.CharField(help_text="#RRGGBB: text on that colour.")
    position = serializers.ChoiceField(choices=["bottom-right", "bottom-left"])


@extend_schema_serializer(component_name="WidgetLinks")
class LinksSerializer(serializers.Serializer):
    join = serializers.URLField()
    sign_in = serializers.URLField()


@extend_schema_serializer(component_name="WidgetOfferReward")
class OfferRewardSerializer(serializers.Serializer):
    title = serializers.CharField()
    points = serializers.IntegerField()
    gives = serializers.CharField(help_text="What it gives, in words.")


@extend_schema_serializer(component_name="WidgetConfig")
class ConfigOutputSerializer(serializers.Serializer):
    program = serializers.CharField(help_text="The program's name.")
    shop = serializers.CharField(help_text="The shop's name.")
    currency = serializers.CharField()
    theme = ThemeSerializer()
    texts = serializers.DictField(child=serializers.CharField(), help_text="The widget's words, translated.")
    links = LinksSerializer()
    ways_to_earn = serializers.ListField(child=serializers.CharField())
    rewards = OfferRewardSerializer(many=True)


CONFIG_EXAMPLE = {
    "program": "Demo Rewards",
    "shop": "Demo Webshop",
    "currency": "EUR",
    "theme": {"colour": "#1F6FEB", "text_colour": "#FFFFFF", "position": "bottom-right"},
    "texts": {"launcher": "Rewards", "title": "Demo Rewards", "join": "Join now", "sign_in": "Sign in"},
    "links": {"join": "https://shop.example.com/account/register", "sign_in": "https://shop.example.com/login"},
    "ways_to_earn": ["100 points for joining", "1 point per EUR 1.00 spent"],
    "rewards": [{"title": "5 euro off", "points": 500, "gives": "EUR 5.00 off your order"}],
}


class WidgetConfigApi(WidgetAPIView):
    @extend_schema(
        operation_id="widget_config",
        summary="The widget's look, words and the program's offer (public)",
        description=(
            "What the widget needs before anyone signs in: the shop's theme and texts (translated to the "
            "request's Accept-Language), links to join and sign in, the ways to earn and the rewards on offer at "
            "this shop. No token needed; a CORS request is answered for the shop's allowed origins only."
        ),
        parameters=[WIDGET_KEY_PARAMETER],
        responses={200: ConfigOutputSerializer, **WIDGET_ERRORS},
        examples=[OpenApiExample("A shop's widget", value=CONFIG_EXAMPLE, response_only=True)],
        tags=["widget"],
        auth=[],
    )
    def get(self, request, widget_key):
        shop = self.widget_shop
        program = program_cached()
        offer = guest_offer_get(shop=shop, program=program)
        data = {
            "program": program.name,
            "shop": shop.name,
            "currency": program.currency,
            "theme": {
                "colour": shop.widget_colour,
                "text_colour": shop.widget_text_colour,
                "position": shop.widget_position,
            },
            "texts": _texts(shop, program),
            "links": {
                "join": shop.widget_join_url or request.build_absolute_uri(reverse("account_signup")),
                "sign_in": shop.widget_signin_url or request.build_absolute_uri(reverse("account_login")),
            },
            "ways_to_earn": offer.ways_to_earn,
            "rewards": offer.rewards,
        }
        return Response(ConfigOutputSerializer(data).data)


# --- me ---------------------------------------------------------------------------------------------------


def _member(request):
    if request.auth.shopper is None:
        raise ApplicationError(
            "Send the shopper token: Authorization: Bearer <token>.", code="not_authenticated", status=401
        )
    return widget_member_get_or_join(shop=request.auth.shop, shopper=request.auth.shopper)


@extend_schema_serializer(component_name="WidgetExpiry")
class ExpirySerializer(serializers.Serializer):
    points = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="WidgetMember")
class MemberSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    first_name = serializers.CharField()
    available = serializers.IntegerField()
    pending = serializers.IntegerField()
    next_expiry = ExpirySerializer(allow_null=True)


@extend_schema_serializer(component_name="WidgetTier")
class TierSerializer(serializers.Serializer):
    name = serializers.CharField()
    icon = serializers.CharField()
    colour = serializers.CharField()
    next = serializers.CharField(allow_null=True, help_text="The next tier's name; null at the top.")
    percent = serializers.IntegerField(help_text="Progress to the next tier, 0-100.")
    progress = serializers.CharField(help_text='"EUR 350.00 of EUR 500.00 this year"; empty at the top.')
    missing = serializers.CharField(help_text="What is still needed for the next tier, in words.")
    perks = serializers.ListField(child=serializers.CharField())


@extend_schema_serializer(component_name="WidgetReward")
class RewardSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    description = serializers.CharField()
    image_url = serializers.CharField()
    points = serializers.IntegerField()
    gives = serializers.CharField()
    can_redeem = serializers.BooleanField()
    why_not = serializers.CharField(allow_null=True, help_text="Why the member cannot redeem it now, in words.")
    short_by = serializers.IntegerField(allow_null=True)


@extend_schema_serializer(component_name="WidgetReferral")
class ReferralSerializer(serializers.Serializer):
    code = serializers.CharField()
    link = serializers.URLField()


@extend_schema_serializer(component_name="WidgetActivity")
class ActivitySerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    reason = serializers.CharField()
    points = serializers.IntegerField()
    pending = serializers.BooleanField()
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="WidgetMe")
class MeOutputSerializer(serializers.Serializer):
    member = MemberSerializer()
    tier = TierSerializer(allow_null=True, help_text="null: the program has no tiers.")
    ways_to_earn = serializers.ListField(child=serializers.CharField())
    rewards = RewardSerializer(many=True)
    referral = ReferralSerializer(allow_null=True, help_text="null: the referral program is off.")
    activity = ActivitySerializer(many=True, help_text="The newest entries of the member's points history.")


ME_EXAMPLE = {
    "member": {
        "id": "3b9d8f2e-7c41-4a6b-9e1f-0a2b3c4d5e6f",
        "first_name": "Ana",
        "available": 620,
        "pending": 30,
        "next_expiry": {"points": 120, "expires_at": "2027-01-01T00:00:00+01:00"},
    },
    "tier": {
        "name": "Member",
        "icon": "☆",
        "colour": "#5B6770",
        "next": "Gold",
        "percent": 62,
        "progress": "620 points of 1,000 points this year",
        "missing": "380 points more by 31 December 2026 to reach Gold.",
        "perks": [],
    },
    "ways_to_earn": ["1 point per EUR 1.00 spent", "100 points on your birthday"],
    "rewards": [
        {
            "id": "5f0c2a7e-3d1b-4c8e-9a6f-2b7d4e1c0a93",
            "title": "5 euro off",
            "description": "5.00 off your next order.",
            "image_url": "",
            "points": 500,
            "gives": "EUR 5.00 off your order",
            "can_redeem": True,
            "why_not": None,
            "short_by": None,
        }
    ],
    "referral": {"code": "ANA7K3P", "link": "https://loyalty.example.com/r/ANA7K3P"},
    "activity": [
        {
            "kind": "earn",
            "label": "Earned",
            "reason": "Order order-20931",
            "points": 95,
            "pending": True,
            "created_at": "2026-11-22T14:05:00Z",
        }
    ],
}


def _me_data(request, view: MemberView, *, currency: str) -> dict:
    member = view.member
    account = member.points_account
    expiry = view.next_expiry
    return {
        "member": {
            "id": member.public_id,
            "first_name": member.first_name,
            "available": account.available,
            "pending": account.pending,
            "next_expiry": {"points": expiry.points, "expires_at": expiry.expires_at} if expiry else None,
        },
        "tier": view.tier,
        "ways_to_earn": view.ways_to_earn,
        "rewards": [
            {
                "id": o.reward.public_id,
                "title": o.reward.title,
                "description": o.reward.description,
                "image_url": o.reward.image_url,
                "points": o.reward.points,
                "gives": reward_gives(o.reward, currency=currency),
                "can_redeem": o.available,
                "why_not": reward_refusal_words(o),
                "short_by": o.refusal.details.get("short_by") if o.refusal else None,
            }
            for o in view.rewards
            if o.reward.kind != Reward.Kind.PAY_WITH_POINTS  # needs a points amount: the member pages do it
        ],
        "referral": {
            "code": view.referral_code,
            "link": request.build_absolute_uri(reverse("referrals:link", args=[view.referral_code])),
        }
        if view.referral_code
        else None,
        "activity": [
            {
                "kind": e.kind,
                "label": e.get_kind_display(),
                "reason": e.reason,
                "points": e.points,
                "pending": e.pending_change > 0,
                "created_at": e.created_at,
            }
            for e in view.activity
        ],
    }


class WidgetMeApi(WidgetAPIView):
    @extend_schema(
        operation_id="widget_me",
        summary="The signed-in shopper's membership, as the widget shows it",
        description=(
            "Points (available, pending, the next expiry), tier and progress, ways to earn, the rewards at this "
            "shop with whether the member can redeem each now (and why not, in words), the referral link while "
            "the referral program runs, and recent activity. A shopper who is not a member yet becomes one on "
            "first use when the shop allows it (the token's `email` is then needed)."
        ),
        parameters=[WIDGET_KEY_PARAMETER],
        responses={200: MeOutputSerializer, **ME_ERRORS},
        examples=[OpenApiExample("A member", value=ME_EXAMPLE, response_only=True)],
        tags=["widget"],
    )
    def get(self, request, widget_key):
        member = _member(request)
        program = program_cached()
        view = member_view_get(member=member, shop=request.auth.shop, program=program)
        return Response(MeOutputSerializer(_me_data(request, view, currency=program.currency)).data)


class WidgetRedemptionApi(WidgetAPIView):
    @extend_schema_serializer(component_name="WidgetRedemptionInput")
    class InputSerializer(serializers.Serializer):
        reward_id = serializers.UUIDField(help_text="A reward's `id` from GET me.")

    @extend_schema(
        operation_id="widget_redemption_create",
        summary="Redeem a reward from the widget",
        description=(
            "Debits the points and returns the coupon to show the shopper. Idempotent: the `Idempotency-Key` "
            "header is required (the widget makes one per confirmation); the same key answers 200 with the first "
            "redemption. Pay-with-points rewards are redeemed at checkout, not here."
        ),
        request=InputSerializer,
        parameters=[
            WIDGET_KEY_PARAMETER,
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True),
        ],
        responses={
            201: RedemptionOutputSerializer,
            200: RedemptionOutputSerializer,
            400: error_response(BAD_REQUEST + " Also without an Idempotency-Key header."),
            **ME_ERRORS,
            404: error_response("`not_found`: no such reward at this shop. `widget_not_found`: unknown widget key."),
            409: error_response("`idempotency_conflict`: the key was used for another reward."),
            422: error_response(
                "`insufficient_points`, `out_of_stock`, `limit_reached`, `not_eligible`, `reward_inactive`, "
                "`member_not_active`, `invalid_points` (a pay-with-points reward)."
            ),
        },
        examples=[
            OpenApiExample("Redeem", value={"reward_id": "5f0c2a7e-3d1b-4c8e-9a6f-2b7d4e1c0a93"}, request_only=True),
            OpenApiExample("The redemption", value=REDEMPTION_EXAMPLE, response_only=True, status_codes=["201", "200"]),
        ],
        tags=["widget"],
    )
    def post(self, request, widget_key):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = (request.headers.get("Idempotency-Key") or "").strip()
        if not key or len(key) > 64:
            raise serializers.ValidationError(
                {"Idempotency-Key": ["Send an Idempotency-Key header of 1 to 64 characters."]}
            )
        member = _member(request)
        shop = request.auth.shop
        reward = Reward.objects.filter(public_id=serializer.validated_data["reward_id"]).first()
        if reward is None:
            raise ApplicationError("No such reward.", code="not_found", status=404)
        redemption, created = reward_redeem(
            member=member,
            reward=reward,
            # A member's keys are theirs alone: another shopper cannot replay (or collide with) them.
            idempotency_key=f"widget:{member.public_id}:{key}",
            channel=Redemption.Channel.WIDGET,
            shop=shop,
        )
        account = member.points_account
        account.refresh_from_db(fields=["available", "pending"])
        return Response(
            RedemptionOutputSerializer(_redemption_data(redemption, account=account)).data,
            status=201 if created else 200,
        )


urlpatterns = [
    path("widget/<str:widget_key>/config", WidgetConfigApi.as_view(), name="widget-config"),
    path("widget/<str:widget_key>/me", WidgetMeApi.as_view(), name="widget-me"),
    path("widget/<str:widget_key>/me/redemptions", WidgetRedemptionApi.as_view(), name="widget-redemptions"),
]
