"""Family of brands: 3% back on every purchase at any of the family's brands, spendable at any of them.

Modelled on the shared programs of retail groups that own several brands (clothing, home, kitchen) and
let customers collect in one brand's shop and spend in another's: a plain cashback program where a point
is one cent.

- Program: EUR, Europe/Stockholm; points pending 14 days (returns), expiring at the end of the year
  after next (24 months, then the year's end).
- Earning: 3 points per 1.00 in every shop (without tax or shipping); gift cards earn nothing.
- Rewards, offered and usable in every shop of the family: pay with points, 100 points = 1.00 off
  (from 100 up to 50,000 points an order), and 10.00 of store credit for 1,000 points.
- Shops: "Family - Outdoor brand", "Family - Home brand" (web shops) and "Family - Kitchen brand store".
"""

from decimal import Decimal as D

from rewards.recipes import Recipe, ShopSpec, gift_cards_excluded

RECIPE = Recipe(
    name="family_of_brands",
    title="Family of brands rewards",
    summary="3% back in points, redeemable in any of the family's three shops (EUR).",
    program={
        "currency": "EUR",
        "time_zone": "Europe/Stockholm",
        "pending_days": 14,
        "expiry_policy": "end_of_year",
        "expiry_period": 24,
    },
    shops=(
        ShopSpec("outdoor", "Family - Outdoor brand", "web"),
        ShopSpec("home", "Family - Home brand", "web"),
        ShopSpec("kitchen", "Family - Kitchen brand store", "store"),
    ),
    earning_rules=(
        {"name": "3% back: 3 points per 1.00", "kind": "base_rate", "points": D(3), "amount": D(1)},
        gift_cards_excluded(),
    ),
    rewards=(
        {
            "title": "Pay with points",
            "kind": "pay_with_points",
            "points": 0,
            "points_per_unit": 100,
            "min_points": 100,
            "max_points": 50000,
            "coupon_valid_days": 1,
            "description": "100 points = 1.00 off, in any of our shops.",
        },
        {"title": "10.00 store credit", "kind": "store_credit", "points": 1000, "value": D(10)},
    ),
    gaps=(),
)
