"""Co-op: a one-off payment makes a customer a member-owner for life, and members get 10% of what they
spent in a year back as store credit, the co-op's annual dividend.

Modelled on consumer co-operatives (outdoor gear and grocery co-ops among them) where a small lifetime
membership fee buys a share, and each year the co-op returns part of its surplus to members in
proportion to what they bought.

- Program: USD, America/Denver; points available at once and never expire.
- Membership: an order line with SKU COOP-MEMBERSHIP (sold at 30.00) makes the customer a "Member-owner"
  for life (a paid tier). Everyone else is a "Shopper".
- Dividend: each year, member-owners whose membership was live on 31 December get 10% of that year's
  spend (their orders less refunds by amount, in USD, rounded down to the cent) as store credit, on
  2 January (`manage.py tiers_recalculate --pay-dividends YEAR` pays it by hand).
- Points: 1 point per 1.00 (the platform needs an order to earn points to grant a membership, and points
  let members direct the co-op's giving): members give them to one of two causes.
- Rewards: 500 points to the trail fund or to the community garden (donations); member-owners get early
  access to the members' gear swap (a perk).
- Shops: "Co-op - Online" and "Co-op - Flagship store".
"""

from decimal import Decimal as D

from rewards.recipes import PAID_ONLY, Recipe, ShopSpec, gift_cards_excluded

RECIPE = Recipe(
    name="coop",
    title="Co-op membership",
    summary="Paid lifetime membership; 10% of the year's spend back as store credit (USD, two shops).",
    program={"currency": "USD", "time_zone": "America/Denver", "pending_days": 0, "expiry_policy": "never"},
    shops=(
        ShopSpec("online", "Co-op - Online", "web"),
        ShopSpec("store", "Co-op - Flagship store", "store"),
    ),
    earning_rules=(
        {"name": "1 point per 1.00", "kind": "base_rate", "points": D(1), "amount": D(1)},
        gift_cards_excluded(),
    ),
    tiers=(
        {"name": "Shopper", "rank": 0, "metric": "spend", "entry_threshold": D(0), "colour": "#7C8B6F"},
        {
            "name": "Member-owner",
            "rank": 1,
            "metric": "spend",
            "entry_threshold": PAID_ONLY,
            "window": "lifetime",
            "downgrade_policy": "never",
            "membership_sku": "COOP-MEMBERSHIP",
            "membership_months": None,
            "dividend_percent": D(10),
            "early_access": True,
            "colour": "#2F6B3A",
            "icon": "⛰",
        },
    ),
    causes=(
        {"name": "Trail fund", "description": "Keeping local trails open and repaired."},
        {"name": "Community garden", "description": "Plots and tools for the neighbourhood garden."},
    ),
    rewards=(
        {"title": "Give 500 points to the trail fund", "kind": "donation", "points": 500, "cause": "Trail fund"},
        {
            "title": "Give 500 points to the community garden",
            "kind": "donation",
            "points": 500,
            "cause": "Community garden",
        },
        {
            "title": "Early entry to the members' gear swap",
            "kind": "perk",
            "points": 100,
            "min_tier": "Member-owner",
            "limit_per_member": 1,
            "limit_period": "year",
        },
    ),
    gaps=(
        "Tiers have no 'paid only' setting: Member-owner has an entry threshold no one can reach, so only "
        "the membership SKU grants it (member pages show that threshold as the way up).",
        "The dividend counts all of the year's spend, the membership fee included; a co-op that excludes "
        "the fee (or some categories) cannot say so yet.",
    ),
)
