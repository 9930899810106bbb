"""API v1: events a shop reports for a customer (a review, a newsletter sign-up, its own named events)."""

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response

from core.exceptions import ApplicationError
from integrations.api_auth import HasScope, ShopAPIView
from integrations.apis.members import ERRORS, MEMBER_ID_EXAMPLE
from integrations.apis.orders import _text
from integrations.schema import ErrorSerializer
from integrations.selectors import shop_customer_get
from members.models import Member
from rewards.models import EventAward, MemberEvent
from rewards.selectors import event_awards
from rewards.services.events import (
    EVENT_NAME_MAX,
    EXTERNAL_ID_MAX,
    PLATFORM_EVENTS,
    event_name_clean,
    event_record,
)

OCCURRED_AT_EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
OCCURRED_AT_SKEW = dt.timedelta(hours=1)  # a clock running a little ahead; the event then counts as now


@extend_schema_serializer(component_name="EventInput")
class EventInputSerializer(serializers.Serializer):
    member_id = serializers.UUIDField(required=False, allow_null=True, help_text="The member's id (from /members).")
    member_external_id = _text(max_length=200, required=False, allow_null=True, help_text="Your customer id.")
    event = _text(
        max_length=EVENT_NAME_MAX,
        help_text="newsletter_signup, review_written, social_follow, social_share, or your own name "
        "(lower-case letters, digits and _ . : -).",
    )
    external_id = _text(max_length=EXTERNAL_ID_MAX, help_text="Your id of this event; unique per shop.")
    occurred_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Default: now.")

    def validate_event(self, value):
        try:
            return event_name_clean(value)
        except ApplicationError as error:
            raise serializers.ValidationError(error.message) from None

    def validate_occurred_at(self, value):
        if value is not None and not (OCCURRED_AT_EARLIEST <= value <= timezone.now() + OCCURRED_AT_SKEW):
            raise serializers.ValidationError("Enter a time between 2000 and now.")
        return value

    def validate(self, attrs):
        given = [name for name in ("member_id", "member_external_id") if attrs.get(name) is not None]
        if len(given) != 1:
            raise serializers.ValidationError("Give exactly one of member_id and member_external_id.")
        return attrs


@extend_schema_serializer(component_name="EventAward")
class EventAwardSerializer(serializers.Serializer):
    rule_id = serializers.UUIDField(allow_null=True, help_text="The event rule's id; null if it was deleted since.")
    rule_name = serializers.CharField()
    points = serializers.IntegerField()


@extend_schema_serializer(component_name="EventRefusal")
class EventRefusalSerializer(serializers.Serializer):
    rule_id = serializers.UUIDField(allow_null=True)
    rule_name = serializers.CharField()
    reason = serializers.ChoiceField(choices=["limit_reached"], help_text="Why the rule gave nothing.")


@extend_schema_serializer(component_name="EventBalance")
class EventBalanceSerializer(serializers.Serializer):
    available = serializers.IntegerField()
    pending = serializers.IntegerField()


@extend_schema_serializer(component_name="MemberEvent")
class EventOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    external_id = serializers.CharField()
    event = serializers.CharField()
    member_id = serializers.UUIDField()
    occurred_at = serializers.DateTimeField()
    status = serializers.ChoiceField(
        choices=[s.value for s in MemberEvent.Status],
        help_text="awarded (at least one rule gave points), limit_reached (every matching rule is at its "
        "limit) or no_matching_rule (no active rule for this event, shop and time: 0 points, not an error).",
    )
    points = serializers.IntegerField(help_text="Points awarded for this event, all rules together.")
    awards = EventAwardSerializer(many=True, help_text="The rules that gave points.")
    refused = EventRefusalSerializer(many=True, help_text="The matching rules that gave nothing, and why.")
    balance = EventBalanceSerializer(help_text="The member's points now.")


