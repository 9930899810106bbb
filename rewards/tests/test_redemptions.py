"""reward_redeem: what each kind of reward hands out, every refusal, the idempotent replay, the webhook."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from integrations.services.members import member_upsert
from integrations.services.shops import shop_create
from members.tests.factories import member_create
from rewards.models import Coupon, PointEntry, Redemption, Reward, Segment, StoreCreditAccount, Tier
from rewards.selectors import ledger_audit
from rewards.services.coupons import ALPHABET, coupon_code_normalize
from rewards.services.redemptions import reward_redeem
from rewards.tests.helpers import balances, counters, ledger_counts, refused, set_program
from rewards.tests.test_catalogue import points_for, redeem, reward_make
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    return points_for(member_create(), 1000)


def test_a_fixed_amount_reward_debits_the_points_and_issues_a_coupon(member):
    reward = reward_make(points=300, value=Decimal("5.00"), coupon_valid_days=30)
    before = timezone.now()

    redemption, created = redeem(member, reward, idempotency_key="click-1")

    assert created and redemption.points == 300 and redemption.status == "completed"
    assert (redemption.value, redemption.currency, redemption.kind) == (Decimal("5.00"), "EUR", "fixed_amount")
    assert balances(member.points_account) == counters(available=700, lifetime_earned=1000, lifetime_redeemed=300)
    assert redemption.points_entry.kind == "redeem" and redemption.points_entry.points == -300
    coupon = Coupon.objects.get(redemption=redemption)
    assert (coupon.kind, coupon.value, coupon.currency, coupon.status) == (
        "fixed_amount",
        Decimal("5.00"),
        "EUR",
        "issued",
    )
    assert before + dt.timedelta(days=30) <= coupon.expires_at <= timezone.now() + dt.timedelta(days=30)
    assert len(coupon.code) == 19 and coupon_code_normalize(coupon.code.lower().replace("-", " ")) == coupon.code
    assert set(coupon.code.replace("-", "")) <= set(ALPHABET)
    assert Reward.objects.get(pk=reward.pk).units_issued == 1
    assert ledger_audit() == []


def test_codes_differ(member):
    reward = reward_make(points=10)
    codes = {redeem(member, reward)[0].coupon.code for _ in range(20)}
    assert len(codes) == 20


def test_the_same_key_returns_the_first_redemption_and_changes_nothing(member):
    reward = reward_make(points=300)
    first, _ = redeem(member, reward, idempotency_key="click-1")
    counts = ledger_counts()

    again, created = redeem(member, reward, idempotency_key="click-1")

    assert not created and again.pk == first.pk and again.coupon.code == first.coupon.code
    assert ledger_counts() == counts and Redemption.objects.count() == 1 and Coupon.objects.count() == 1
    assert balances(member.points_account)["available"] == 700


def test_the_same_key_for_another_reward_is_a_conflict(member):
    redeem(member, reward_make(), idempotency_key="click-1")
    with refused("idempotency_conflict", 409):
        redeem(member, reward_make(title="Other"), idempotency_key="click-1")


def test_another_members_key_is_theirs(member):
    other = points_for(member_create(), 500)
    reward = reward_make()
    redeem(member, reward, idempotency_key="k")
    _, created = redeem(other, reward, idempotency_key="k")
    assert created


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("percentage", {}),
        ("free_shipping", {}),
        ("free_product", {}),
    ],
)
def test_other_code_kinds_copy_their_terms_to_the_coupon(member, kind, fields):
    reward = reward_make(kind, min_order=Decimal("25.00"), **fields)
    redemption, _ = redeem(member, reward)
    coupon = redemption.coupon
    assert coupon.kind == kind and coupon.min_order == Decimal("25.00")
    if kind == "percentage":
        assert (coupon.value, coupon.max_discount, redemption.value) == (Decimal("15.00"), Decimal("20.00"), None)
    if kind == "free_product":
        assert coupon.sku == "MUG"


def test_store_credit_reward_credits_the_balance_without_a_coupon(member):
    reward = reward_make("store_credit", value=Decimal("10.00"), currency="EUR")
    redemption, _ = redeem(member, reward)
    again, _ = redeem(member, reward)
    assert not Coupon.objects.exists()
    account = StoreCreditAccount.objects.get(member=member, currency="EUR")
    assert account.balance == Decimal("20.00")
    assert [e.kind for e in account.entries.all()] == ["reward", "reward"]
    assert redemption.value == Decimal("10.00")


def test_a_donation_records_the_cause_and_a_perk_just_the_redemption(member):
    donation, _ = redeem(member, reward_make("donation", points=250))
    perk, _ = redeem(member, reward_make("perk", title="Launch party"))
    assert donation.cause.name == "Food bank" and donation.value is None
    assert perk.cause is None and not Coupon.objects.exists()
    assert balances(member.points_account)["available"] == 650


def test_pay_with_points_takes_the_points_chosen_and_gives_a_coupon_worth_them(member):
    reward = reward_make("pay_with_points", points_per_unit=100, min_points=200, max_points=900)

    redemption, _ = redeem(member, reward, points=450)

    assert redemption.points == 450 and redemption.value == Decimal("4.50")
    assert (redemption.coupon.kind, redemption.coupon.value) == ("fixed_amount", Decimal("4.50"))
    for points in (None, 100, 950, 10**9, True, "300"):
        with refused("invalid_points", 422):
            redeem(member, reward, points=points)
    with refused("idempotency_conflict", 409):
        redeem(member, reward, points=500, idempotency_key=redemption.idempotency_key)


def test_a_fixed_price_with_other_points_is_refused(member):
    with refused("invalid_points", 422):
        redeem(member, reward_make(points=100), points=50)


def test_refusals_change_nothing(member):
    gold = Tier.objects.create(name="Gold", rank=5)
    shop, other = shop_create(name="Here"), shop_create(name="There")
    cases = [
        (reward_make(title="Dear", points=5000), "insufficient_points", {}),
        (reward_make(title="Gone", stock_total=2, units_issued=2), "out_of_stock", {}),
        (reward_make(title="Off", active=False), "reward_inactive", {}),
        (reward_make(title="Ended", active_until=timezone.now()), "reward_inactive", {}),
        (reward_make(title="Hidden", visible_until=timezone.now()), "reward_inactive", {}),
        (reward_make(title="Gold", min_tier=gold), "not_eligible", {"reason": "tier", "tier": "Gold"}),
        (reward_make(title="VIP", segments=[Segment.objects.create(name="VIP", kind="static")]), "not_eligible", {}),
        (reward_make(title="Theirs", shops=[other]), "not_eligible", {"reason": "shop"}),
    ]
    counts = ledger_counts()
    for reward, code, details in cases:
        with refused(code, 422) as info:
            reward_redeem(member=member, reward=reward, idempotency_key=f"k-{reward.pk}", channel="api", shop=shop)
        assert details.items() <= info.value.extra.items()
    assert ledger_counts() == counts and not Redemption.objects.exists()
    assert Reward.objects.get(title="Gone").units_issued == 2


def test_insufficient_points_says_how_many_are_missing(member):
    with refused("insufficient_points", 422) as info:
        redeem(member, reward_make(points=1200))
    assert info.value.extra == {"available": 1000, "required": 1200, "short_by": 200}


@pytest.mark.parametrize("status", ["suspended", "closed"])
def test_a_closed_or_suspended_member_cannot_redeem(member, status):
    member.status = status
    member.save()
    with refused("member_not_active", 422):
        redeem(member, reward_make())


@pytest.mark.parametrize("period", ["day", "week", "month", "year", "ever"])
def test_the_limit_per_member_counts_this_period_only(member, period):
    set_program(time_zone="Europe/Amsterdam")
    reward = reward_make(points=10, limit_per_member=2, limit_period=period)
    first, _ = redeem(member, reward)
    redeem(member, reward)
    with refused("limit_reached", 422) as info:
        redeem(member, reward)
    assert info.value.extra == {"limit": 2, "period": period}
    # Move the first one to before the period began: one slot opens again (except for "ever").
    Redemption.objects.filter(pk=first.pk).update(created_at=timezone.now() - dt.timedelta(days=400))
    if period == "ever":
        with refused("limit_reached", 422):
            redeem(member, reward)
    else:
        redeem(member, reward)


def test_stock_runs_out_exactly(member):
    reward = reward_make(points=10, stock_total=3)
    for _ in range(3):
        redeem(member, reward)
    with refused("out_of_stock", 422):
        redeem(member, reward)
    assert Reward.objects.get(pk=reward.pk).stock_left == 0


def test_an_api_redemption_names_the_shop_and_the_ledger_actor(member):
    shop = shop_create(name="Webshop")
    redemption, _ = reward_redeem(member=member, reward=reward_make(), idempotency_key="k", channel="api", shop=shop)
    entry = PointEntry.objects.get(pk=redemption.points_entry_id)
    assert (redemption.channel, redemption.shop, entry.actor_kind, entry.actor_ref) == (
        "api",
        shop,
        "shop",
        str(shop.public_id),
    )
    with pytest.raises(ValueError):
        reward_redeem(member=member, reward=reward_make(), idempotency_key="k2", channel="api")


def test_reward_redeemed_is_published_to_linked_shops_in_the_transaction():
    shop = shop_create(name="Webshop")
    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    points_for(member, 500)
    WebhookEndpoint.objects.create(shop=shop, url="https://hooks.example.com/x", events=["reward.redeemed"])
    redemption, _ = redeem(member, reward_make(points=200, value=Decimal("5.00")))
    [delivery] = WebhookDelivery.objects.filter(event="reward.redeemed")
    data = delivery.payload["data"]
    assert data["member"] == {"id": str(member.public_id), "external_id": "cust-1"}
    assert data["redemption"]["points"] == 200 and data["redemption"]["value"] == "5.00"
    assert data["coupon"]["code"] == redemption.coupon.code
    assert data["balance"] == {"available": 300, "pending": 0}
    with refused("insufficient_points", 422):
        redeem(member, reward_make(title="Dear", points=5000))
    assert WebhookDelivery.objects.filter(event="reward.redeemed").count() == 1


def test_the_ledger_audit_stays_clean_after_all_kinds(member):
    for kind in ("fixed_amount", "percentage", "free_shipping", "free_product", "store_credit", "perk", "donation"):
        redeem(member, reward_make(kind, points=50))
    redeem(member, reward_make("pay_with_points"), points=150)
    out = StringIO()
    call_command("audit_ledger", stdout=out)
    assert ledger_audit() == []
