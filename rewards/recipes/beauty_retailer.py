"""Beauty retailer: points on every purchase online and in store, a catalogue of rewards to spend them on,
and tiers by what a member spends in a calendar year.

Modelled on the programs of large beauty and cosmetics chains: one account for the web shop and the
stores, points that buy samples, gifts and experiences from a rewards catalogue, and tiers reached by
yearly spend that earn faster and open exclusive rewards. A seasonal campaign gives extra points on one
category.

- Program: EUR, Europe/Paris; points stay pending 30 days (returns) and expire 12 months after earning.
- Earning: 1 point per 1.00 (after discounts, without tax or shipping); gift cards earn nothing;
  100 points for joining.
- Tiers by calendar-year spend (kept through the next year, grace of 30 days after it): Essential (0),
  Plus (350.00, x1.25 points, 100 points on the member's birthday), Premier (1,000.00, x1.5, 250
  birthday points, free shipping, early access).
- Rewards (every shop): a deluxe sample trio (100 points), a travel-size favourite (250), 10.00 off
  (500; orders of 30.00 or more), a make-up lesson in store (750, Premier only), and 100 points to the
  program's community fund (a donation).
- Campaign: "Skincare fortnight", double points on skincare for 14 days from the day the recipe is
  first loaded.
- Shops: "Beauty - Online" and "Beauty - Flagship store".
"""

from decimal import Decimal as D

from rewards.recipes import Recipe, ShopSpec, gift_cards_excluded

RECIPE = Recipe(
    name="beauty_retailer",
    title="Beauty rewards",
    summary="Tiers by yearly spend, a rewards catalogue, online and in store (EUR, two shops).",
    program={
        "currency": "EUR",
        "time_zone": "Europe/Paris",
        "pending_days": 30,
        "expiry_policy": "days",
        "expiry_period": 365,
        "signup_bonus": 100,
    },
    shops=(
        ShopSpec("online", "Beauty - Online", "web"),
        ShopSpec("store", "Beauty - Flagship store", "store"),
    ),
    earning_rules=(
        {"name": "1 point per 1.00", "kind": "base_rate", "points": D(1), "amount": D(1)},
        gift_cards_excluded(),
    ),
    tiers=(
        {"name": "Essential", "rank": 0, "metric": "spend", "entry_threshold": D(0), "colour": "#D8B4C8"},
        {
            "name": "Plus",
            "rank": 1,
            "metric": "spend",
            "entry_threshold": D(350),
            "downgrade_policy": "grace",
            "grace_days": 30,
            "earning_multiplier": D("1.25"),
            "birthday_bonus_points": 100,
            "colour": "#B0306A",
        },
        {
            "name": "Premier",
            "rank": 2,
            "metric": "spend",
            "entry_threshold": D(1000),
            "downgrade_policy": "grace",
            "grace_days": 30,
            "earning_multiplier": D("1.5"),
            "birthday_bonus_points": 250,
            "free_shipping": True,
            "early_access": True,
            "colour": "#1F1F1F",
        },
    ),
    campaigns=(
        {
            "name": "Skincare fortnight",
            "kind": "product_multiplier",
            "factor": D(2),
            "categories": ["skincare"],
            "days": 14,
            "description": "Double points on skincare for two weeks.",
        },
    ),
    causes=({"name": "Community fund", "description": "Confidence workshops for people facing illness."},),
    rewards=(
        {"title": "Deluxe sample trio", "kind": "free_product", "points": 100, "sku": "SAMPLE-TRIO", "position": 1},
        {"title": "Travel-size favourite", "kind": "free_product", "points": 250, "sku": "TRAVEL-SIZE", "position": 2},
        {
            "title": "10.00 off",
            "kind": "fixed_amount",
            "points": 500,
            "value": D(10),
            "min_order": D(30),
            "coupon_valid_days": 60,
            "position": 3,
        },
        {
            "title": "Make-up lesson in store",
            "kind": "perk",
            "points": 750,
            "min_tier": "Premier",
            "shops": ["store"],
            "position": 4,
        },
        {
            "title": "Give 100 points to the community fund",
            "kind": "donation",
            "points": 100,
            "cause": "Community fund",
        },
    ),
    gaps=("A birthday gift chosen from the catalogue is not modelled: the tiers give birthday points instead.",),
)