def _event_result(record: MemberEvent, member: Member) -> dict:
    awards = event_awards(member_event=record)

    def rule_id(award):
        return award.rule.public_id if award.rule is not None else None

    account = member.points_account
    return {
        "id": record.public_id,
        "external_id": record.external_id,
        "event": record.event,
        "member_id": member.public_id,
        "occurred_at": record.occurred_at,
        "status": record.status,
        "points": record.points,
        "awards": [
            {"rule_id": rule_id(a), "rule_name": a.rule_name, "points": a.points}
            for a in awards
            if a.status == EventAward.Status.AWARDED
        ],
        "refused": [
            {"rule_id": rule_id(a), "rule_name": a.rule_name, "reason": a.status}
            for a in awards
            if a.status != EventAward.Status.AWARDED
        ],
        "balance": {"available": account.available, "pending": account.pending},
    }


_RULE = "8d2f6b1a-4c3e-4f5a-9b0c-1d2e3f4a5b6c"
EVENT_BODY_EXAMPLE = {
    "member_external_id": "cust-1042",
    "event": "review_written",
    "external_id": "review-5521",
    "occurred_at": "2026-11-22T14:05:00+01:00",
}
EVENT_EXAMPLE = {
    "id": "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
    "external_id": "review-5521",
    "event": "review_written",
    "member_id": MEMBER_ID_EXAMPLE,
    "occurred_at": "2026-11-22T14:05:00+01:00",
    "status": "awarded",
    "points": 50,
    "awards": [{"rule_id": _RULE, "rule_name": "A review: 50 points, once a day", "points": 50}],
    "refused": [],
    "balance": {"available": 170, "pending": 30},
}


class EventCreateApi(ShopAPIView):
    permission_classes = [HasScope("write")]

    @extend_schema(
        operation_id="event_create",
        summary="Report something a customer did; the event rules award its points",
        description=(
            "Finds your customer by `member_id` or your `member_external_id` (exactly one; 404 if the member is "
            "not your shop's customer). Every active event rule for this `event`, your shop and `occurred_at` "
            "(default now) gives its points, unless the member already had the rule's limit of awards in its "
            "period (day, week from Monday, month, year, in the program's time zone; or ever): such rules are "
            "listed in `refused`. An event no rule matches is recorded with 0 points and status "
            "`no_matching_rule` (not an error), so you can send every event without knowing the rules. "
            "`sign_up`, `first_purchase` and `birthday` are sent by the platform itself (422 "
            "`event_reserved`). Idempotent on `external_id`: the same body again answers 200 with the first "
            "result and changes nothing; another body with the same `external_id` is a 409 "
            "`idempotency_conflict`. A closed member is a 422 `member_not_active`. Needs the `write` scope."
        ),
        request=EventInputSerializer,
        responses={
            200: EventOutputSerializer,
            201: EventOutputSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            422: ErrorSerializer,
            **ERRORS,
        },
        examples=[
            OpenApiExample("A review", value=EVENT_BODY_EXAMPLE, request_only=True),
            OpenApiExample("Points awarded", value=EVENT_EXAMPLE, response_only=True),
            OpenApiExample(
                "At the limit",
                value={
                    **EVENT_EXAMPLE,
                    "status": "limit_reached",
                    "points": 0,
                    "awards": [],
                    "refused": [
                        {"rule_id": _RULE, "rule_name": "A review: 50 points, once a day", "reason": "limit_reached"}
                    ],
                },
                response_only=True,
            ),
        ],
        tags=["events"],
    )
    def post(self, request):
        serializer = EventInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["event"] in PLATFORM_EVENTS:
            raise ApplicationError(
                f"The platform sends {data['event']} itself; shops cannot.",
                code="event_reserved",
                extra={"event": data["event"]},
            )
        shop = request.auth.shop
        link = shop_customer_get(shop=shop, member_id=data.get("member_id"), external_id=data.get("member_external_id"))
        if link is None:
            raise ApplicationError("No such member among this shop's customers.", code="not_found", status=404)
        record, created = event_record(
            member=link.member,
            event=data["event"],
            shop=shop,
            external_id=data["external_id"],
            occurred_at=data.get("occurred_at"),
        )
        return Response(EventOutputSerializer(_event_result(record, link.member)).data, status=201 if created else 200)
