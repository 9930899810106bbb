"""Department store: one point for every pound spent, whatever the customer pays with, and tiers by what
they spend in a calendar year.

Modelled on the loyalty cards of large department stores, which give a point per unit of currency on
every purchase (cash, any bank card or the store's own card alike) and lift their best customers into
higher tiers by their annual spend, each tier earning a little faster. Points turn into money-off
vouchers.

- Program: GBP, Europe/London; points stay pending for the 28-day return window and expire at the end of
  the year after the one they were earned in (12 months, then the year's end).
- Earning: 1 point per 1.00 of what the customer paid, tax included (prices in the store are shown with
  VAT), shipping not; the payment method is not looked at, so every payment earns. Gift cards earn
  nothing (they earn when they are spent).
- Tiers (calendar-year spend, kept for the following year; a member drops at the end of that year if
  they no longer qualify): Member (0), Silver (500.00, x1.25 points), Gold (1,500.00, x1.5, free
  shipping), Black (5,000.00, x2, free shipping, early access to sales).
- Rewards: 5.00 off for 500 points, 25.00 off for 2,500 points (coupons valid 90 days, in store and
  online); a private shopping evening for Gold and above.
- Shops: "Store - City centre" (the store's tills) and "Department store - Online".
"""

from decimal import Decimal as D

from rewards.recipes import Recipe, ShopSpec, gift_cards_excluded

RECIPE = Recipe(
    name="department_store",
    title="Department store rewards",
    summary="1 point per 1.00 on any payment method; tiers by annual spend (GBP, two shops).",
    program={
        "currency": "GBP",
        "time_zone": "Europe/London",
        "pending_days": 28,
        "expiry_policy": "end_of_year",
        "expiry_period": 12,
    },
    shops=(
        ShopSpec("store", "Store - City centre", "store"),
        ShopSpec("online", "Department store - Online", "web"),
    ),
    earning_rules=(
        {
            "name": "1 point per 1.00 spent, any payment method",
            "kind": "base_rate",
            "points": D(1),
            "amount": D(1),
            "include_tax": True,
        },
        gift_cards_excluded(),
    ),
    tiers=(
        {"name": "Member", "rank": 0, "metric": "spend", "entry_threshold": D(0), "colour": "#6B7280"},
        {
            "name": "Silver",
            "rank": 1,
            "metric": "spend",
            "entry_threshold": D(500),
            "earning_multiplier": D("1.25"),
            "colour": "#A8A9AD",
        },
        {
            "name": "Gold",
            "rank": 2,
            "metric": "spend",
            "entry_threshold": D(1500),
            "earning_multiplier": D("1.5"),
            "free_shipping": True,
            "colour": "#C9A227",
        },
        {
            "name": "Black",
            "rank": 3,
            "metric": "spend",
            "entry_threshold": D(5000),
            "earning_multiplier": D(2),
            "free_shipping": True,
            "early_access": True,
            "colour": "#111111",
        },
    ),
    rewards=(
        {
            "title": "5.00 off",
            "kind": "fixed_amount",
            "points": 500,
            "value": D(5),
            "coupon_valid_days": 90,
            "description": "5.00 off any purchase, in store or online.",
        },
        {
            "title": "25.00 off",
            "kind": "fixed_amount",
            "points": 2500,
            "value": D(25),
            "coupon_valid_days": 90,
            "description": "25.00 off any purchase of 50.00 or more.",
            "min_order": D(50),
        },
        {
            "title": "Private shopping evening",
            "kind": "perk",
            "points": 1000,
            "min_tier": "Gold",
            "limit_per_member": 1,
            "limit_period": "year",
            "description": "An evening in the store after hours with a personal stylist.",
        },
    ),
    gaps=(
        "Points are earned on the whole order; the platform does not see how it was paid, which is what "
        "'any payment method' needs (a store card bonus would need the payment method on the order).",
    ),
)
