"""Segments: each rule as a member queryset, AND and OR, static segments from a CSV, member_segment_ids,
and the admin's segment pages (audience count, rule validation, upload with its result)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.exceptions import ApplicationError
from integrations.models import Order, ShopCustomer
from integrations.services.shops import shop_create
from members.models import Member
from members.tests.factories import member_create
from rewards.models import Segment, SegmentMember, Tier
from rewards.services.segments import (
    member_segment_ids,
    segment_members,
    segment_members_upload,
    segment_rules_validate,
)

NOW = timezone.now()
_orders = iter(range(10**6))


@pytest.fixture
def shop(db):
    return shop_create(name="Webshop", currency="EUR", time_zone="Europe/Amsterdam")


def order(member, shop, *, total="10.00", days_ago=1, category="shoes", status=Order.Status.AWARDED, currency="EUR"):
    return Order.objects.create(
        shop=shop,
        external_id=f"seg-{next(_orders)}",
        member=member,
        currency=currency,
        total=Decimal(total),
        subtotal=Decimal(total),
        placed_at=NOW - dt.timedelta(days=days_ago),
        lines=[{"sku": "X", "name": "X", "category": category, "quantity": "1", "unit_price": total, "total": total}],
        status=status,
        fingerprint="x",
    )


def rule_segment(*rules, name="Segment") -> Segment:
    return Segment.objects.create(name=name, rules=list(rules))


def members_of(*rules) -> set[int]:
    return set(segment_members(Segment(rules=list(rules))).values_list("pk", flat=True))


@pytest.fixture
def ana(db):
    return member_create(first_name="Ana")


@pytest.fixture
def bo(db):
    return member_create(first_name="Bo")


def test_tier(ana, bo):
    gold = Tier.objects.create(name="Gold", rank=2)
    ana.points_account.tier = gold
    ana.points_account.save(update_fields=["tier"])
    assert members_of({"rule": "tier", "tiers": ["Gold"]}) == {ana.pk}
    assert members_of({"rule": "tier", "tiers": ["Silver"]}) == set()


def test_spend_counts_orders_not_cancelled_within_the_days(ana, bo, shop):
    order(ana, shop, total="60.00", days_ago=10)
    order(ana, shop, total="50.00", days_ago=400)
    order(bo, shop, total="500.00", status=Order.Status.CANCELLED)
    assert members_of({"rule": "spend", "min": "100"}) == {ana.pk}
    assert members_of({"rule": "spend", "min": "100", "days": 365}) == set()
    assert members_of({"rule": "spend", "max": "0"}) == {bo.pk}  # no order that counts: spent 0
    assert members_of({"rule": "spend", "min": "100", "currency": "USD"}) == set()


def test_orders_count_with_min_and_max(ana, bo, shop):
    for _ in range(3):
        order(ana, shop)
    order(bo, shop)
    assert members_of({"rule": "orders", "min": 2}) == {ana.pk}
    assert members_of({"rule": "orders", "min": 1, "max": 1}) == {bo.pk}
    assert members_of({"rule": "orders", "min": 3, "days": 0}) == set()


def test_last_order_within_and_not_within(ana, bo, shop):
    order(ana, shop, days_ago=5)
    order(bo, shop, days_ago=100)
    assert members_of({"rule": "last_order", "within_days": 30}) == {ana.pk}
    assert members_of({"rule": "last_order", "not_within_days": 30}) == {bo.pk}


def test_last_activity(ana, bo):
    ana.points_account.last_activity_at = NOW - dt.timedelta(days=3)
    ana.points_account.save(update_fields=["last_activity_at"])
    bo.points_account.last_activity_at = None
    bo.points_account.save(update_fields=["last_activity_at"])
    assert members_of({"rule": "last_activity", "within_days": 7}) == {ana.pk}
    assert members_of({"rule": "last_activity", "not_within_days": 7}) == {bo.pk}  # never active counts as not


def test_birthday_month(ana, bo):
    Member.objects.filter(pk=ana.pk).update(birthday=dt.date(1990, 12, 24))
    assert members_of({"rule": "birthday_month", "months": [12]}) == {ana.pk}
    assert members_of({"rule": "birthday_month", "months": [1, 2]}) == set()


def test_categories_bought_looks_into_the_order_lines(ana, bo, shop):
    order(ana, shop, category="Shoes")
    order(bo, shop, category="socks", days_ago=400)
    order(bo, shop, category="hats", status=Order.Status.CANCELLED)
    assert members_of({"rule": "categories", "categories": ["shoes"]}) == {ana.pk}
    assert members_of({"rule": "categories", "categories": ["socks", "hats"]}) == {bo.pk}
    assert members_of({"rule": "categories", "categories": ["socks"], "days": 365}) == set()


def test_shop_customer_or_ordered_there(ana, bo, shop):
    other = shop_create(name="Store", currency="EUR", time_zone="Europe/Amsterdam")
    ShopCustomer.objects.create(shop=shop, member=ana, external_id="c-1")
    order(bo, other)
    assert members_of({"rule": "shop", "shop_ids": [str(shop.public_id)]}) == {ana.pk}
    assert members_of({"rule": "shop", "shop_ids": [str(other.public_id)]}) == {bo.pk}


def test_join_date(ana, bo):
    Member.objects.filter(pk=ana.pk).update(joined_at=dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC))
    Member.objects.filter(pk=bo.pk).update(joined_at=dt.datetime(2025, 5, 1, 12, tzinfo=dt.UTC))
    assert members_of({"rule": "joined", "before": "2025-01-01"}) == {ana.pk}
    assert members_of({"rule": "joined", "after": "2025-01-01"}) == {bo.pk}
    assert members_of({"rule": "joined", "after": "2024-05-01", "before": "2025-05-01"}) == {ana.pk}


def test_rules_combine_with_and_and_any_groups_with_or(ana, bo, shop):
    carl = member_create(first_name="Carl")
    order(ana, shop, total="200.00", category="shoes")
    order(bo, shop, total="200.00", category="socks")
    Member.objects.filter(pk=carl.pk).update(birthday=dt.date(2000, 3, 3))
    both = [{"rule": "spend", "min": "100"}, {"rule": "categories", "categories": ["shoes"]}]
    assert members_of(*both) == {ana.pk}
    either = {"rule": "any", "groups": [both, [{"rule": "birthday_month", "months": [3]}]]}
    assert members_of(either) == {ana.pk, carl.pk}


def test_closed_members_are_in_no_segment(ana):
    Member.objects.filter(pk=ana.pk).update(status=Member.Status.CLOSED)
    assert members_of({"rule": "joined", "after": "2000-01-01"}) == set()


@pytest.mark.parametrize(
    "rules",
    [
        {"rule": "tier"},
        [{"rule": "nonsense"}],
        [{"rule": "spend"}],
        [{"rule": "spend", "min": "lots"}],
        [{"rule": "orders", "min": 1.5}],
        [{"rule": "last_order", "within_days": 3, "not_within_days": 4}],
        [{"rule": "birthday_month", "months": [13]}],
        [{"rule": "joined", "after": "yesterday"}],
        [{"rule": "any", "groups": [{"rule": "tier"}]}],
    ],
)
def test_rules_that_make_no_sense_are_refused(db, rules):
    with pytest.raises(ApplicationError) as error:
        segment_rules_validate(rules)
    assert error.value.code == "invalid_segment_rule"


def test_a_segment_is_one_queryset(ana, shop, django_assert_num_queries):
    order(ana, shop, total="200.00")
    segment = rule_segment(
        {"rule": "spend", "min": "100"},
        {"rule": "orders", "min": 1},
        {"rule": "categories", "categories": ["shoes"]},
        {"rule": "last_order", "within_days": 30},
    )
    with django_assert_num_queries(1):
        assert segment_members(segment).count() == 1


def test_member_segment_ids_in_one_query(ana, bo, shop):
    order(ana, shop, total="200.00")
    big = rule_segment({"rule": "spend", "min": "100"}, name="Big spenders")
    rule_segment({"rule": "orders", "min": 5}, name="Regulars")
    listed = Segment.objects.create(name="Listed", kind=Segment.Kind.STATIC)
    SegmentMember.objects.create(segment=listed, member=bo)
    assert member_segment_ids(member=ana) == {big.pk}
    assert member_segment_ids(member=bo) == {listed.pk}


def test_member_segment_ids_query_count(ana, django_assert_num_queries):
    for i in range(5):
        rule_segment({"rule": "orders", "min": i}, name=f"S{i}")
    with django_assert_num_queries(2):  # the segments (cached per process in production), the member's row
        assert len(member_segment_ids(member=ana)) == 1  # orders >= 0


def test_csv_upload_adds_members_and_reports_unknown_numbers(ana, bo):
    segment = Segment.objects.create(name="Listed", kind=Segment.Kind.STATIC)
    text = f"number,name\n{ana.number_display},Ana\n{bo.number}\n0000000000\n{ana.number}\n"
    result = segment_members_upload(segment=segment, text=text)
    assert (result.added, result.already, result.unknown) == (2, 0, ["0000000000"])
    assert set(segment_members(segment).values_list("pk", flat=True)) == {ana.pk, bo.pk}
    again = segment_members_upload(segment=segment, text=f"{ana.number}\n", replace=True)
    assert (again.added, again.already) == (0, 1)
    assert set(segment_members(segment).values_list("pk", flat=True)) == {ana.pk}


def test_only_static_segments_take_uploads(ana):
    with pytest.raises(ApplicationError):
        segment_members_upload(segment=rule_segment({"rule": "orders", "min": 1}), text=ana.number)


# --- admin -------------------------------------------------------------------------------------------


def test_segment_admin_pages_render_with_the_audience(admin_client, ana, shop):
    order(ana, shop, total="200.00")
    segment = rule_segment({"rule": "spend", "min": "100"}, name="Big spenders")
    assert admin_client.get("/admin/rewards/segment/").status_code == 200
    assert admin_client.get("/admin/rewards/segment/add/").status_code == 200
    page = admin_client.get(f"/admin/rewards/segment/{segment.pk}/change/")
    assert page.status_code == 200
    assert "1 members" in page.content.decode()


def test_segment_admin_refuses_bad_rules(admin_client):
    response = admin_client.post(
        "/admin/rewards/segment/add/", {"name": "Bad", "kind": "rules", "rules": '[{"rule": "spend"}]'}
    )
    assert response.status_code == 200
    assert "give min, max or both" in response.content.decode()
    assert not Segment.objects.exists()


def test_segment_admin_uploads_a_csv_and_says_what_happened(admin_client, ana):
    upload = SimpleUploadedFile("members.csv", f"number\n{ana.number}\n999\n".encode(), content_type="text/csv")
    response = admin_client.post(
        "/admin/rewards/segment/add/",
        {"name": "Listed", "kind": "static", "rules": "[]", "upload": upload},
        follow=True,
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "1 members added" in text and "Unknown member numbers: 999" in text
    assert list(segment_members(Segment.objects.get(name="Listed"))) == [ana]
