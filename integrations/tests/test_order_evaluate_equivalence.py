"""What the cheaper order_evaluate path must keep: for random orders, rule sets, tiers and campaigns it gives the
breakdown (repr and stored JSON) of the plain path it replaced (inputs by keyword, the tier's multiplier made
per order, the rules always copied with the campaigns' ones); order_data_clean answers as before."""

import datetime as dt
import random
import uuid
from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from integrations.selectors import order_data_clean, order_evaluate, order_placed_at
from referrals import checks
from referrals.services import code_clean
from rewards.models import Campaign, Tier
from rewards.services import campaigns, tiers
from rewards.services.boosts import Boosts, BoostsConfig, order_boosts
from rewards.services.earning import MemberContext, Multiplier, OrderInput, OrderLine, evaluate_order

# Near the clock: the campaigns' config loads only campaigns that ended lately.
AT = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
SHOP = SimpleNamespace(public_id=uuid.UUID("6f9c2a52-0000-4000-8000-000000000001"))
SKUS = ["A", "b", " B ", "GIFT", "wine", "X-1"]
CATEGORIES = ["books", "Books ", "gift card", "wine", "", "food"]


# --- the plain path, as it was --------------------------------------------------------------------------


def _reference_tier_multipliers(config, *, account):
    if config is None or account is None:
        return ()
    tier = config.tier_of(account)
    if tier is None or D(tier.earning_multiplier) == 1:
        return ()
    factor = D(tier.earning_multiplier)
    return (
        Multiplier(name=tier.name, factor=factor, source="tier", ref=str(tier.public_id), rounding=config.rounding),
    )


def _reference_order_evaluate(*, shop, data, member, rules, boosts):
    at = order_placed_at(data["placed_at"])
    shop_id = str(shop.public_id)
    order = OrderInput(
        currency=data["currency"],
        total=data["total"],
        subtotal=data["subtotal"],
        tax=data["tax"],
        shipping=data["shipping"],
        discount=data["discount"],
        placed_at=at,
        lines=tuple(
            OrderLine(
                sku=line["sku"],
                name=line.get("name", ""),
                category=line.get("category", ""),
                quantity=line["quantity"],
                unit_price=line.get("unit_price") or 0,
                total=line["total"],
            )
            for line in data["lines"]
        ),
        shop_id=shop_id,
    )
    account = member and member.points_account
    tier_part = _reference_tier_multipliers(boosts.tiers, account=account)
    extra_rules, campaign_part = campaigns.campaign_boosts(
        boosts.campaigns, account=account, order=order, at=at, shop_id=shop_id
    )
    extra = Boosts(rules=tuple(extra_rules), multipliers=(*tier_part, *campaign_part))
    context = MemberContext(member_id=None if member is None else str(member.public_id))
    return evaluate_order(order, [*rules, *extra.rules], member=context, now=at, multipliers=extra.multipliers)


def _reference_order_data_clean(data: dict) -> dict:
    lines = [
        {
            "sku": str(line["sku"]).strip(),
            "name": (line.get("name") or "").strip(),
            "category": (line.get("category") or "").strip(),
            "quantity": D(line["quantity"]),
            "unit_price": D(line.get("unit_price") or 0),
            "total": D(line["total"]),
        }
        for line in data.get("lines") or ()
    ]
    subtotal = data.get("subtotal")
    if subtotal is None:
        subtotal = sum((line["total"] for line in lines), D(0)) if lines else D(data["total"])
    cleaned = {
        "external_id": (data.get("external_id") or "").strip(),
        "member_id": data.get("member_id"),
        "member_external_id": (data.get("member_external_id") or "").strip() or None,
        "email": (data.get("email") or "").strip().lower() or None,
        "currency": data["currency"].strip().upper(),
        "total": D(data["total"]),
        "subtotal": D(subtotal),
        "tax": D(data.get("tax") or 0),
        "shipping": D(data.get("shipping") or 0),
        "discount": D(data.get("discount") or 0),
        "placed_at": data["placed_at"],
        "lines": lines,
        "coupon_codes": [str(code).strip() for code in data.get("coupon_codes") or ()],
    }
    if code := code_clean(data.get("referral_code")):
        cleaned["referral_code"] = code
    address = data.get("shipping_address")
    if address and (shipping_hash := checks.keyed_hash("address", checks.address_normalised(address))):
        cleaned["shipping_hash"] = shipping_hash
    if payment := (data.get("payment_fingerprint") or "").strip():
        cleaned["payment_hash"] = checks.keyed_hash("payment", payment)
    return cleaned


# --- random orders, rules and members ---------------------------------------------------------------------


