"""Campaigns without the orders API: the config (one query), campaign_boosts (pure: which campaigns apply),
their part in evaluate_order, breakdown_capped, campaigns_for_member, and the campaign admin."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from members.tests.factories import member_create
from rewards.models import Campaign, EarningRule, Segment, SegmentMember
from rewards.selectors.campaigns import campaign_description, campaigns_for_member
from rewards.services.campaigns import breakdown_capped, campaign_boosts, campaign_boosts_config
from rewards.services.earning import MemberContext, OrderInput, OrderLine, evaluate_order

AT = dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC)
SHOP = "6f9c2a52-0000-4000-8000-000000000001"


def campaign(**fields) -> Campaign:
    defaults = {
        "name": "Double points",
        "kind": Campaign.Kind.ORDER_MULTIPLIER,
        "factor": Decimal(2),
        "starts_at": AT - dt.timedelta(days=1),
        "ends_at": AT + dt.timedelta(days=1),
    }
    segments = fields.pop("segments", ())
    made = Campaign.objects.create(**(defaults | fields))
    made.segments.set(segments)
    return made


def order_input(currency="EUR", lines=None) -> OrderInput:
    lines = lines or (
        OrderLine("A", "Shoes", "shoes", Decimal(2), Decimal(25), Decimal(50)),
        OrderLine("B", "Socks", "socks", Decimal(3), Decimal(10), Decimal(30)),
    )
    total = sum((line.total for line in lines), Decimal(0))
    return OrderInput(currency, total, total, Decimal(0), Decimal(0), Decimal(0), AT, tuple(lines), SHOP)


BASE = EarningRule(name="Base", kind="base_rate", currency="EUR", points=1, amount=1)


def evaluate(config, account=None, order=None):
    order = order or order_input()
    rules, multipliers = campaign_boosts(config, account=account, order=order, at=AT, shop_id=SHOP)
    return evaluate_order(order, [BASE, *rules], member=MemberContext(), now=AT, multipliers=multipliers)


def test_the_config_is_one_query_without_targeting(db, django_assert_num_queries):
    campaign()
    campaign(name="Shoes", kind=Campaign.Kind.PRODUCT_POINTS, points=1, categories=["shoes"])
    with django_assert_num_queries(1):
        config = campaign_boosts_config()
    assert len(config.campaigns) == 2


def test_the_config_leaves_out_paused_action_and_long_ended_campaigns(db):
    campaign(name="Paused", is_active=False)
    campaign(name="Review bonus", kind=Campaign.Kind.ACTION_BONUS, points=10, event="review_written")
    now = timezone.now()
    campaign(name="Long over", starts_at=now - dt.timedelta(days=90), ends_at=now - dt.timedelta(days=60))
    assert campaign_boosts_config().campaigns == ()


def test_boosts_read_nothing_from_the_database(db, django_assert_num_queries):
    member = member_create()
    vip = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC)
    SegmentMember.objects.create(segment=vip, member=member)
    campaign(segments=[vip])
    campaign(name="Socks", kind=Campaign.Kind.PRODUCT_MULTIPLIER, factor=3, skus=["B"])
    config = campaign_boosts_config()
    with django_assert_num_queries(0):
        rules, multipliers = campaign_boosts(
            config, account=member.points_account, order=order_input(), at=AT, shop_id=SHOP
        )
    assert [m.name for m in multipliers] == ["Double points"] and [r.name for r in rules] == ["Socks"]


def test_each_kind_in_the_breakdown(db):
    double = campaign()
    socks = campaign(name="Socks x3", kind=Campaign.Kind.PRODUCT_MULTIPLIER, factor=3, skus=["B"])
    shoes = campaign(name="Shoes +4", kind=Campaign.Kind.PRODUCT_POINTS, points=4, categories=["SHOES"])
    breakdown = evaluate(campaign_boosts_config())
    parts = {s.ref: (s.source, s.kind, s.points) for s in (*breakdown.rules, *breakdown.multipliers)}
    assert parts[str(socks.public_id)] == ("campaign", "multiplier", 60)  # (3 - 1) x 30
    assert parts[str(shoes.public_id)] == ("campaign", "fixed", 8)  # 2 pairs x 4
    assert parts[str(double.public_id)] == ("campaign", "multiplier", 80 + 60 + 8)  # doubles all the rest
    assert breakdown.points == 2 * (80 + 60 + 8)


def test_currency_shop_and_segment_decide(db):
    member, other = member_create(), member_create()
    vip = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC)
    SegmentMember.objects.create(segment=vip, member=member)
    campaign(name="USD only", currency="USD")
    campaign(name="Another shop", shop_ids=["6f9c2a52-0000-4000-8000-000000000002"])
    campaign(name="This shop, VIP", shop_ids=[SHOP.upper()], segments=[vip])
    config = campaign_boosts_config()
    assert evaluate(config, member.points_account).points == 160
    assert evaluate(config, other.points_account).points == 80
    assert evaluate(config, None).points == 80  # no member: no targeted offer
    assert evaluate(config, member.points_account, order_input("USD")).points == 0  # no USD base rule


def test_a_campaign_whose_budget_is_used_up_is_left_out(db):
    campaign(budget=100, points_given=100)
    assert evaluate(campaign_boosts_config()).points == 80


def test_campaign_rules_never_rescue_excluded_lines(db):
    campaign(name="Shoes +4", kind=Campaign.Kind.PRODUCT_POINTS, points=4, categories=["shoes"])
    exclusion = EarningRule(name="No shoes", kind="exclusion", currency="EUR", categories=["shoes"], priority=9)
    order = order_input()
    rules, multipliers = campaign_boosts(campaign_boosts_config(), account=None, order=order, at=AT, shop_id=SHOP)
    breakdown = evaluate_order(order, [exclusion, BASE, *rules], member=MemberContext(), now=AT)
    assert breakdown.lines[0].points == 0 and breakdown.points == 30


@settings(max_examples=60, deadline=None)
@given(
    quantities=st.lists(st.integers(1, 9), min_size=1, max_size=5),
    factor=st.sampled_from([Decimal("1.5"), Decimal(2), Decimal(3)]),
    keep_share=st.fractions(0, 1),
)
def test_a_capped_breakdown_adds_up(quantities, factor, keep_share):
    from rewards.services.campaigns import CampaignRule

    lines = tuple(OrderLine(f"S{i}", "", "c", Decimal(q), Decimal(7), Decimal(7 * q)) for i, q in enumerate(quantities))
    order = order_input(lines=lines)
    rule = CampaignRule("ref-1", "Bonus", "fixed", "EUR", factor, Decimal(3), ("c",), ())
    from rewards.services.earning import Multiplier

    double = Multiplier("Double", factor, ref="ref-2")
    data = evaluate_order(order, [BASE, rule], member=MemberContext(), now=AT, multipliers=[double]).as_dict()
    for ref in ("ref-1", "ref-2"):
        given = next(s["points"] for s in (*data["rules"], *data["multipliers"]) if s["ref"] == ref)
        keep = int(given * keep_share)
        capped = breakdown_capped(data, ref=ref, keep=keep, reason="budget")
        assert capped["points"] == data["points"] - (given - keep)
        assert sum(line["points"] for line in capped["lines"]) == capped["points"]
        for line in capped["lines"]:
            assert line["points"] == sum(c["points"] for c in line["rules"])
            assert all(c["points"] >= 0 for c in line["rules"])
        kept = [s["points"] for s in (*capped["rules"], *capped["multipliers"]) if s["ref"] == ref]
        assert kept == ([keep] if keep else [])
        assert capped["notes"][-1]["code"] == "campaign_capped"
        data = capped


# --- for members ---------------------------------------------------------------------------------------


def test_campaigns_for_member_lists_what_they_can_get(db):
    member, other = member_create(), member_create()
    vip = Segment.objects.create(name="VIP", kind=Segment.Kind.STATIC)
    SegmentMember.objects.create(segment=vip, member=member)
    now = timezone.now()
    window = {"starts_at": now - dt.timedelta(hours=1), "ends_at": now + dt.timedelta(days=2)}
    campaign(name="Double", **window)
    campaign(name="VIP socks", kind=Campaign.Kind.PRODUCT_POINTS, points=5, skus=["socks"], segments=[vip], **window)
    campaign(name="Spent", budget=10, points_given=10, **window)
    campaign(name="Later", starts_at=now + dt.timedelta(days=1), ends_at=now + dt.timedelta(days=3))
    campaign(
        name="Review", kind=Campaign.Kind.ACTION_BONUS, points=20, event="review_written", member_limit=40, **window
    )
    mine = campaigns_for_member(member=member)
    assert [c.name for c in mine] == ["Double", "VIP socks", "Review"]
    assert [c.targeted for c in mine] == [False, True, False]
    assert mine[0].description.startswith("Double points on every order, until ")
    assert mine[1].description.startswith("5 extra points for each socks you buy")
    assert mine[2].description.endswith("up to 40 extra points per member.")
    assert [c.name for c in campaigns_for_member(member=other)] == ["Double", "Review"]


def test_staff_description_wins(db):
    assert (
        campaign_description(campaign(description="Twice the points all weekend!")) == "Twice the points all weekend!"
    )


# --- admin ---------------------------------------------------------------------------------------------


def form(**overrides) -> dict:
    data = {
        "name": "Double weekend",
        "kind": "order_multiplier",
        "is_active": "on",
        "description": "",
        "starts_at_0": "2026-11-01",
        "starts_at_1": "00:00:00",
        "ends_at_0": "2026-11-03",
        "ends_at_1": "00:00:00",
        "factor": "2",
        "points": "0",
        "categories": "",
        "skus": "",
        "event": "",
        "currency": "",
        "shop_ids": "",
        "budget": "",
        "member_limit": "",
    }
    return data | overrides


def test_campaign_admin_pages_render(admin_client, db):
    made = campaign(budget=500, points_given=120)
    listing = admin_client.get("/admin/rewards/campaign/")
    assert listing.status_code == 200
    assert "120 / 380" in listing.content.decode()
    assert admin_client.get("/admin/rewards/campaign/add/").status_code == 200
    page = admin_client.get(f"/admin/rewards/campaign/{made.pk}/change/")
    assert page.status_code == 200 and "Double points on every order" in page.content.decode()


def test_campaign_admin_creates_a_valid_campaign(admin_client, db):
    response = admin_client.post("/admin/rewards/campaign/add/", form(currency="eur"))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Campaign.objects.get().currency == "EUR"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"ends_at_0": "2026-10-01"}, "must end after it starts"),
        ({"factor": "1"}, "greater than or equal to 1.0001"),
        ({"kind": "product_points", "points": "5"}, "Name the categories or SKUs"),
        ({"kind": "product_points", "categories": "shoes", "points": "0"}, "Give the bonus points"),
        ({"kind": "action_bonus", "points": "10"}, "Name the action"),
        ({"budget": "100", "member_limit": "200"}, "cannot be larger than the whole budget"),
        ({"currency": "E1R"}, "three-letter"),
    ],
)
def test_campaign_admin_refuses_what_makes_no_sense(admin_client, db, overrides, error):
    response = admin_client.post("/admin/rewards/campaign/add/", form(**overrides))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Campaign.objects.exists()


def test_editing_a_campaign_never_writes_its_counter_back(admin_client, db):
    made = campaign(budget=500)
    page_data = form(name="Renamed", budget="500", starts_at_0="2026-10-31", ends_at_0="2026-11-02")
    Campaign.objects.filter(pk=made.pk).update(points_given=200)  # orders while staff edit the form
    response = admin_client.post(f"/admin/rewards/campaign/{made.pk}/change/", page_data)
    assert response.status_code == 302, response.content.decode()[:3000]
    made.refresh_from_db()
    assert (made.name, made.points_given) == ("Renamed", 200)


# --- action bonuses (rewards.services.events) ----------------------------------------------------------


def review_campaign(**fields) -> Campaign:
    now = timezone.now()
    defaults = {
        "name": "Reviews count double",
        "kind": Campaign.Kind.ACTION_BONUS,
        "event": "review_written",
        "points": Decimal(30),
        "starts_at": now - dt.timedelta(days=1),
        "ends_at": now + dt.timedelta(days=1),
    }
    return campaign(**(defaults | fields))


def test_an_action_bonus_adds_to_the_event_rules_points(db):
    from rewards.models import EventRule
    from rewards.services.events import event_record

    member = member_create()
    EventRule.objects.create(name="Review", event="review_written", points=20)
    bonus = review_campaign()
    record, _ = event_record(member=member, event="review_written", external_id=None, idempotency_key="r-1")
    assert (record.status, record.points) == ("awarded", 50)
    assert sorted((a.rule_name, a.points) for a in record.awards.all()) == [
        ("Review", 20),
        ("Reviews count double (campaign)", 30),
    ]
    assert bonus.members_reached.get(member=member).points == 30


def test_an_action_bonus_alone_awards_the_event_within_the_member_limit_and_budget(db):
    from rewards.services.events import event_record

    ana, bo = member_create(), member_create()
    bonus = review_campaign(member_limit=50, budget=70)
    points = [event_record(member=ana, event="review_written", idempotency_key=f"a-{i}")[0].points for i in range(3)]
    assert points == [30, 20, 0]  # the member's limit of 50
    assert event_record(member=bo, event="review_written", idempotency_key="b-0")[0].points == 20  # the budget
    bonus.refresh_from_db()
    assert bonus.points_given == 70
    assert bonus.members_reached.get(member=ana).points == 50


def test_no_action_bonus_when_the_event_rule_refuses_or_outside_the_window(db):
    from rewards.models import EventRule
    from rewards.services.events import event_record

    member = member_create()
    EventRule.objects.create(name="Review", event="review_written", points=20, limit_count=1)
    review_campaign()
    review_campaign(name="Over", starts_at=AT - dt.timedelta(days=3), ends_at=AT - dt.timedelta(days=2))
    assert event_record(member=member, event="review_written", idempotency_key="r-1")[0].points == 50
    second, _ = event_record(member=member, event="review_written", idempotency_key="r-2")
    assert (second.status, second.points) == ("limit_reached", 0)


def test_a_rule_segment_targets_through_the_config(db):
    from members.models import Member

    old, new = member_create(), member_create()
    Member.objects.filter(pk=old.pk).update(joined_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    veterans = Segment.objects.create(name="Veterans", rules=[{"rule": "joined", "before": "2021-01-01"}])
    campaign(segments=[veterans])
    config = campaign_boosts_config()
    assert evaluate(config, old.points_account).points == 160
    assert evaluate(config, new.points_account).points == 80


def test_the_change_page_previews_a_sample_order(admin_client, db):
    EarningRule.objects.all().delete()  # the program's default rule, from the migrations
    EarningRule.objects.create(name="Base", kind="base_rate", currency="EUR", points=1, amount=1)
    shoes = campaign(name="Shoes x3", kind=Campaign.Kind.PRODUCT_MULTIPLIER, factor=3, categories=["shoes"])
    page = admin_client.get(f"/admin/rewards/campaign/{shoes.pk}/change/").content.decode()
    # 100 points from the base rate, tripled on shoes: 200 more from the campaign.
    assert "An order of 100 EUR (1 × shoes) earns 300 points, 200 of them from this campaign" in page
