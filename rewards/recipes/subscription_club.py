"""Subscription club: members pay a yearly fee for free shipping, faster points and member-only offers.

Modelled on the paid membership programs of large online retailers and warehouse clubs: a yearly fee
buys free shipping on every order, better earning, and offers only members see. The membership runs for
12 months from the purchase; buying it again extends it by another 12.

- Program: EUR, Europe/Berlin; points pending 14 days, expiring 24 months after earning.
- Earning: 1 point per 1.00 for everyone (without tax or shipping); gift cards earn nothing.
- Membership: an order line with SKU CLUB-ANNUAL (49.00 a year) grants the "Club member" tier for 12
  months: free shipping (the shop reads `tier.perks.free_shipping` from the member API), double points
  on every order and early access. Others are "Guest". When the year ends without renewal, the nightly
  job moves the member back to Guest.
- Member offers: 15.00 off for 1,000 points, for club members only; a free-shipping code for 300
  points (meant for guests: club members always ship free). "Member week": triple points on
  electronics for club members (a campaign for the segment "Club members"), for 7 days from the first
  load.
- Shop: "Club - Online store".
"""

from decimal import Decimal as D

from rewards.recipes import PAID_ONLY, Recipe, ShopSpec, gift_cards_excluded

RECIPE = Recipe(
    name="subscription_club",
    title="Subscription club",
    summary="Annual fee for free shipping, double points and member offers (EUR, one web shop).",
    program={
        "currency": "EUR",
        "time_zone": "Europe/Berlin",
        "pending_days": 14,
        "expiry_policy": "days",
        "expiry_period": 730,
    },
    shops=(ShopSpec("online", "Club - Online store", "web"),),
    earning_rules=(
        {"name": "1 point per 1.00", "kind": "base_rate", "points": D(1), "amount": D(1)},
        gift_cards_excluded(),
    ),
    tiers=(
        {"name": "Guest", "rank": 0, "metric": "spend", "entry_threshold": D(0), "colour": "#9CA3AF"},
        {
            "name": "Club member",
            "rank": 1,
            "metric": "spend",
            "entry_threshold": PAID_ONLY,
            "window": "lifetime",
            "downgrade_policy": "end_of_window",
            "membership_sku": "CLUB-ANNUAL",
            "membership_months": 12,
            "earning_multiplier": D(2),
            "free_shipping": True,
            "early_access": True,
            "colour": "#0F766E",
        },
    ),
    segments=(
        {
            "name": "Club members",
            "description": "Members holding the Club member tier (a paid membership).",
            "kind": "rules",
            "rules": [{"rule": "tier", "tiers": ["Club member"]}],
        },
    ),
    campaigns=(
        {
            "name": "Member week: triple points on electronics",
            "kind": "product_multiplier",
            "factor": D(3),
            "categories": ["electronics"],
            "segments": ["Club members"],
            "days": 7,
        },
    ),
    rewards=(
        {
            "title": "Free shipping on one order",
            "kind": "free_shipping",
            "points": 300,
            "coupon_valid_days": 30,
            "description": "For guests: club members always ship free.",
        },
        {
            "title": "Member offer: 15.00 off",
            "kind": "fixed_amount",
            "points": 1000,
            "value": D(15),
            "min_tier": "Club member",
            "coupon_valid_days": 60,
        },
    ),
    gaps=(
        "Tiers have no 'paid only' setting: Club member has an entry threshold no one can reach, so only the "
        "membership SKU grants it.",
        "Renewal reminders and automatic renewal payments are the shop's: the platform only sees the order "
        "with the CLUB-ANNUAL line.",
        "Free shipping is a perk flag the shop applies at checkout; the platform does not change the order.",
    ),
)