def _money_text(rng, low, high):
    return D(rng.randint(low * 100, high * 100)) / 100


def _rule(rng, i):
    return SimpleNamespace(
        public_id=uuid.UUID(int=rng.getrandbits(128)),
        name=f"rule {i}",
        kind=rng.choice(["base_rate", "fixed", "multiplier", "exclusion", "base_rate"]),
        currency=rng.choice(["EUR", "eur ", "USD"]),
        is_active=rng.random() > 0.1,
        starts_at=rng.choice([None, None, AT - dt.timedelta(days=1), AT + dt.timedelta(days=1)]),
        ends_at=rng.choice([None, None, AT, AT + dt.timedelta(days=1)]),
        shop_ids=rng.choice([[], [], [str(SHOP.public_id)], [" S1 ", "s2"]]),
        priority=rng.choice([0, 0, 1, 5, -1, 100]),
        stop_after=rng.random() < 0.2,
        skus=rng.choice([[], [], rng.sample(SKUS, 2)]),
        categories=rng.choice([[], [], rng.sample(CATEGORIES, 2)]),
        include_tax=rng.random() < 0.3,
        include_shipping=rng.random() < 0.3,
        subtract_discounts=rng.random() < 0.5,
        minimum_order_value=rng.choice([None, None, _money_text(rng, 0, 200)]),
        points=rng.choice([D(1), D(2), _money_text(rng, 0, 60), D("0.5")]),
        amount=rng.choice([D(1), D("10.00"), _money_text(rng, 1, 20), D(3)]),
        multiplier=rng.choice([D(2), D("1.5"), D("0.5"), _money_text(rng, 0, 3)]),
        scope=rng.choice(["order", "line"]),
        rounding=rng.choice(["down", "up", "half_up"]),
    )


def _data(rng):
    lines = [
        {
            "sku": rng.choice(SKUS),
            "name": rng.choice(["A book", ""]),
            "category": rng.choice(CATEGORIES),
            "quantity": rng.choice([D(1), D(2), D("1.5"), D(0), D("2.000")]),
            "unit_price": rng.choice([_money_text(rng, 0, 50), D(0)]),
            "total": rng.choice([_money_text(rng, 0, 100), D(0), D("10.0")]),
        }
        for _ in range(rng.choice([0, 1, 2, 3, 3, 5]))
    ]
    total = _money_text(rng, 0, 300)
    return {
        "currency": rng.choice(["EUR", "USD"]),
        "total": total,
        "subtotal": rng.choice([total, _money_text(rng, 0, 300)]),
        "tax": _money_text(rng, 0, 30),
        "shipping": _money_text(rng, 0, 10),
        "discount": _money_text(rng, 0, 20),
        "placed_at": AT + rng.choice([dt.timedelta(0), dt.timedelta(hours=-30), dt.timedelta(hours=1)]),
        "lines": lines,
    }


def _member(rng, tier_ids):
    if rng.random() < 0.2:
        return None
    account = SimpleNamespace(member_id=rng.randint(1, 10**6), tier_id=rng.choice([None, *tier_ids]))
    return SimpleNamespace(public_id=uuid.UUID(int=rng.getrandbits(128)), points_account=account)


def _campaign(**fields):
    made = {
        "name": "Double points",
        "kind": Campaign.Kind.ORDER_MULTIPLIER,
        "factor": D(2),
        "starts_at": AT - dt.timedelta(days=1),
        "ends_at": AT + dt.timedelta(days=1),
    }
    return Campaign.objects.create(**(made | fields))


@pytest.fixture
def boosts_configs(db):
    """Configs without tiers and campaigns, with tiers only, and with tiers and campaigns (as boosts_load)."""
    for rank, (name, factor) in enumerate([("Base", "1"), ("Silver", "1.5"), ("Gold", "2.125")]):
        Tier.objects.create(
            name=name,
            rank=rank,
            metric="spend",
            window="lifetime",
            entry_threshold=100 * rank,
            earning_multiplier=D(factor),
        )
    tiers_config = tiers._config_load()
    _campaign()
    _campaign(name="A quarter more", factor=D("1.25"), currency="USD")
    _campaign(name="Books", kind=Campaign.Kind.PRODUCT_MULTIPLIER, factor=D(3), categories=["books"])
    _campaign(name="Wine", kind=Campaign.Kind.PRODUCT_POINTS, points=5, skus=["wine"], currency="EUR")
    _campaign(name="Later", starts_at=AT + dt.timedelta(hours=1))
    campaigns_config = campaigns._config_load()
    return [
        BoostsConfig(tiers=tiers.TiersConfig(tiers=()), campaigns=campaigns.CampaignsConfig()),
        BoostsConfig(tiers=tiers_config, campaigns=campaigns.CampaignsConfig()),
        BoostsConfig(tiers=tiers_config, campaigns=campaigns_config),
    ], [t.pk for t in tiers_config.tiers]


