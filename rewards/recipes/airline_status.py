"""Airline-style status program: miles on every fare, status tiers by qualifying flights in a calendar
year, upgrades bought with miles, and top-tier members gifting status to a friend.

Modelled on frequent-flyer programs: members earn miles on what they pay for tickets, reach status
(Silver, Gold, Platinum) by how much they fly in a year and keep it through the following year; status
earns bonus miles and unlocks upgrades and lounges; the top tier may give a lower status to a companion.

- Program: EUR, Europe/Amsterdam; miles available once the flight is reported (no return window), all
  of a member's miles expire after 24 months without activity.
- Earning: 5 miles per 1.00 of the fare (taxes and fees not counted).
- Status by qualifying flights (orders) in a calendar year, held through the next year: Blue (0),
  Silver (15 flights, x1.25 miles), Gold (30, x1.5, early access), Platinum (60, x2, early access, may
  gift Silver or Gold to a friend once a year for 12 months).
- Rewards: a cabin upgrade on one flight (free product CABIN-UPGRADE) for 5,000 miles, Silver and above;
  a lounge day pass (perk) for 3,000 miles, Silver and above; 50.00 off a fare for 10,000 miles.
- Shop: "Airline - Bookings".
"""

from decimal import Decimal as D

from rewards.recipes import Recipe, ShopSpec

RECIPE = Recipe(
    name="airline_status",
    title="Frequent flyer",
    summary="Miles per 1.00; status by flights per year, upgrades with miles, status gifting (EUR).",
    program={
        "currency": "EUR",
        "time_zone": "Europe/Amsterdam",
        "pending_days": 0,
        "expiry_policy": "inactivity",
        "expiry_period": 24,
    },
    shops=(ShopSpec("bookings", "Airline - Bookings", "web"),),
    earning_rules=({"name": "5 miles per 1.00 of the fare", "kind": "base_rate", "points": D(5), "amount": D(1)},),
    tiers=(
        {"name": "Blue", "rank": 0, "metric": "orders", "entry_threshold": D(0), "colour": "#1D4ED8"},
        {
            "name": "Silver",
            "rank": 1,
            "metric": "orders",
            "entry_threshold": D(15),
            "earning_multiplier": D("1.25"),
            "colour": "#A8A9AD",
        },
        {
            "name": "Gold",
            "rank": 2,
            "metric": "orders",
            "entry_threshold": D(30),
            "earning_multiplier": D("1.5"),
            "early_access": True,
            "colour": "#C9A227",
        },
        {
            "name": "Platinum",
            "rank": 3,
            "metric": "orders",
            "entry_threshold": D(60),
            "earning_multiplier": D(2),
            "early_access": True,
            "can_gift": True,
            "colour": "#4B5563",
        },
    ),
    rewards=(
        {
            "title": "Cabin upgrade",
            "kind": "free_product",
            "points": 5000,
            "sku": "CABIN-UPGRADE",
            "min_tier": "Silver",
            "coupon_valid_days": 365,
            "description": "An upgrade to the next cabin on one flight, when seats are free.",
        },
        {"title": "Lounge day pass", "kind": "perk", "points": 3000, "min_tier": "Silver"},
        {
            "title": "50.00 off a fare",
            "kind": "fixed_amount",
            "points": 10000,
            "value": D(50),
            "coupon_valid_days": 365,
        },
    ),
    gaps=(
        "Qualifying activity is counted as orders (one order per flight): every order of every shop counts, "
        "so partner purchases cannot be kept out of status, and there are no qualifying points separate "
        "from the miles.",
        "Status gifting exists as a service (rewards.services.tiers.tier_gift) but has no member page or API yet.",
        "Upgrades are reward coupons; complimentary upgrades for status members are not modelled.",
    ),
)