def test_order_evaluate_gives_the_plain_paths_breakdown_for_random_orders(boosts_configs):
    configs, tier_ids = boosts_configs
    rng = random.Random(20261123)
    multiplied = by_campaign_rule = 0
    for _ in range(1500):
        rules = [_rule(rng, i) for i in range(rng.randint(0, 7))]
        data, member, boosts = _data(rng), _member(rng, tier_ids), rng.choice(configs)
        got = order_evaluate(shop=SHOP, data=data, member=member, rules=rules, boosts=boosts)
        want = _reference_order_evaluate(shop=SHOP, data=data, member=member, rules=rules, boosts=boosts)
        assert repr(got) == repr(want)
        assert got.as_dict() == want.as_dict()
        assert [str(line.points_per_unit) for line in got.lines] == [str(x.points_per_unit) for x in want.lines]
        multiplied += got.points > 0 and any(m.points for m in got.multipliers)
        by_campaign_rule += any(r.source == "campaign" and r.points for r in got.rules)
    # Tiers' and campaigns' multipliers and campaigns' bonus rules took part, not only zeros.
    assert multiplied > 40 and by_campaign_rule > 40


def test_tier_multipliers_are_made_once_per_config_load_and_are_the_same(boosts_configs):
    configs, tier_ids = boosts_configs
    config = configs[1].tiers
    assert set(config.multipliers) == set(tier_ids)
    for tier_id in [None, *tier_ids]:
        account = SimpleNamespace(member_id=1, tier_id=tier_id)
        assert tiers.tier_multipliers(config, account=account, at=AT) == _reference_tier_multipliers(
            config, account=account
        )
        # A config made without them (by hand) makes them per order, as before.
        bare = tiers.TiersConfig(tiers=config.tiers, rounding="up", by_id=config.by_id)
        assert tiers.tier_multipliers(bare, account=account, at=AT) == _reference_tier_multipliers(
            bare, account=account
        )
    assert tiers.tier_multipliers(config, account=None, at=AT) == ()


def test_order_boosts_without_tier_or_campaign_is_the_empty_boosts(boosts_configs):
    configs, tier_ids = boosts_configs
    order = OrderInput("EUR", D(10), D(10), D(0), D(0), D(0), AT)
    assert order_boosts(configs[0], account=None, order=order, at=AT, shop_id=None) == Boosts()
    base = SimpleNamespace(member_id=1, tier_id=tier_ids[0])  # the base tier multiplies by 1
    assert order_boosts(configs[1], account=base, order=order, at=AT, shop_id=None) == Boosts()
    gold = SimpleNamespace(member_id=1, tier_id=tier_ids[2])
    assert order_boosts(configs[1], account=gold, order=order, at=AT, shop_id=None).multipliers[0].factor == D("2.125")


def test_order_data_clean_answers_as_before():
    rng = random.Random(7)
    for _ in range(500):
        body = {
            "external_id": rng.choice([" o-1 ", "o-2", None, ""]),
            "member_id": rng.choice([None, uuid.UUID(int=5)]),
            "member_external_id": rng.choice([None, "", " c-9 "]),
            "email": rng.choice([None, "", " Ana@Example.com "]),
            "currency": rng.choice(["eur", " USD "]),
            "total": rng.choice([D("12.50"), "7", 3]),
            "placed_at": AT,
            "referral_code": rng.choice([None, "", "  ", "ab-12 cd", 0, "x" * 30]),
            "payment_fingerprint": rng.choice([None, "", " fp "]),
            "coupon_codes": rng.choice([None, [], [" SAVE10 ", 5]]),
        }
        for name in ("subtotal", "tax", "shipping", "discount", "lines", "shipping_address"):
            if rng.random() < 0.5:
                body[name] = {
                    "lines": [
                        {"sku": " A ", "quantity": "2", "total": D("4.00")},
                        {
                            "sku": 7,
                            "name": None,
                            "category": " books ",
                            "quantity": D(1),
                            "unit_price": "3",
                            "total": "3",
                        },
                    ],
                    "shipping_address": {"line1": "Main St 1", "postal_code": "1011 AB", "country": "NL"},
                }.get(name, rng.choice([None, 0, D("1.10"), "2"]))
        if body.get("subtotal") is None and body.get("lines") and rng.random() < 0.5:
            body.pop("subtotal", None)
        assert order_data_clean(body) == _reference_order_data_clean(body)
